//! Vextra: a self-hosted social media content hub in one binary.
//!
//! Layers, one direction only: `http` (poem) → `service` (use cases) → `store` (sled).

pub mod config;
pub mod http;
pub mod model;
pub mod secrets;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod time;
