//! Accounts over real HTTP: sign-up with a mailed code, login, /auth/me, refresh rotation,
//! logout, password change and reset, and every way to get them wrong.

mod common;

use common::{PASSWORD, TestServer, Tokens, detail, expect};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_verify_login_me() {
    let s = TestServer::start().await;
    let user = s.signup("Alice@Example.com").await;
    assert_eq!(user["is_active"], false);
    assert_eq!(user["email"], "Alice@Example.com");
    assert!(user["id"].as_u64().unwrap() > 0);

    // Inactive accounts cannot log in, but only once the password is right.
    let r = s.login("alice@example.com", PASSWORD).await;
    assert_eq!(detail(r, StatusCode::BAD_REQUEST).await, "Inactive user");
    let r = s.login("alice@example.com", "wrong password").await;
    assert_eq!(
        detail(r, StatusCode::BAD_REQUEST).await,
        "Incorrect email or password"
    );

    let mail = s
        .smtp
        .wait_for("alice@example.com", std::time::Duration::from_secs(10))
        .await
        .expect("mail");
    assert!(
        mail.header("Subject")
            .unwrap()
            .contains("verification code")
    );
    let code = common::smtp::find_code(&mail.body_text()).unwrap();

    let r = s.verify_otp("alice@example.com", &code, "signup").await;
    assert!(expect(r, StatusCode::OK).await["message"].is_string());
    // The code is single use.
    let r = s.verify_otp("alice@example.com", &code, "signup").await;
    assert_eq!(
        detail(r, StatusCode::BAD_REQUEST).await,
        "Invalid or expired OTP"
    );

    let login = expect(s.login("ALICE@example.com", PASSWORD).await, StatusCode::OK).await;
    assert_eq!(login["token_type"], "bearer");
    assert!(login["expires_in"].as_u64().unwrap() >= 60);
    let access = login["access_token"].as_str().unwrap();
    assert_eq!(access.split('.').count(), 3, "a JWT");

    let me = expect(s.get_auth("/auth/me", access).await, StatusCode::OK).await;
    assert_eq!(me["email"], "Alice@Example.com");
    assert_eq!(me["is_active"], true);
    assert_eq!(me["full_name"], "Test User");
    assert_eq!(me["followers_count"], 0);
    let created = me["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 27, "{created}");

    // Username login works once a username is set.
    let r = s
        .put_auth("/users/me", access, json!({"username": "alice"}))
        .await;
    expect(r, StatusCode::OK).await;
    expect(s.login("Alice", PASSWORD).await, StatusCode::OK).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_rejects_bad_input_and_duplicates() {
    let s = TestServer::start().await;
    for (body, status) in [
        (json!({"email": "not-an-email", "password": PASSWORD}), 422),
        (json!({"email": "a@b.co", "password": "short"}), 422),
        (json!({"email": "a@b.co"}), 422),
        (json!({"email": 5, "password": PASSWORD}), 422),
        (json!({"email": "a@b.co", "password": ["x"]}), 422),
        (json!([1, 2]), 422),
    ] {
        let r = s.post_json("/auth/signup", body.clone()).await;
        detail(r, StatusCode::from_u16(status).unwrap()).await;
    }
    assert!(s.smtp.messages().is_empty(), "nothing was mailed");
    let r = s
        .client
        .post(s.api("/auth/signup"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    detail(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    s.signup("dup@example.com").await;
    let r = s
        .post_json(
            "/auth/signup",
            json!({"email": "DUP@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        detail(r, StatusCode::BAD_REQUEST).await,
        "The user with this email already exists in the system"
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_signups_with_one_email_have_one_winner() {
    let s = TestServer::start().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let client = s.client.clone();
        let url = s.api("/auth/signup");
        tasks.push(tokio::spawn(async move {
            let email = if i % 2 == 0 {
                "race@example.com"
            } else {
                "RACE@example.com"
            };
            client
                .post(url)
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::BAD_REQUEST => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(s.services.store.user_count(), 1);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_locks_after_five_wrong_codes() {
    let s = TestServer::start().await;
    s.signup("lock@example.com").await;
    let code = s.code_for("lock@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        let r = s.verify_otp("lock@example.com", wrong, "signup").await;
        assert_eq!(
            detail(r, StatusCode::BAD_REQUEST).await,
            "Invalid or expired OTP"
        );
    }
    let r = s.verify_otp("lock@example.com", wrong, "signup").await;
    assert!(
        detail(r, StatusCode::BAD_REQUEST)
            .await
            .contains("Too many")
    );
    // Now even the right code is refused.
    let r = s.verify_otp("lock@example.com", &code, "signup").await;
    assert!(
        detail(r, StatusCode::BAD_REQUEST)
            .await
            .contains("Too many")
    );
    // Malformed codes and purposes are validation errors, not attempts.
    for body in [
        json!({"email": "lock@example.com", "code": "12", "purpose": "signup"}),
        json!({"email": "lock@example.com", "code": code, "purpose": "login"}),
        json!({"email": "lock@example.com", "code": 123456, "purpose": "signup"}),
    ] {
        let r = s.post_json("/auth/verify-otp", body).await;
        assert!(
            r.status() == StatusCode::BAD_REQUEST || r.status() == StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    // A new code (the resend path: forgot-password with purpose signup) unlocks.
    let r = s
        .post_json(
            "/auth/forgot-password",
            json!({"email": "lock@example.com", "purpose": "signup"}),
        )
        .await;
    expect(r, StatusCode::OK).await;
    let code = s.code_for("lock@example.com").await;
    let r = s.verify_otp("lock@example.com", &code, "signup").await;
    expect(r, StatusCode::OK).await;
    expect(s.login("lock@example.com", PASSWORD).await, StatusCode::OK).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_guesses_cannot_exceed_the_limit() {
    let s = TestServer::start().await;
    s.signup("guess@example.com").await;
    let code = s.code_for("guess@example.com").await;
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let client = s.client.clone();
        let url = s.api("/auth/verify-otp");
        let guess = format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": "guess@example.com", "code": guess, "purpose": "signup"}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::BAD_REQUEST);
    }
    let otp = s
        .services
        .store
        .otp(vextra::model::OtpPurpose::Signup, "guess@example.com")
        .unwrap()
        .unwrap();
    assert_eq!(otp.attempts, 5, "attempts are counted atomically");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_and_reset_password() {
    let s = TestServer::start().await;
    let old = s.user("reset@example.com").await;

    // Same answer whether or not the account exists; nothing is mailed for unknown ones.
    let known = s
        .post_json(
            "/auth/forgot-password",
            json!({"email": "reset@example.com", "purpose": "reset_password"}),
        )
        .await;
    let known = expect(known, StatusCode::OK).await;
    let unknown = s
        .post_json(
            "/auth/forgot-password",
            json!({"email": "nobody@example.com", "purpose": "reset_password"}),
        )
        .await;
    assert_eq!(expect(unknown, StatusCode::OK).await, known);
    let mail = s
        .smtp
        .wait_for("reset@example.com", std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert!(mail.header("Subject").unwrap().contains("reset"));
    let code = common::smtp::find_code(&mail.body_text()).unwrap();
    assert!(
        s.smtp
            .messages()
            .iter()
            .all(|m| !m.is_to("nobody@example.com"))
    );

    let reset = |new_password: &str| {
        s.post_json(
            "/auth/reset-password",
            json!({"email": "reset@example.com", "code": code, "new_password": new_password}),
        )
    };
    // Reset before verifying is refused (and counts as an attempt).
    let r = reset("a brand new one").await;
    assert_eq!(
        detail(r, StatusCode::BAD_REQUEST).await,
        "Invalid OTP or not verified"
    );
    let r = s
        .verify_otp("reset@example.com", &code, "reset_password")
        .await;
    expect(r, StatusCode::OK).await;
    // Too short a new password: validation error, the code stays usable.
    let r = reset("short").await;
    detail(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = reset("a brand new one").await;
    expect(r, StatusCode::OK).await;
    // The code is spent; old sessions are gone; the new password works, the old doesn't.
    let r = reset("another new one").await;
    detail(r, StatusCode::BAD_REQUEST).await;
    detail(
        s.get_auth("/auth/me", &old.access).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    detail(
        s.login("reset@example.com", PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    expect(
        s.login("reset@example.com", "a brand new one").await,
        StatusCode::OK,
    )
    .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_keeps_this_session_and_ends_the_others() {
    let s = TestServer::start().await;
    let phone = s.user("change@example.com").await;
    let tablet = s.tokens("change@example.com", PASSWORD).await;

    let r = s
        .put_auth(
            "/auth/change-password",
            &phone.access,
            json!({"current_password": "not it at all", "new_password": "new password 1"}),
        )
        .await;
    // 400, never 401: the app would log the user out.
    assert_eq!(
        detail(r, StatusCode::BAD_REQUEST).await,
        "Incorrect current password"
    );
    let r = s
        .put_auth(
            "/auth/change-password",
            &phone.access,
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    detail(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = s
        .put_auth(
            "/auth/change-password",
            &phone.access,
            json!({"current_password": PASSWORD, "new_password": "new password 1"}),
        )
        .await;
    expect(r, StatusCode::OK).await;

    expect(s.get_auth("/auth/me", &phone.access).await, StatusCode::OK).await;
    detail(
        s.get_auth("/auth/me", &tablet.access).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let r = s
        .post_json("/auth/refresh", json!({"refresh_token": tablet.refresh}))
        .await;
    detail(r, StatusCode::UNAUTHORIZED).await;
    expect(
        s.login("change@example.com", "new password 1").await,
        StatusCode::OK,
    )
    .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let s = TestServer::start().await;
    let t0 = s.user("rot@example.com").await;

    let t1 = Tokens::from(
        expect(
            s.post_json("/auth/refresh", json!({"refresh_token": t0.refresh}))
                .await,
            StatusCode::OK,
        )
        .await,
    );
    assert_ne!(t1.refresh, t0.refresh);
    expect(s.get_auth("/auth/me", &t1.access).await, StatusCode::OK).await;
    let t2 = Tokens::from(
        expect(
            s.post_json("/auth/refresh", json!({"refresh_token": t1.refresh}))
                .await,
            StatusCode::OK,
        )
        .await,
    );
    expect(s.get_auth("/auth/me", &t2.access).await, StatusCode::OK).await;

    // A second login is a separate family and survives what follows.
    let other = s.tokens("rot@example.com", PASSWORD).await;

    // t0 was spent: presenting it again revokes t2 and every access token of the family.
    let r = s
        .post_json("/auth/refresh", json!({"refresh_token": t0.refresh}))
        .await;
    detail(r, StatusCode::UNAUTHORIZED).await;
    let r = s
        .post_json("/auth/refresh", json!({"refresh_token": t2.refresh}))
        .await;
    detail(r, StatusCode::UNAUTHORIZED).await;
    detail(
        s.get_auth("/auth/me", &t2.access).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    expect(s.get_auth("/auth/me", &other.access).await, StatusCode::OK).await;

    for bad in ["", "garbage", "null", &"A".repeat(64), &t2.access] {
        let r = s
            .post_json("/auth/refresh", json!({"refresh_token": bad}))
            .await;
        detail(r, StatusCode::UNAUTHORIZED).await;
    }
    detail(
        s.post_json("/auth/refresh", json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_rotate_once() {
    let s = TestServer::start().await;
    let t = s.user("twice@example.com").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = s.client.clone();
        let url = s.api("/auth/refresh");
        let tok = t.refresh.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"refresh_token": tok}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert!(ok <= 1, "{ok} refreshes of one token succeeded");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() {
    let s = TestServer::start().await;
    let t = s.user("bye@example.com").await;
    let r = s
        .post_json("/auth/logout", json!({"refresh_token": t.refresh}))
        .await;
    expect(r, StatusCode::OK).await;
    detail(
        s.get_auth("/auth/me", &t.access).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let r = s
        .post_json("/auth/refresh", json!({"refresh_token": t.refresh}))
        .await;
    detail(r, StatusCode::UNAUTHORIZED).await;
    // Logging out twice, or with junk, is harmless.
    expect(
        s.post_json("/auth/logout", json!({"refresh_token": t.refresh}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect(
        s.post_json("/auth/logout", json!({"refresh_token": "junk"}))
            .await,
        StatusCode::OK,
    )
    .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_malformed_tokens_are_401() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
    let s = TestServer::start().await;
    let t = s.user("forge@example.com").await;
    let key_b64 = std::fs::read_to_string(s.dir.path().join("data/jwt.key")).unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64.trim())
        .unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(t.access.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |claims: &serde_json::Value, key: &[u8]| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    // Sanity: a token we sign with the server's key and the real claims is accepted.
    expect(
        s.get_auth("/auth/me", &sign(&claims, &key)).await,
        StatusCode::OK,
    )
    .await;

    let mut expired = claims.clone();
    expired["exp"] = json!(now - 10);
    let mut other_user = claims.clone();
    other_user["sub"] = json!("999999");
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let alg_none = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(claims.to_string())
    );
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&key),
    )
    .unwrap();
    let mut tampered = t.access.clone();
    tampered.pop();
    tampered.push(if t.access.ends_with('A') { 'B' } else { 'A' });

    for bad in [
        sign(&expired, &key),
        sign(&other_user, &key),
        sign(&no_exp, &key),
        sign(&claims, b"some other key that is long enough!!"),
        alg_none,
        hs512,
        tampered,
        "null".to_string(),
        "a.b.c".to_string(),
        t.refresh.clone(),
    ] {
        let r = s.get_auth("/auth/me", &bad).await;
        assert_eq!(
            detail(r, StatusCode::UNAUTHORIZED).await,
            "Could not validate credentials",
            "{bad}"
        );
    }
    for header in ["", "Bearer", "Basic dXNlcjpwYXNz", "Token abc"] {
        let r = s
            .client
            .get(s.api("/auth/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        detail(r, StatusCode::UNAUTHORIZED).await;
    }
    detail(
        s.client.get(s.api("/auth/me")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Public endpoints ignore an unusable token (the app sends `Bearer null`).
    let r = s
        .client
        .post(s.api("/auth/login/access-token"))
        .header("authorization", "Bearer null")
        .form(&[("username", "forge@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    let r = s
        .client
        .post(s.api("/auth/forgot-password"))
        .header("authorization", "Bearer null")
        .json(&json!({"email": "x@example.com"}))
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_form_quirks() {
    let s = TestServer::start().await;
    s.user("form@example.com").await;
    // Standard OAuth2 password-form extras are accepted.
    let r = s
        .client
        .post(s.api("/auth/login/access-token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "form@example.com"),
            ("password", PASSWORD),
            ("scope", ""),
            ("client_id", "x"),
        ])
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    // Missing field: validation error with a string detail.
    let r = s
        .client
        .post(s.api("/auth/login/access-token"))
        .form(&[("username", "form@example.com")])
        .send()
        .await
        .unwrap();
    detail(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    // Unknown account: same message as a wrong password.
    let r = s.login("ghost@example.com", PASSWORD).await;
    assert_eq!(
        detail(r, StatusCode::BAD_REQUEST).await,
        "Incorrect email or password"
    );
    let r = s.login("form@example.com", &"x".repeat(10_000)).await;
    detail(r, StatusCode::BAD_REQUEST).await;
    s.shutdown().await;
}
