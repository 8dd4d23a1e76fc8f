//! The one mapping from errors to HTTP. Service errors become `ApiError` (declared on every
//! operation, so the spec lists every status an operation can answer); errors raised by
//! the framework itself (bad JSON, wrong types, missing token, unknown route) are turned
//! into the same `{"detail": "..."}` body by `normalize`.

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{StatusCode, header},
};
use poem_openapi::{ApiResponse, Object, payload::Json};

use crate::service::Error;

#[derive(Object, Debug, Clone)]
pub struct Detail {
    /// A human-readable message; the app shows it as it is.
    pub detail: String,
}

fn detail(s: impl Into<String>) -> Json<Detail> {
    Json(Detail { detail: s.into() })
}

#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// The request was refused by a rule (wrong password, wrong code, …).
    #[oai(status = 400)]
    BadRequest(Json<Detail>),
    /// Missing, malformed, expired or revoked credentials.
    #[oai(status = 401)]
    Unauthorized(Json<Detail>),
    #[oai(status = 403)]
    Forbidden(Json<Detail>),
    #[oai(status = 404)]
    NotFound(Json<Detail>),
    #[oai(status = 409)]
    Conflict(Json<Detail>),
    #[oai(status = 413)]
    PayloadTooLarge(Json<Detail>),
    /// The body is not in the operation's media type (JSON, form or multipart).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<Detail>),
    /// The body or a parameter is malformed, of the wrong type or out of range.
    #[oai(status = 422)]
    Unprocessable(Json<Detail>),
    /// Too many attempts; `Retry-After` says when to try again (seconds).
    #[oai(status = 429)]
    TooManyRequests(Json<Detail>, #[oai(header = "Retry-After")] u64),
    #[oai(status = 500)]
    Internal(Json<Detail>),
    /// A dependency such as the mail server is unavailable.
    #[oai(status = 503)]
    Unavailable(Json<Detail>),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadRequest(m) => ApiError::BadRequest(detail(m)),
            Error::Unauthorized(m) => ApiError::Unauthorized(detail(m)),
            Error::Forbidden(m) => ApiError::Forbidden(detail(m)),
            Error::NotFound(m) => ApiError::NotFound(detail(m)),
            Error::Conflict(m) => ApiError::Conflict(detail(m)),
            Error::TooLarge(m) => ApiError::PayloadTooLarge(detail(m)),
            Error::Invalid(m) => ApiError::Unprocessable(detail(m)),
            Error::RateLimited {
                detail: m,
                retry_after_secs,
            } => ApiError::TooManyRequests(detail(m), retry_after_secs),
            Error::Unavailable(m) => ApiError::Unavailable(detail(m)),
            Error::Internal(cause) => {
                // The cause is for the operator; the request id ties it to the client's report.
                tracing::error!(error = %cause, "internal error");
                ApiError::Internal(detail("Internal server error"))
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Any error response as `{"detail": "..."}` with the right status.
pub fn error_response(status: StatusCode, msg: impl Into<String>) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(
            serde_json::json!({ "detail": msg.into() })
                .to_string()
                .into_bytes(),
        )
}

/// Maps a framework error to the status and message a client can act on.
fn from_framework(err: poem::Error) -> Response {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseMultipartError, ParseParamError,
        ParseRequestPayloadError,
    };
    if err.is::<ParseRequestPayloadError>()
        || err.is::<ParseParamError>()
        || err.is::<ParseMultipartError>()
        || err.is::<poem::error::ParseFormError>()
        || err.is::<poem::error::ParseJsonError>()
    {
        return error_response(StatusCode::UNPROCESSABLE_ENTITY, clean(&err.to_string()));
    }
    if err.is::<ContentTypeError>() {
        return error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, clean(&err.to_string()));
    }
    if err.is::<AuthorizationError>() {
        return error_response(StatusCode::UNAUTHORIZED, "Not authenticated");
    }
    if err.is::<poem::error::ReadBodyError>() {
        let status = err.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return error_response(status, "Request body too large");
        }
        return error_response(StatusCode::BAD_REQUEST, "Could not read the request body");
    }
    let status = err.status();
    let resp = err.into_response();
    if is_json(&resp) {
        return resp;
    }
    let msg = match status {
        StatusCode::NOT_FOUND => "Not Found".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed".to_string(),
        s if s.is_server_error() => "Internal server error".to_string(),
        s => s.canonical_reason().unwrap_or("Error").to_string(),
    };
    let mut out = error_response(status, msg);
    for (name, value) in resp.headers() {
        if name == header::ALLOW || name == header::RETRY_AFTER {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// poem-openapi's messages name the Rust type ("failed to parse \"SignupIn\""); keep the
/// part a client can use.
fn clean(msg: &str) -> String {
    let msg = msg
        .strip_prefix("parse request payload error: ")
        .unwrap_or(msg);
    msg.replace("failed to parse ", "invalid ")
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// Outermost error layer: whatever went wrong below, the client gets a JSON `detail`
/// (and a 405 its `Allow` header).
pub async fn normalize<E: Endpoint>(
    next: E,
    req: Request,
    allow: std::sync::Arc<super::allow::AllowTable>,
) -> poem::Result<Response> {
    let path = req.uri().path().to_string();
    let mut resp = match next.call(req).await {
        Ok(resp) => {
            let resp = resp.into_response();
            let status = resp.status();
            if (status.is_client_error() || status.is_server_error()) && !is_json(&resp) {
                from_framework(poem::Error::from_status(status))
            } else {
                resp
            }
        }
        Err(err) => from_framework(err),
    };
    let methods = (resp.status() == StatusCode::METHOD_NOT_ALLOWED)
        .then(|| allow.allow(&path))
        .flatten()
        .and_then(|m| header::HeaderValue::from_str(m).ok());
    if let Some(v) = methods {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    Ok(resp)
}
