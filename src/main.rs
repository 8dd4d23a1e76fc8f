//! The `vextra` command line. Everything it does lives in the library.

use std::{io::Read, net::SocketAddr, path::PathBuf, process::ExitCode, time::Instant};

use clap::{Args, Parser, Subcommand};
use vextra::config::{Config, Overrides};

#[derive(Parser)]
#[command(
    name = "vextra",
    version,
    about = "Self-hosted social media content hub"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// Configuration file (TOML); every key is optional.
    #[arg(long, env = "VEXTRA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (database, keys); overrides storage.data_dir.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on; overrides server.bind.
        #[arg(long, value_name = "ADDR")]
        bind: Option<SocketAddr>,
    },
    /// Administration that works on the data directory directly (server stopped).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an active account, e.g. the first administrator.
    CreateUser {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        email: String,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
}

fn load(common: &Common, bind: Option<SocketAddr>) -> Result<Config, String> {
    Config::load(
        common.config.as_deref(),
        std::env::vars(),
        &Overrides {
            bind,
            data_dir: common.data_dir.clone(),
        },
    )
    .map_err(|e| e.to_string())
}

fn runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        b.worker_threads(workers);
    }
    // Blocking work is sled flushes and argon2 (itself bounded by a semaphore).
    b.max_blocking_threads(16).enable_all().build()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version => {
            println!("vextra {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Serve { common, bind } => load(&common, bind).and_then(serve),
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    common,
                    email,
                    password_stdin: _,
                    admin,
                },
        } => load(&common, None).and_then(|c| create_user(c, &email, admin)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("vextra: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> Result<(), String> {
    let started = Instant::now();
    let _log = vextra::telemetry::init(&config.log);
    let rt = runtime(config.server.workers).map_err(|e| e.to_string())?;
    rt.block_on(async move {
        if config.smtp.host.is_empty() {
            tracing::warn!(
                "NO SMTP SERVER CONFIGURED: one-time codes (sign-up, password reset) are \
                 written to this log instead of being emailed. Set [smtp] host to send mail."
            );
        }
        let data_dir = config.storage.data_dir.clone();
        let running = vextra::server::start(config)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            addr = %running.addr,
            data_dir = %data_dir.display(),
            ready_ms = started.elapsed().as_millis() as u64,
            version = env!("CARGO_PKG_VERSION"),
            "ready"
        );
        vextra::server::shutdown_signal().await;
        tracing::info!("shutting down: draining requests");
        running.shutdown().await.map_err(|e| e.to_string())?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn create_user(config: Config, email: &str, admin: bool) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    let password = password.lines().next().unwrap_or("").to_string();
    let rt = runtime(1).map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let svc = vextra::server::open(config)
            .await
            .map_err(|e| e.to_string())?;
        let result = svc.create_user_direct(email, &password, admin).await;
        svc.store.close().await.map_err(|e| e.to_string())?;
        let user = result.map_err(|e| e.to_string())?;
        println!(
            "created {} account {} (id {})",
            if admin { "admin" } else { "user" },
            user.email,
            user.id
        );
        Ok(())
    })
}
