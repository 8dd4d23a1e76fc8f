//! The real binary as a process: CLI, configuration errors, the admin command, the data
//! directory lock, SIGTERM, and acknowledged writes surviving `kill -9`.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{PASSWORD, detail, expect, smtp::SmtpServer};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vextra");

struct Proc {
    child: Child,
    base: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// A test that fails must not leave its server running (it would hold the output pipe
/// of the test run open).
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vextra serve` on a free port with JSON logs and waits for its "ready" line.
fn serve(data: &Path, smtp_port: u16) -> Proc {
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env_clear()
        .env("VEXTRA_LOG__FORMAT", "json")
        .env("VEXTRA_SMTP__HOST", "127.0.0.1")
        .env("VEXTRA_SMTP__PORT", smtp_port.to_string())
        .env("VEXTRA_SMTP__SECURITY", "none")
        .env("VEXTRA_SMTP__FROM", "noreply@vextra.test")
        .env("VEXTRA_OTP__RESEND_COOLDOWN_SECS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line).unwrap_or_default();
            if v["message"] == "ready" {
                let _ = tx.send(v["addr"].as_str().unwrap_or_default().to_string());
            }
            sink.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server logs a ready line");
    Proc {
        child,
        base: format!("http://{addr}/api/v1"),
        log,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn version_and_help() {
    let out = Command::new(BIN).arg("version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("vextra {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "admin", "version"] {
        assert!(help.contains(word), "{help}");
    }
}

#[test]
fn bad_configuration_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let out = Command::new(BIN)
            .arg("serve")
            .args(args)
            .arg("--data-dir")
            .arg(dir.path().join("d"))
            .env_clear()
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = run(&[("VEXTRA_SMTP__PORT", "seventy")], &[]);
    assert!(
        e.contains("smtp.port") && e.contains("VEXTRA_SMTP__PORT"),
        "{e}"
    );
    let e = run(&[("VEXTRA_SERVER__NOPE", "1")], &[]);
    assert!(e.contains("server.nope"), "{e}");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[smtp]\nsecurity = \"ssl\"\n").unwrap();
    let e = run(&[], &["--config", cfg.to_str().unwrap()]);
    assert!(e.contains("smtp.security") && e.contains("c.toml"), "{e}");
    let e = run(&[], &["--config", "/nonexistent/vextra.toml"]);
    assert!(e.contains("does not exist"), "{e}");
    assert!(!dir.path().join("d").exists(), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut p = serve(&data, smtp.port());
    let c = client();

    let r = c
        .post(format!("{}/auth/signup", p.base))
        .json(&json!({"email": "durable@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    let mail = smtp
        .wait_for("durable@example.com", Duration::from_secs(10))
        .await
        .unwrap();
    let code = common::smtp::find_code(&mail.body_text()).unwrap();
    let r = c
        .post(format!("{}/auth/verify-otp", p.base))
        .json(&json!({"email": "durable@example.com", "code": code, "purpose": "signup"}))
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    let login = expect(
        c.post(format!("{}/auth/login/access-token", p.base))
            .form(&[("username", "durable@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let access = login["access_token"].as_str().unwrap().to_string();
    // Many acknowledged writes in parallel, then SIGKILL straight after the last answer.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = c.clone();
        let url = format!("{}/users/me", p.base);
        let access = access.clone();
        tasks.push(tokio::spawn(async move {
            c.put(url)
                .bearer_auth(access)
                .json(&json!({"bio": format!("bio {i}")}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let r = c
        .put(format!("{}/users/me", p.base))
        .bearer_auth(&access)
        .json(&json!({"username": "durable", "bio": "final"}))
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    let r = c
        .put(format!("{}/settings/me", p.base))
        .bearer_auth(&access)
        .json(&json!({"theme_preference": "dark"}))
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    p.child.kill().unwrap(); // SIGKILL: no shutdown code runs
    p.child.wait().unwrap();

    let mut p = serve(&data, smtp.port());
    // The same session (jwt key and session record on disk) is still valid.
    let get = |path: &str| {
        c.get(format!("{}{path}", p.base))
            .bearer_auth(&access)
            .send()
    };
    let me = expect(get("/auth/me").await.unwrap(), StatusCode::OK).await;
    assert_eq!(me["username"], "durable");
    assert_eq!(me["bio"], "final");
    let s = expect(get("/settings/me").await.unwrap(), StatusCode::OK).await;
    assert_eq!(s["theme_preference"], "dark");
    let r = c
        .post(format!("{}/auth/login/access-token", p.base))
        .form(&[("username", "durable"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_cleanly() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut p = serve(&data, smtp.port());
    let c = client();
    // A sign-up is in flight when SIGTERM arrives: its body is sent in two parts and the
    // second one only after the signal, so the server is certainly mid-request.
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let first = br#"{"email": "drain@example.com", "#.to_vec();
    let second = format!(r#""password": "{PASSWORD}"}}"#).into_bytes();
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(first)]).chain(
        futures_util::stream::once(async move {
            let _ = started_tx.send(());
            let _ = finish_rx.await;
            Ok(second)
        }),
    );
    let url = format!("{}/auth/signup", p.base);
    let inflight = tokio::spawn({
        let c = c.clone();
        async move {
            c.post(url)
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
                .map(|r| r.status())
        }
    });
    started_rx.await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "the server waits for the request in flight"
    );
    finish_tx.send(()).unwrap();
    assert_eq!(inflight.await.unwrap().unwrap(), StatusCode::OK);
    let status = p.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < Duration::from_secs(15));
    // What the drained request wrote was flushed: a restart finds the account.
    assert!(
        smtp.wait_for("drain@example.com", Duration::from_secs(5))
            .await
            .is_some()
    );
    let log = p.log.lock().unwrap().join("\n");
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
    assert!(!log.contains(PASSWORD), "passwords never reach the log");
    drop(p);
    let p = serve(&data, smtp.port());
    let r = client()
        .post(format!("{}/auth/signup", p.base))
        .json(&json!({"email": "drain@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        detail(r, StatusCode::BAD_REQUEST).await,
        "The user with this email already exists in the system"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_user_and_the_data_directory_lock() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let create = |email: &str, stdin: &str, extra: &[&str]| {
        let mut child = Command::new(BIN)
            .args(["admin", "create-user", "--email", email, "--password-stdin"])
            .args(extra)
            .arg("--data-dir")
            .arg(&data)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = create("root@example.com", &format!("{PASSWORD}\n"), &["--admin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("admin"));
    let out = create("short@example.com", "short\n", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
    let out = create("ROOT@example.com", &format!("{PASSWORD}\n"), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let mut p = serve(&data, smtp.port());
    // While the server holds the store, the command says so instead of failing obscurely.
    let out = create("second@example.com", &format!("{PASSWORD}\n"), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another Vextra process"), "{err}");

    let c = client();
    let login = expect(
        c.post(format!("{}/auth/login/access-token", p.base))
            .form(&[("username", "root@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let me = expect(
        c.get(format!("{}/auth/me", p.base))
            .bearer_auth(login["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["is_admin"], true);
    assert_eq!(me["is_active"], true);
    let r = c
        .post(format!("{}/auth/login/access-token", p.base))
        .form(&[("username", "second@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    detail(r, StatusCode::BAD_REQUEST).await;
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}
