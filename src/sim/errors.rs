//! Errors of the simulator: [`SimError`] for the Rust API (starting the server) and
//! [`ApiError`] for HTTP answers in the ZIA error shape `{"code": "...", "message": "..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the simulator could not start. Returned by [`crate::sim::Sim::start`] so callers (the CLI,
/// tests, the embedded demo tenant) can report a clear reason instead of a panic.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be bound (port in use, no permission, bad address).
    #[error("cannot bind the simulator to {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket did not report its local address (needed to tell callers the port).
    #[error("cannot read the simulator's local address: {0}")]
    LocalAddr(#[source] std::io::Error),
    /// The options cannot describe a working tenant (for example an API key that is not 12
    /// characters long, which the ZIA obfuscation algorithm needs).
    #[error("invalid simulator options: {0}")]
    InvalidOptions(String),
    /// The state file (`SimOptions::state_file`) could not be read, parsed or written.
    #[error("simulator state file: {0}")]
    State(String),
}

/// Error codes the simulated ZIA API answers with; the wire spelling is the real tenant's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    AuthenticationFailed,
    SessionNotValid,
    ResourceNotFound,
    InvalidInputArgument,
    DuplicateItem,
    UnsupportedMediaType,
    InvalidOperation,
    EditLockNotAvailable,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::AuthenticationFailed => "AUTHENTICATION_FAILED",
            Code::SessionNotValid => "SESSION_NOT_VALID",
            Code::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Code::InvalidInputArgument => "INVALID_INPUT_ARGUMENT",
            Code::DuplicateItem => "DUPLICATE_ITEM",
            Code::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Code::InvalidOperation => "INVALID_OPERATION",
            Code::EditLockNotAvailable => "EDIT_LOCK_NOT_AVAILABLE",
        }
    }
}

/// One failed API call: HTTP status plus the ZIA `{code, message}` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 INVALID_INPUT_ARGUMENT: the request is malformed or fails validation.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::InvalidInputArgument, message)
    }

    /// 404 RESOURCE_NOT_FOUND.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Code::ResourceNotFound, message)
    }

    /// 401 SESSION_NOT_VALID: no cookie, unknown cookie or an expired session.
    pub fn session_not_valid() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            Code::SessionNotValid,
            "Session is not valid or has expired; authenticate again",
        )
    }

    /// 401 AUTHENTICATION_FAILED, deliberately without saying which credential was wrong.
    pub fn authentication_failed() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            Code::AuthenticationFailed,
            "Authentication failed: invalid credentials",
        )
    }

    /// 409 EDIT_LOCK_NOT_AVAILABLE: another admin session holds the tenant-wide edit lock
    /// (it has staged writes not yet activated). Transient: the client should retry later.
    pub fn edit_lock_not_available() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            Code::EditLockNotAvailable,
            "Another admin session is editing the configuration; retry after it activates or ends",
        )
    }

    /// 409 DUPLICATE_ITEM.
    pub fn duplicate(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Code::DuplicateItem, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "code": self.code.as_str(), "message": self.message });
        (self.status, Json(body)).into_response()
    }
}
