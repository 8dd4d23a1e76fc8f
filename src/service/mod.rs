//! Use cases, one module per area. Services take and return plain Rust values and the
//! records of `model`; they never see HTTP types, so they can be driven without a server.

pub mod auth;
pub mod error;
pub mod mail;
pub mod password;
pub mod ratelimit;
pub mod tokens;
pub mod users;
pub mod validate;

use std::sync::Arc;

use crate::{config::Config, secrets::Keys, store::Store};

pub use error::{Error, Result};

/// Everything a use case may need, built once at start-up.
pub struct Services {
    pub store: Store,
    pub config: Arc<Config>,
    pub(crate) keys: Keys,
    pub(crate) tokens: tokens::Tokens,
    pub(crate) hasher: password::Hasher,
    pub(crate) mailer: mail::Mailer,
    pub(crate) limiter: ratelimit::RateLimiter,
}

impl Services {
    pub fn new(store: Store, config: Arc<Config>, keys: Keys) -> Result<Self> {
        Ok(Services {
            tokens: tokens::Tokens::new(&keys.jwt),
            hasher: password::Hasher::new(config.auth.hash_concurrency),
            mailer: mail::Mailer::from_config(&config.smtp)?,
            limiter: ratelimit::RateLimiter::default(),
            store,
            config,
            keys,
        })
    }

    /// Periodic clean-up: expired codes and sessions, idle rate-limit buckets.
    pub async fn janitor_tick(&self) -> Result<usize> {
        self.limiter.prune();
        Ok(self.store.purge_expired(crate::time::now()).await?)
    }

    fn rate_limit(&self, kind: &str, key: &str, per_minute: u32) -> Result<()> {
        self.limiter
            .check(format!("{kind} {}", key.to_lowercase()), per_minute)
            .map_err(|secs| Error::RateLimited {
                detail: format!("Too many attempts. Try again in {secs} seconds."),
                retry_after_secs: secs,
            })
    }
}
