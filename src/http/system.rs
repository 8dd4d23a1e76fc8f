//! Routes outside the API contract: the welcome document, liveness, readiness and the
//! Swagger UI (served from the binary; no CDN at run time).

use std::sync::Arc;

use poem::{
    IntoResponse, Response, handler,
    http::{StatusCode, header},
    web::{Data, Json, Path},
};

use crate::server::Health;

#[handler]
pub fn welcome() -> Json<serde_json::Value> {
    Json(serde_json::json!({"message": "Welcome to Vextra API", "status": "active"}))
}

/// Alive: the process answers.
#[handler]
pub fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Ready: the store is open and every background task is running.
#[handler]
pub fn readyz(health: Data<&Arc<Health>>) -> Response {
    let report = health.report();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::to_value(&report).unwrap_or_default()),
    )
        .into_response()
}

#[handler]
pub fn docs_redirect() -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, "/docs/index.html")
        .finish()
}

#[handler]
pub fn docs(
    Path(tail): Path<String>,
    cfg: Data<&Arc<utoipa_swagger_ui::Config<'static>>>,
) -> Response {
    match utoipa_swagger_ui::serve(&tail, cfg.0.clone()) {
        Ok(Some(f)) => {
            let mut r = Response::builder()
                .content_type(f.content_type)
                .header(header::CACHE_CONTROL, "public, max-age=3600");
            if f.gzpipped {
                r = r.header(header::CONTENT_ENCODING, "gzip");
            }
            r.body(f.bytes.to_vec())
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "swagger ui");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
