//! HTTP: parse, authenticate, authorize, map errors. Handlers call services and never
//! touch the store. `router` is the one place where every route and layer is assembled.

pub mod allow;
pub mod auth;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod system;
pub mod types;
pub mod users;
pub mod views;

use std::sync::Arc;

use poem::{
    Endpoint, EndpointExt, Route, get,
    middleware::{CatchPanic, Cors, NormalizePath, TrailingSlash},
};
use poem_openapi::{OpenApiService, Tags};

use crate::{server::Health, service::Services};

#[derive(Tags)]
pub enum ApiTags {
    /// Accounts and credentials
    Auth,
    /// The caller's profile and devices
    Users,
    /// The caller's settings and account deletion
    Settings,
}

pub const API_PREFIX: &str = "/api/v1";
pub const SPEC_PATH: &str = "/api/v1/openapi.json";

pub fn api_service(svc: &Arc<Services>) -> OpenApiService<(auth::AuthApi, users::UsersApi), ()> {
    OpenApiService::new(
        (
            auth::AuthApi { svc: svc.clone() },
            users::UsersApi { svc: svc.clone() },
        ),
        "Vextra API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Self-hosted social media content hub. Every error body is `{\"detail\": \"...\"}`.",
    )
    .server(API_PREFIX)
}

/// The whole HTTP surface.
pub fn router(svc: Arc<Services>, health: Arc<Health>) -> impl Endpoint + 'static {
    let cfg = &svc.config.server;
    let api = api_service(&svc);
    let spec = api.spec_endpoint();
    let only_get = [poem::http::Method::GET];
    let allow = Arc::new(allow::AllowTable::new(
        &api.spec(),
        API_PREFIX,
        &[
            ("/", &only_get),
            ("/healthz", &only_get),
            ("/readyz", &only_get),
            ("/docs", &only_get),
            (SPEC_PATH, &only_get),
        ],
    ));
    let swagger = Arc::new(utoipa_swagger_ui::Config::from(SPEC_PATH));
    let limit = cfg.body_limit;

    // No origins configured: no CORS layer, browsers stay same-origin. `*` adds no origin,
    // which poem's Cors takes as "any".
    let cors_enabled = !cfg.cors_origins.is_empty();
    let cors = cfg.cors_origins.iter().filter(|o| *o != "*").fold(
        Cors::new()
            .allow_credentials(false)
            .allow_headers(["authorization", "content-type", "x-request-id"])
            .expose_headers(["x-request-id", "retry-after"])
            .max_age(3600),
        |c, origin| c.allow_origin(origin.as_str()),
    );

    let routes = Route::new()
        .nest(API_PREFIX, api)
        .at(SPEC_PATH, spec)
        .at("/", get(system::welcome))
        .at("/healthz", get(system::healthz))
        .at("/readyz", get(system::readyz).data(health))
        .at("/docs", get(system::docs_redirect))
        .at("/docs/*path", get(system::docs).data(swagger));

    routes
        // The app uses some paths with a trailing slash (`/upload/`, `/publish/`) and some
        // without; both spellings are served, never redirected (a redirected POST fails).
        .with(NormalizePath::new(TrailingSlash::Trim))
        .around(move |ep, req| middleware::body_limit(ep, req, limit))
        .with(CatchPanic::new())
        .around(move |ep, req| error::normalize(ep, req, allow.clone()))
        .with_if(cors_enabled, cors)
        .data(svc)
        .around(middleware::request_context)
}
