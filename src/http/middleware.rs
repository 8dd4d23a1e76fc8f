//! Cross-cutting layers: request ids with a tracing span per request, and the body limit.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use poem::{
    Body, Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use tracing::Instrument;

use super::error::error_response;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Reuses a sane incoming `X-Request-Id` (from a proxy), otherwise makes one, puts it on
/// the response and on every log line of the request.
pub async fn request_context<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "{:x}-{:x}",
                boot_tag(),
                NEXT_ID.fetch_add(1, Ordering::Relaxed)
            )
        });
    // The path only: query strings can carry tokens (the WebSocket URLs do).
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path()
    );
    async move {
        let start = Instant::now();
        let mut resp = match next.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        let status = resp.status().as_u16();
        let micros = start.elapsed().as_micros() as u64;
        if status >= 500 {
            tracing::warn!(status, micros, "request");
        } else {
            tracing::info!(status, micros, "request");
        }
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}

/// A per-process tag so ids from two runs do not collide in the logs.
fn boot_tag() -> u32 {
    static TAG: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *TAG.get_or_init(|| u32::from_be_bytes(crate::secrets::random_bytes::<4>()) & 0xfffff)
}

/// Refuses bodies over `limit` bytes with 413 before they are read into memory: by
/// `Content-Length` when given, while reading otherwise (chunked uploads).
pub async fn body_limit<E: Endpoint>(
    next: E,
    mut req: Request,
    limit: usize,
) -> poem::Result<Response> {
    let too_large = || error_response(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().parse::<u64>());
    match declared {
        Some(Ok(n)) if n > limit as u64 => return Ok(too_large()),
        Some(Ok(_)) => {}
        Some(Err(_)) => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                "Invalid Content-Length header",
            ));
        }
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
            let body = req.take_body();
            match body.into_bytes_limit(limit).await {
                Ok(bytes) => req.set_body(Body::from_bytes(bytes)),
                Err(poem::error::ReadBodyError::PayloadTooLarge) => return Ok(too_large()),
                Err(_) => {
                    return Ok(error_response(
                        StatusCode::BAD_REQUEST,
                        "Could not read the request body",
                    ));
                }
            }
        }
        None => {}
    }
    next.call(req).await.map(IntoResponse::into_response)
}
