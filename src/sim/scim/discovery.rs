//! The discovery endpoints RFC 7644 §4 defines (`/ServiceProviderConfig`, `/Schemas`,
//! `/ResourceTypes`). They need no authentication, as Zscaler documents.

use serde_json::{Value, json};

use super::model::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use super::{Flavour, ScimRuntime};

/// Most operations one `/Bulk` request may carry.
pub(crate) const BULK_MAX_OPERATIONS: usize = 100;
/// Largest `/Bulk` payload in bytes.
pub(crate) const BULK_MAX_PAYLOAD: usize = 1_048_576;
/// Largest page a list returns.
pub(crate) const MAX_RESULTS: usize = 100;

const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// `/ServiceProviderConfig`: what this flavour supports, honestly reported.
pub(crate) fn service_provider_config(rt: &ScimRuntime, f: Flavour, location: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://help.zscaler.com/",
        "patch": { "supported": rt.patch_supported(f) },
        "bulk": {
            "supported": true,
            "maxOperations": BULK_MAX_OPERATIONS,
            "maxPayloadSize": BULK_MAX_PAYLOAD,
        },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with the SCIM bearer token generated in the admin portal",
            "primary": true,
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": location },
    })
}

fn attr(name: &str, ty: &str, required: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": ty, "multiValued": false, "required": required,
        "caseExact": false, "mutability": mutability, "returned": "default",
        "uniqueness": uniqueness,
    })
}

/// The schema definitions (a short but truthful attribute list each).
pub(crate) fn schemas() -> Vec<Value> {
    vec![
        json!({
            "id": USER_SCHEMA, "name": "User", "description": "User Account",
            "attributes": [
                attr("userName", "string", true, "readWrite", "server"),
                attr("externalId", "string", false, "readWrite", "none"),
                attr("displayName", "string", false, "readWrite", "none"),
                attr("active", "boolean", false, "readWrite", "none"),
                { "name": "name", "type": "complex", "multiValued": false, "required": false,
                  "mutability": "readWrite", "subAttributes": [
                    attr("givenName", "string", false, "readWrite", "none"),
                    attr("familyName", "string", false, "readWrite", "none"),
                    attr("formatted", "string", false, "readWrite", "none")] },
                { "name": "emails", "type": "complex", "multiValued": true, "required": false,
                  "mutability": "readWrite", "subAttributes": [
                    attr("value", "string", false, "readWrite", "none"),
                    attr("primary", "boolean", false, "readWrite", "none")] },
                { "name": "groups", "type": "complex", "multiValued": true, "required": false,
                  "mutability": "readOnly", "subAttributes": [
                    attr("value", "string", false, "readOnly", "none"),
                    attr("display", "string", false, "readOnly", "none")] },
            ],
            "meta": { "resourceType": "Schema" },
        }),
        json!({
            "id": GROUP_SCHEMA, "name": "Group", "description": "Group",
            "attributes": [
                attr("displayName", "string", true, "readWrite", "none"),
                attr("externalId", "string", false, "readWrite", "none"),
                { "name": "members", "type": "complex", "multiValued": true, "required": false,
                  "mutability": "readWrite", "subAttributes": [
                    attr("value", "string", false, "immutable", "none"),
                    attr("display", "string", false, "readOnly", "none")] },
            ],
            "meta": { "resourceType": "Schema" },
        }),
        json!({
            "id": ENTERPRISE_SCHEMA, "name": "EnterpriseUser", "description": "Enterprise User",
            "attributes": [attr("department", "string", false, "readWrite", "none")],
            "meta": { "resourceType": "Schema" },
        }),
    ]
}

/// The resource types.
pub(crate) fn resource_types() -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "schema": USER_SCHEMA,
            "schemaExtensions": [{ "schema": ENTERPRISE_SCHEMA, "required": false }],
            "meta": { "resourceType": "ResourceType" },
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "schema": GROUP_SCHEMA,
            "meta": { "resourceType": "ResourceType" },
        }),
    ]
}

/// A ListResponse of every item (for the discovery lists, which are not paged).
pub(crate) fn list_all(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

/// A ListResponse page.
pub(crate) fn list_page(total: usize, start: usize, items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}
