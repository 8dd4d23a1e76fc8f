//! Shared test harness: the real server (library `start`) on 127.0.0.1:0 with a sled
//! database in a temp dir and an in-process SMTP server receiving its mail.
#![allow(dead_code)]

pub mod smtp;

use std::{sync::Arc, time::Duration};

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use smtp::SmtpServer;
use tempfile::TempDir;
use vextra::config::{Config, SmtpSecurity};

pub struct TestServer {
    pub base: String,
    pub dir: TempDir,
    pub smtp: SmtpServer,
    pub client: Client,
    pub services: Arc<vextra::service::Services>,
    running: Option<vextra::server::Running>,
}

pub const PASSWORD: &str = "correct horse battery";

/// Limits high enough that ordinary tests never meet them; rate-limit tests lower them.
pub fn test_config(dir: &std::path::Path, smtp_port: u16) -> Config {
    let mut c = Config::default();
    c.server.bind = "127.0.0.1:0".parse().unwrap();
    c.storage.data_dir = dir.join("data");
    c.smtp.host = "127.0.0.1".into();
    c.smtp.port = smtp_port;
    c.smtp.security = SmtpSecurity::None;
    c.smtp.from = "Vextra <noreply@vextra.test>".into();
    c.rate_limit.login_per_ip = 10_000;
    c.rate_limit.login_per_account = 10_000;
    c.rate_limit.otp_per_ip = 10_000;
    c.rate_limit.otp_per_account = 10_000;
    c.otp.resend_cooldown_secs = 0;
    c.auth.hash_concurrency = 2;
    c
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpServer::start().await;
        let mut config = test_config(dir.path(), smtp.port());
        adjust(&mut config);
        let running = vextra::server::start(config).await.expect("server starts");
        TestServer {
            base: format!("http://{}", running.addr),
            services: running.services.clone(),
            dir,
            smtp,
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            running: Some(running),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.api(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_auth(&self, path: &str, token: &str, body: Value) -> Response {
        self.client
            .put(self.api(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn verify_otp(&self, email: &str, code: &str, purpose: &str) -> Response {
        self.post_json(
            "/auth/verify-otp",
            json!({"email": email, "code": code, "purpose": purpose}),
        )
        .await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.api(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.api("/auth/login/access-token"))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the token pair.
    pub async fn tokens(&self, username: &str, password: &str) -> Tokens {
        Tokens::from(expect(self.login(username, password).await, StatusCode::OK).await)
    }

    /// Waits for the next code mailed to `email`.
    pub async fn code_for(&self, email: &str) -> String {
        let mail = self
            .smtp
            .wait_for(email, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no mail to {email}"));
        smtp::find_code(&mail.body_text()).expect("a 6-digit code in the mail")
    }

    pub async fn signup(&self, email: &str) -> Value {
        let r = self
            .post_json(
                "/auth/signup",
                json!({"email": email, "password": PASSWORD, "full_name": "Test User", "is_active": true}),
            )
            .await;
        expect(r, StatusCode::OK).await
    }

    /// Signs up, verifies the mailed code and logs in; returns the login answer.
    pub async fn user(&self, email: &str) -> Tokens {
        self.signup(email).await;
        let code = self.code_for(email).await;
        expect(
            self.verify_otp(email, &code, "signup").await,
            StatusCode::OK,
        )
        .await;
        self.tokens(email, PASSWORD).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A test that panicked leaves the server running; its runtime goes away with the
        // test, which stops the tasks. Nothing to flush for a temp dir.
        self.running.take();
    }
}

#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl From<Value> for Tokens {
    fn from(v: Value) -> Self {
        Tokens {
            access: v["access_token"].as_str().unwrap().to_string(),
            refresh: v["refresh_token"].as_str().unwrap().to_string(),
        }
    }
}

/// Asserts the status and returns the JSON body; error bodies must be `{"detail": string}`.
pub async fn expect(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    if !status.is_success() {
        assert!(
            v["detail"].is_string(),
            "error body without string detail: {text}"
        );
    }
    v
}

/// The error's `detail`, after checking the status.
pub async fn detail(r: Response, status: StatusCode) -> String {
    expect(r, status).await["detail"]
        .as_str()
        .unwrap()
        .to_string()
}
