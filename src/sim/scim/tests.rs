//! HTTP-level tests of the SCIM endpoints.
