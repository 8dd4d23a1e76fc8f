//! The sled store: typed trees opened once, one place for key and value encoding, and
//! domain-level methods. No sled type leaves this module, which is what lets another
//! backend replace it later.
//!
//! Reads are plain method calls: sled serves them from its page cache in microseconds, so
//! they run on the async workers directly. Writes are sled transactions when they span
//! trees, and every mutating method waits for a (shared) flush before returning.

mod auth;
mod flush;
pub mod keys;
mod migrate;
mod settings;
mod users;

use std::{path::Path, sync::Arc};

use serde::{Serialize, de::DeserializeOwned};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use tokio::sync::watch;

pub use auth::{OtpEffect, OtpOutcome, RotateOutcome};
pub use users::UserPatch;

use flush::Flusher;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (email, username, …) is already taken.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    #[error("the data directory is in use by another Vextra process")]
    Locked,
    #[error("corrupt record in tree {tree}: {msg}")]
    Corrupt { tree: &'static str, msg: String },
    #[error("storage error: {0}")]
    Io(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io)
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("lock") =>
            {
                StoreError::Locked
            }
            other => StoreError::Io(other.to_string()),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    t: Trees,
    flusher: Arc<Flusher>,
    stop: watch::Sender<bool>,
    flusher_task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Tree names say what maps to what.
pub(crate) struct Trees {
    pub users: sled::Tree,             // user id → User
    pub users_by_email: sled::Tree,    // folded email → user id
    pub users_by_username: sled::Tree, // folded username → user id
    pub otps: sled::Tree,              // purpose tag | folded email → Otp
    /// Tree `refresh_tokens`: user id | session id → Session, one record per login with
    /// the hash of its current refresh token and of the spent ones.
    pub sessions: sled::Tree,
    pub settings: sled::Tree, // user id → Settings
    pub meta: sled::Tree,     // name → value
}

impl Store {
    /// Opens (creating if needed) the database in `dir` and starts its flusher. Must be
    /// called inside a tokio runtime. `cache_mb` bounds sled's page cache.
    pub async fn open(dir: &Path, cache_mb: u64) -> Result<Store> {
        let dir = dir.to_path_buf();
        let (db, t) = tokio::task::spawn_blocking(move || -> Result<_> {
            let db = sled::Config::new()
                .path(&dir)
                .cache_capacity(cache_mb * 1024 * 1024)
                // The flusher makes acknowledged writes durable; this only bounds what an
                // unacknowledged write can lose.
                .flush_every_ms(Some(1000))
                .open()?;
            let t = Trees {
                users: db.open_tree("users")?,
                users_by_email: db.open_tree("users_by_email")?,
                users_by_username: db.open_tree("users_by_username")?,
                otps: db.open_tree("otps")?,
                sessions: db.open_tree("refresh_tokens")?,
                settings: db.open_tree("settings")?,
                meta: db.open_tree("meta")?,
            };
            migrate::run(&db, &t)?;
            Ok((db, t))
        })
        .await
        .map_err(|e| StoreError::Io(e.to_string()))??;
        let flusher = Flusher::new();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(flusher.clone().run(db.clone(), stop_rx));
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                t,
                flusher,
                stop,
                flusher_task: std::sync::Mutex::new(Some(task)),
            }),
        })
    }

    pub(crate) fn t(&self) -> &Trees {
        &self.inner.t
    }

    /// A fresh id: unique across restarts and increasing, starting at 1. The app keeps ids
    /// in doubles on some paths, so they must stay below 2^53 (sled's counter would need
    /// centuries of continuous writes to get there).
    pub(crate) fn new_id(&self) -> Result<u64> {
        Ok(self.inner.db.generate_id()? + 1)
    }

    pub(crate) async fn durable(&self) -> Result<()> {
        self.inner.flusher.durable().await
    }

    /// Number of flushes so far (for the readiness page and tests of the coalescing).
    pub fn flush_count(&self) -> u64 {
        self.inner.flusher.flush_count()
    }

    /// True while the flusher runs; `/readyz` reports it.
    pub fn is_running(&self) -> bool {
        self.inner
            .flusher_task
            .lock()
            .map(|t| t.as_ref().is_some_and(|h| !h.is_finished()))
            .unwrap_or(false)
    }

    pub fn schema_version(&self) -> Result<u32> {
        migrate::version(&self.inner.t.meta)
    }

    /// Stops the flusher after a last flush. Later writes fail; reads still work.
    pub async fn close(&self) -> Result<()> {
        let _ = self.inner.stop.send(true);
        let task = self
            .inner
            .flusher_task
            .lock()
            .ok()
            .and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
        let db = self.inner.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Io(e.to_string()))??;
        Ok(())
    }
}

pub(crate) fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising plain records to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(v).unwrap_or_default()
}

pub(crate) fn dec<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree,
        msg: e.to_string(),
    })
}

/// Runs a sled transaction whose closure aborts with a `StoreError`.
pub(crate) fn tx_result<T>(r: Result<T, TransactionError<StoreError>>) -> Result<T> {
    match r {
        Ok(v) => Ok(v),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(e.into()),
    }
}

pub(crate) fn abort<T>(e: StoreError) -> Result<T, ConflictableTransactionError<StoreError>> {
    Err(ConflictableTransactionError::Abort(e))
}

pub(crate) fn dec_tx<T: DeserializeOwned>(
    tree: &'static str,
    bytes: &[u8],
) -> Result<T, ConflictableTransactionError<StoreError>> {
    dec(tree, bytes).map_err(ConflictableTransactionError::Abort)
}
