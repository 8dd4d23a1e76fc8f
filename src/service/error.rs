//! The one error type of the service layer. Each variant is a class of outcome the client
//! can act on; the HTTP layer maps them to statuses once (http/error.rs). `Internal`
//! carries the cause for the log only: clients see a fixed message.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A business rule said no (wrong password, wrong code, …): 400.
    #[error("{0}")]
    BadRequest(String),
    /// No usable credentials: 401 (the app logs out).
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// The input is malformed or out of range: 422.
    #[error("{0}")]
    Invalid(String),
    #[error("{detail}")]
    RateLimited {
        detail: String,
        retry_after_secs: u64,
    },
    /// A dependency (mail server, …) is down; trying later may work: 503.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound("Not found".into()),
            StoreError::Conflict(what) => Error::Conflict(format!("This {what} is already taken")),
            other => Error::Internal(other.to_string()),
        }
    }
}

pub fn bad(msg: impl Into<String>) -> Error {
    Error::BadRequest(msg.into())
}

pub fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}
