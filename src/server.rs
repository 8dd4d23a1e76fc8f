//! Process lifecycle: open the data directory, the store and the services, start the
//! background tasks and the HTTP server, and shut all of it down in order.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use poem::listener::{Acceptor, Listener, TcpListener};
use serde::Serialize;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    config::Config,
    secrets,
    service::Services,
    store::{Store, StoreError},
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the data directory {0} is in use by another Vextra process (a running server?); \
         stop it first or point --data-dir elsewhere"
    )]
    Locked(PathBuf),
    #[error("store: {0}")]
    Store(StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Service(String),
}

/// What `/readyz` reports.
pub struct Health {
    store: Store,
    janitor: AtomicBool,
    started: Instant,
}

#[derive(Serialize)]
pub struct HealthReport {
    pub ready: bool,
    pub store: bool,
    pub janitor: bool,
    pub schema_version: u32,
    pub uptime_secs: u64,
}

impl Health {
    pub fn report(&self) -> HealthReport {
        let store = self.store.is_running();
        let janitor = self.janitor.load(Ordering::Relaxed);
        HealthReport {
            ready: store && janitor,
            store,
            janitor,
            schema_version: self.store.schema_version().unwrap_or(0),
            uptime_secs: self.started.elapsed().as_secs(),
        }
    }
}

/// Opens the data directory and the store and builds the services, for `serve` and for
/// the offline commands alike.
pub async fn open(config: Config) -> Result<Arc<Services>, StartError> {
    let dir = config.storage.data_dir.clone();
    let io = |source| StartError::DataDir {
        path: dir.clone(),
        source,
    };
    secrets::prepare_data_dir(&dir).map_err(io)?;
    let keys = secrets::load_or_generate(
        &dir,
        config.auth.jwt_secret.expose(),
        config.auth.token_encryption_key.expose(),
    )
    .map_err(io)?;
    let store = Store::open(&dir.join("db"), config.storage.cache_mb)
        .await
        .map_err(|e| match e {
            StoreError::Locked => StartError::Locked(dir.clone()),
            e => StartError::Store(e),
        })?;
    let svc = Services::new(store, Arc::new(config), keys)
        .map_err(|e| StartError::Service(e.to_string()))?;
    Ok(Arc::new(svc))
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub services: Arc<Services>,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    janitor: JoinHandle<()>,
}

/// Janitor period: expired codes live at most this long past their expiry.
const JANITOR_EVERY: Duration = Duration::from_secs(60);

pub async fn start(config: Config) -> Result<Running, StartError> {
    let bind = config.server.bind;
    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let svc = open(config).await?;
    let (stop, stop_rx) = watch::channel(false);

    let health = Arc::new(Health {
        store: svc.store.clone(),
        janitor: AtomicBool::new(true),
        started: Instant::now(),
    });
    let janitor = tokio::spawn(janitor(svc.clone(), health.clone(), stop_rx.clone()));

    let acceptor = TcpListener::bind(bind)
        .into_acceptor()
        .await
        .map_err(|source| StartError::Bind { addr: bind, source })?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .unwrap_or(bind);

    let app = crate::http::router(svc.clone(), health);
    let mut stop_http = stop_rx;
    let server = tokio::spawn(
        poem::Server::new_with_acceptor(acceptor)
            .name("vextra")
            .idle_timeout(Duration::from_secs(75))
            .run_with_graceful_shutdown(
                app,
                async move {
                    let _ = stop_http.wait_for(|s| *s).await;
                },
                Some(grace),
            ),
    );
    Ok(Running {
        addr,
        services: svc,
        stop,
        server,
        janitor,
    })
}

async fn janitor(svc: Arc<Services>, health: Arc<Health>, mut stop: watch::Receiver<bool>) {
    // Readiness drops however the loop ends, a panic included.
    struct Alive(Arc<Health>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.janitor.store(false, Ordering::Relaxed);
        }
    }
    let _alive = Alive(health);
    let mut tick = tokio::time::interval(JANITOR_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        match svc.janitor_tick().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "janitor"),
            Err(e) => tracing::warn!(error = %e, "janitor"),
        }
    }
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (up to the configured grace
    /// period), stops the background tasks and flushes the store.
    pub async fn shutdown(self) -> Result<(), StoreError> {
        let _ = self.stop.send(true);
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "http server"),
            Err(e) => tracing::warn!(error = %e, "http server task"),
        }
        let _ = self.janitor.await;
        self.services.store.close().await
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
