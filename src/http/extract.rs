//! Request-side helpers: the bearer authentication every protected operation takes as an
//! argument, and the client address used for rate limits.

use std::{net::IpAddr, sync::Arc};

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use super::error::ApiError;
use crate::service::{Services, auth::AuthUser};

/// An authenticated caller. Missing, malformed, expired or revoked tokens are 401.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct Auth(pub AuthUser);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<AuthUser> {
    let svc = services(req)?;
    svc.authenticate(&bearer.token)
        .map_err(|e| poem::Error::from(ApiError::from(e)))
}

pub fn services(req: &Request) -> poem::Result<&Arc<Services>> {
    req.data::<Arc<Services>>().ok_or_else(|| {
        poem::Error::from_string(
            "services missing from request data",
            poem::http::StatusCode::INTERNAL_SERVER_ERROR,
        )
    })
}

/// The peer address, or the first `X-Forwarded-For` entry when the server is configured
/// to sit behind a trusted proxy (otherwise clients could pick their own rate-limit key).
pub fn client_ip(req: &Request, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    match req.remote_addr().as_socket_addr() {
        Some(a) => a.ip().to_string(),
        None => req.remote_addr().to_string(),
    }
}
