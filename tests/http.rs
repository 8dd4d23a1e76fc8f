//! The HTTP surface itself: fixed routes, the spec, Swagger UI, error shapes for anything
//! a client can get wrong, body limits, request ids, CORS, rate limits, mail failures.

mod common;

use common::{PASSWORD, TestServer, detail, expect};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_routes() {
    let s = TestServer::start().await;
    let v = expect(
        s.client.get(s.url("/")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        v,
        json!({"message": "Welcome to Vextra API", "status": "active"})
    );
    let v = expect(
        s.client.get(s.url("/healthz")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["status"], "ok");
    let v = expect(
        s.client.get(s.url("/readyz")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["ready"], true);
    assert_eq!(v["store"], true);
    assert_eq!(v["schema_version"], 1);

    // Swagger UI from the binary, pointed at our spec.
    let r = s.client.get(s.url("/docs")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "redirect followed to index.html"
    );
    assert!(r.text().await.unwrap().contains("swagger"));
    let init = s
        .client
        .get(s.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
    let r = s
        .client
        .get(s.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_declares_every_error_status() {
    let s = TestServer::start().await;
    let spec = expect(
        s.client.get(s.api("/openapi.json")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(spec["servers"][0]["url"], "/api/v1");
    let paths = spec["paths"].as_object().unwrap();
    for p in [
        "/auth/login/access-token",
        "/auth/signup",
        "/auth/verify-otp",
        "/auth/forgot-password",
        "/auth/reset-password",
        "/auth/me",
        "/auth/change-password",
        "/auth/refresh",
        "/auth/logout",
        "/users/me",
        "/users/fcm-token",
        "/settings/me",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the spec");
    }
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for status in [
                "400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "503",
            ] {
                let r = responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{method} {path} lacks {status}"));
                let schema = &r["content"]["application/json; charset=utf-8"]["schema"];
                assert!(schema.is_object(), "{method} {path} {status}: {r}");
            }
        }
    }
    let me = &spec["paths"]["/auth/me"]["get"];
    assert!(me["security"].is_array(), "bearer auth declared");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_a_string_detail() {
    let s = TestServer::start().await;
    // Both spellings of a path are served, without a redirect.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects.get(s.api("/auth/me/")).send().await.unwrap();
    assert_eq!(
        detail(r, StatusCode::UNAUTHORIZED).await,
        "Not authenticated"
    );
    let r = no_redirects
        .post(s.api("/auth/forgot-password/"))
        .json(&json!({"email": "x@example.com"}))
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    let r = s.client.get(s.api("/no/such/route")).send().await.unwrap();
    assert_eq!(detail(r, StatusCode::NOT_FOUND).await, "Not Found");
    let r = s.client.get(s.api("/auth/signup")).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    detail(r, StatusCode::METHOD_NOT_ALLOWED).await;
    let r = s.client.patch(s.api("/settings/me/")).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "DELETE, GET, PUT");
    detail(r, StatusCode::METHOD_NOT_ALLOWED).await;
    // Wrong content type for a JSON body.
    let r = s
        .client
        .post(s.api("/auth/signup"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    detail(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    // No body where one is needed.
    let r = s.client.post(s.api("/auth/signup")).send().await.unwrap();
    let status = r.status();
    assert!(
        status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    detail(r, status).await;
    // Invalid UTF-8 and truncated JSON.
    for body in [
        vec![0xff, 0xfe, b'{'],
        b"{\"email\":".to_vec(),
        b"null".to_vec(),
    ] {
        let r = s
            .client
            .post(s.api("/auth/signup"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        detail(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_eq!(s.services.store.user_count(), 0, "nothing was created");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413() {
    let s = TestServer::start_with(|c| c.server.body_limit = 4096).await;
    let big = json!({"email": "big@example.com", "password": "x".repeat(8000)});
    let r = s.post_json("/auth/signup", big).await;
    assert_eq!(
        detail(r, StatusCode::PAYLOAD_TOO_LARGE).await,
        "Request body too large"
    );
    // Chunked (no Content-Length): refused while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b' '; 1000])).collect();
    let r = s
        .client
        .post(s.api("/auth/signup"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    detail(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    // A small chunked body still works.
    let body =
        serde_json::to_vec(&json!({"email": "small@example.com", "password": PASSWORD})).unwrap();
    let r = s
        .client
        .post(s.api("/auth/signup"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            vec![Ok::<_, std::io::Error>(body)],
        )))
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    assert_eq!(s.services.store.user_count(), 1);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_and_cors() {
    let s = TestServer::start_with(|c| {
        c.server.cors_origins = vec!["https://admin.example.com".into()]
    })
    .await;
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let r2 = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_ne!(r2.headers()["x-request-id"].to_str().unwrap(), id);
    let r = s
        .client
        .get(s.url("/healthz"))
        .header("x-request-id", "proxy-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "proxy-123");
    // Error responses carry one too.
    let r = s.client.get(s.api("/auth/me")).send().await.unwrap();
    assert!(r.headers().contains_key("x-request-id"));

    let pre = s
        .client
        .request(reqwest::Method::OPTIONS, s.api("/auth/me"))
        .header("origin", "https://admin.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "https://admin.example.com"
    );
    let r = s
        .client
        .get(s.url("/healthz"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_rate_limited_per_account_and_per_address() {
    let s = TestServer::start_with(|c| {
        c.rate_limit.login_per_account = 3;
        c.rate_limit.login_per_ip = 6;
    })
    .await;
    for _ in 0..3 {
        detail(
            s.login("victim@example.com", "guess guess").await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let r = s.login("victim@example.com", "guess guess").await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(
        detail(r, StatusCode::TOO_MANY_REQUESTS)
            .await
            .contains("Too many")
    );
    // Another account from the same address still has budget, until the address runs out.
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(
            s.login(&format!("other{i}@example.com"), "guess guess")
                .await
                .status(),
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_endpoints_are_rate_limited() {
    let s = TestServer::start_with(|c| {
        c.rate_limit.otp_per_account = 2;
        c.rate_limit.otp_per_ip = 100;
    })
    .await;
    s.signup("otp@example.com").await;
    let verify = || {
        s.post_json(
            "/auth/verify-otp",
            json!({"email": "otp@example.com", "code": "000000", "purpose": "signup"}),
        )
    };
    assert_eq!(verify().await.status(), StatusCode::BAD_REQUEST);
    let r = verify().await;
    assert!(r.headers().contains_key("retry-after"));
    detail(r, StatusCode::TOO_MANY_REQUESTS).await;
    let r = s
        .post_json("/auth/forgot-password", json!({"email": "otp@example.com"}))
        .await;
    detail(r, StatusCode::TOO_MANY_REQUESTS).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_mail_server_rolls_the_signup_back() {
    let s = TestServer::start().await;
    s.smtp.set_fail(true);
    let r = s
        .post_json(
            "/auth/signup",
            json!({"email": "nomail@example.com", "password": PASSWORD}),
        )
        .await;
    assert!(
        detail(r, StatusCode::SERVICE_UNAVAILABLE)
            .await
            .contains("email")
    );
    assert!(
        s.services
            .store
            .user_by_email("nomail@example.com")
            .unwrap()
            .is_none()
    );
    // Once mail works again the same address can sign up.
    s.smtp.set_fail(false);
    s.user("nomail@example.com").await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_cooldown_sends_one_code() {
    let s = TestServer::start_with(|c| c.otp.resend_cooldown_secs = 60).await;
    s.user("cool@example.com").await;
    for _ in 0..3 {
        let r = s
            .post_json(
                "/auth/forgot-password",
                json!({"email": "cool@example.com", "purpose": "reset_password"}),
            )
            .await;
        expect(r, StatusCode::OK).await;
    }
    // The sign-up code was taken by `user`; exactly one reset code follows.
    let wait = std::time::Duration::from_secs(10);
    let mail = s
        .smtp
        .wait_for("cool@example.com", wait)
        .await
        .expect("a reset code");
    assert!(mail.header("Subject").unwrap().contains("reset"));
    let more = s
        .smtp
        .wait_for("cool@example.com", std::time::Duration::from_millis(500))
        .await;
    assert!(
        more.is_none(),
        "codes within the cooldown are not sent again"
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_wildcard_and_default_off() {
    let any = TestServer::start_with(|c| c.server.cors_origins = vec!["*".into()]).await;
    let r = any
        .client
        .get(any.url("/healthz"))
        .header("origin", "https://anywhere.example.org")
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("access-control-allow-origin"));
    any.shutdown().await;

    let none = TestServer::start().await;
    let r = none
        .client
        .get(none.url("/healthz"))
        .header("origin", "https://anywhere.example.org")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    none.shutdown().await;
}
