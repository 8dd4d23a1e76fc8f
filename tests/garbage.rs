//! No input yields a 500 or a panic: every operation of the spec gets malformed bodies,
//! parameters and headers, and must answer a 4xx with a `{"detail": string}` body.

mod common;

use common::TestServer;
use serde_json::Value;

fn payloads() -> Vec<(&'static str, Vec<u8>)> {
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    vec![
        ("application/json", b"".to_vec()),
        ("application/json", b"{".to_vec()),
        ("application/json", b"null".to_vec()),
        ("application/json", b"[]".to_vec()),
        ("application/json", b"\"text\"".to_vec()),
        ("application/json", b"1e999999".to_vec()),
        ("application/json", deep.into_bytes()),
        ("application/json", vec![0xc3, 0x28, 0xa0, 0xa1]),
        (
            "application/json",
            br#"{"email": {"$gt": ""}, "password": null, "code": []}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"email": "a@b.co", "password": 1e308, "refresh_token": 5}"#.to_vec(),
        ),
        (
            "application/json",
            "{\"email\": \"\u{0}\u{202e}@x.y\", \"password\": \"\u{fffd}\"}"
                .as_bytes()
                .to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"username=%ff%fe&password=%00".to_vec(),
        ),
        ("application/x-www-form-urlencoded", b"&&==&".to_vec()),
        ("multipart/form-data; boundary=x", b"--x\r\nbroken".to_vec()),
        ("text/plain", b"hello".to_vec()),
        ("application/octet-stream", (0..=255u8).collect()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_gets_a_500() {
    let s = TestServer::start().await;
    let t = s.user("target@example.com").await;
    let spec: Value = s
        .client
        .get(s.api("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            for (ctype, body) in payloads() {
                for token in [None, Some("null"), Some(t.access.as_str())] {
                    // Account deletion takes no body, so garbage would rightly succeed.
                    if method == reqwest::Method::DELETE && token == Some(t.access.as_str()) {
                        continue;
                    }
                    let mut req = s
                        .client
                        .request(method.clone(), s.api(&format!("{path}?token=%ff&x=\u{0}")))
                        .header("content-type", ctype)
                        .body(body.clone());
                    if let Some(tok) = token {
                        req = req.bearer_auth(tok);
                    }
                    let r = req.send().await.unwrap();
                    let status = r.status();
                    let text = r.text().await.unwrap();
                    assert!(
                        status.as_u16() < 500,
                        "{method} {path} {ctype}: {status} {text}"
                    );
                    if !status.is_success() {
                        let v: Value = serde_json::from_str(&text)
                            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
                        assert!(v["detail"].is_string(), "{method} {path}: {text}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 500, "{checked}");
    // The account the garbage was aimed at is intact and still logged in.
    let me = common::expect(
        s.get_auth("/auth/me", &t.access).await,
        reqwest::StatusCode::OK,
    )
    .await;
    assert_eq!(me["full_name"], "Test User");
    assert_eq!(me["email"], "target@example.com");
    assert_eq!(s.services.store.user_count(), 1, "no account was created");
    s.shutdown().await;
}
