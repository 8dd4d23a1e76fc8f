//! Load and start-up figures for issue notes: `cargo bench --bench load`.
//!
//! Everything runs on 127.0.0.1. The real release binary is started as its own process
//! (default configuration, info logging to a pipe) and so is a bare poem server answering
//! a constant (this same program re-executed with VEXTRA_BARE_SERVER=1, same runtime
//! settings), and both are driven by the same load generator: LOAD_CONNS keep-alive
//! connections (default 64) for LOAD_SECS seconds each (default 10), twice, alternating.
//!
//! Also measured: start-to-ready on an empty data directory and with 100k users, idle
//! resident memory after start, and the size of the binary.

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_vextra");
const PASSWORD: &str = "load test password";

fn main() {
    if std::env::var_os("VEXTRA_BARE_SERVER").is_some() {
        return bare_server();
    }
    let secs: u64 = env_or("LOAD_SECS", 10);
    let conns: usize = env_or("LOAD_CONNS", 64);
    let users: u64 = env_or("LOAD_USERS", 100_000);

    let size = std::fs::metadata(BIN).map(|m| m.len()).unwrap_or(0);
    println!("binary: {BIN} ({:.1} MiB)", size as f64 / 1048576.0);

    // Start-up on an empty data directory.
    let mut readies = Vec::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Server::start(&dir.path().join("data"));
        readies.push(s.ready);
        s.stop();
    }
    readies.sort();
    println!(
        "start to ready, empty data dir (5 runs): median {:?}, max {:?}",
        readies[2], readies[4]
    );

    // The load run: one account made with the admin command, logged in over HTTP.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut admin = Command::new(BIN)
        .args([
            "admin",
            "create-user",
            "--email",
            "load@example.com",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    admin
        .stdin
        .take()
        .unwrap()
        .write_all(PASSWORD.as_bytes())
        .unwrap();
    assert!(admin.wait().unwrap().success());
    let mut server = Server::start(&data);
    std::thread::sleep(Duration::from_secs(2));
    println!("idle RSS 2 s after ready: {:.1} MiB", server.rss_mib());
    let mut bare = Bare::start();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let token = login(&server.addr).await;
        let me = format!("http://{}/api/v1/auth/me", server.addr);
        let constant = format!("http://{}/", bare.addr);
        println!("\n{conns} connections, {secs} s per run\n");
        println!(
            "{:<28} {:>10} {:>9} {:>9} {:>9}",
            "target", "req/s", "p50 ms", "p99 ms", "errors"
        );
        for round in 1..=2 {
            let b = drive(&constant, None, conns, secs).await;
            b.print(&format!("bare poem constant #{round}"));
            let m = drive(&me, Some(&token), conns, secs).await;
            m.print(&format!("GET /auth/me #{round}"));
            println!(
                "{:<28} {:>10.2}",
                format!("ratio me/bare #{round}"),
                m.rps() / b.rps()
            );
        }
    });
    println!("\nRSS after load: {:.1} MiB", server.rss_mib());
    bare.child.kill().ok();
    server.stop();

    // Start-up with many users.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = Instant::now();
    rt.block_on(populate(&data, users));
    println!("\npopulated {users} users in {:?}", t.elapsed());
    let mut readies = Vec::new();
    for _ in 0..3 {
        let mut s = Server::start(&data);
        readies.push(s.ready);
        if readies.len() == 1 {
            std::thread::sleep(Duration::from_secs(2));
            println!("idle RSS with {users} users: {:.1} MiB", s.rss_mib());
        }
        s.stop();
    }
    readies.sort();
    println!(
        "start to ready with {users} users (3 runs): median {:?}, max {:?}",
        readies[1], readies[2]
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    child: Child,
    addr: String,
    /// From spawn to the "ready" log line.
    ready: Duration,
}

impl Server {
    fn start(data: &Path) -> Server {
        let started = Instant::now();
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("VEXTRA_LOG__FORMAT", "json")
            .env("VEXTRA_RATE_LIMIT__LOGIN_PER_IP", "100000")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("server exited before ready").unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["message"] == "ready" {
                break v["addr"].as_str().unwrap().to_string();
            }
        };
        let ready = started.elapsed();
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr, ready }
    }

    fn rss_mib(&self) -> f64 {
        rss_kib(self.child.id()) as f64 / 1024.0
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct Bare {
    child: Child,
    addr: String,
}

impl Bare {
    fn start() -> Bare {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("VEXTRA_BARE_SERVER", "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Bare {
            child,
            addr: line.trim().to_string(),
        }
    }
}

/// The reference: poem with the same runtime settings as `vextra serve`, one route
/// answering a constant JSON body.
fn bare_server() {
    use poem::{
        Route, get, handler,
        listener::{Acceptor, Listener, TcpListener},
    };
    #[handler]
    fn constant() -> poem::web::Json<serde_json::Value> {
        poem::web::Json(serde_json::json!({"status": "ok"}))
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        println!("{addr}");
        poem::Server::new_with_acceptor(acceptor)
            .run(Route::new().at("/", get(constant)))
            .await
            .unwrap();
    });
}

async fn login(addr: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/auth/login/access-token"))
        .form(&[("username", "load@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "login: {}", r.status());
    let v: serde_json::Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

struct Stats {
    latencies_us: Vec<u32>,
    errors: u64,
    elapsed: Duration,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }

    fn print(&self, name: &str) {
        println!(
            "{:<28} {:>10.0} {:>9.2} {:>9.2} {:>9}",
            name,
            self.rps(),
            self.pct(0.50),
            self.pct(0.99),
            self.errors
        );
    }
}

/// `conns` connections, each sending its next request when the previous answer is in.
async fn drive(url: &str, token: Option<&str>, conns: usize, secs: u64) -> Stats {
    let warmup = Duration::from_secs(1);
    let run = Duration::from_secs(secs);
    let start = Instant::now() + warmup;
    let end = start + run;
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let url = url.to_string();
        let auth = token.map(|t| format!("Bearer {t}"));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let mut req = client.get(&url);
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                let ok = match req.send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if t0 >= start {
                    if ok {
                        lat.push(t0.elapsed().as_micros() as u32);
                    } else {
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    all.sort_unstable();
    Stats {
        latencies_us: all,
        errors,
        elapsed: run,
    }
}

/// Writes `n` active users straight into a fresh store (one argon2 hash shared by all:
/// hashing 100k passwords would measure argon2, not start-up).
async fn populate(data: &Path, n: u64) {
    vextra::secrets::prepare_data_dir(data).unwrap();
    let store = Arc::new(
        vextra::store::Store::open(&data.join("db"), 16)
            .await
            .unwrap(),
    );
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4Q4bWwwjGfHxz8AXKsDTS0Z0Wc4fKH3mYJ2YBqz1rjQ";
    let mut next = 0u64;
    while next < n {
        let batch: Vec<_> = (next..(next + 512).min(n))
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut u = vextra::model::User::new(
                        i + 1_000,
                        format!("user{i}@example.com"),
                        hash.to_string(),
                        vextra::time::now(),
                    );
                    u.is_active = true;
                    u.username = Some(format!("user{i}"));
                    store.create_user(&u).await.unwrap();
                })
            })
            .collect();
        for t in batch {
            t.await.unwrap();
        }
        next += 512;
    }
    store.close().await.unwrap();
}
