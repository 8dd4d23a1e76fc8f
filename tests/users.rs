//! Profile, device token, settings and account deletion.

mod common;

use common::{PASSWORD, TestServer, detail, expect};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_updates_are_partial_and_validated() {
    let s = TestServer::start().await;
    let t = s.user("prof@example.com").await;
    let put = |body: serde_json::Value| {
        s.client
            .put(s.api("/users/me"))
            .bearer_auth(&t.access)
            .json(&body)
            .send()
    };
    let u = expect(
        put(json!({"full_name": "Pro File", "username": "pro.file", "bio": "Hello\nthere", "profile_picture": "https://cdn.example.com/p.jpg", "instagram": "@pro"}))
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(u["full_name"], "Pro File");
    assert_eq!(u["username"], "pro.file");
    assert_eq!(u["bio"], "Hello\nthere");
    assert_eq!(u["instagram"], "@pro");

    // Only sent keys change; "" clears optional fields; an empty username is "unchanged".
    let u = expect(
        put(json!({"bio": "", "username": "", "twitter": null}))
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(u["bio"], serde_json::Value::Null);
    assert_eq!(u["username"], "pro.file");
    assert_eq!(u["full_name"], "Pro File");
    assert_eq!(u["instagram"], "@pro");

    for bad in [
        json!({"username": "no spaces"}),
        json!({"username": "ab"}),
        json!({"username": "a/b/c"}),
        json!({"profile_picture": "/data/user/0/x.jpg"}),
        json!({"full_name": "x".repeat(101)}),
        json!({"bio": "x".repeat(501)}),
        json!({"full_name": 12}),
    ] {
        detail(
            put(bad.clone()).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    // Nothing above changed anything.
    let me = expect(s.get_auth("/auth/me", &t.access).await, StatusCode::OK).await;
    assert_eq!(me["username"], "pro.file");
    assert_eq!(me["full_name"], "Pro File");

    // Usernames are unique, case-insensitively; renaming frees the old one.
    let other = s.user("other@example.com").await;
    let r = s
        .put_auth("/users/me", &other.access, json!({"username": "PRO.FILE"}))
        .await;
    assert_eq!(
        detail(r, StatusCode::CONFLICT).await,
        "This username is already taken"
    );
    expect(
        put(json!({"username": "Pro.File"})).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    expect(
        put(json!({"username": "renamed"})).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let r = s
        .put_auth("/users/me", &other.access, json!({"username": "pro.file"}))
        .await;
    assert_eq!(expect(r, StatusCode::OK).await["username"], "pro.file");
    expect(s.login("renamed", PASSWORD).await, StatusCode::OK).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fcm_token_travels_in_the_query() {
    let s = TestServer::start().await;
    let t = s.user("fcm@example.com").await;
    let r = s
        .client
        .put(s.api("/users/fcm-token?token=dGVzdC10b2tlbg:APA91b-x_y"))
        .bearer_auth(&t.access)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert!(expect(r, StatusCode::OK).await["message"].is_string());
    let user = s
        .services
        .store
        .user_by_email("fcm@example.com")
        .unwrap()
        .unwrap();
    assert_eq!(user.fcm_tokens, ["dGVzdC10b2tlbg:APA91b-x_y"]);
    for url in ["/users/fcm-token", "/users/fcm-token?token="] {
        let r = s
            .client
            .put(s.api(url))
            .bearer_auth(&t.access)
            .send()
            .await
            .unwrap();
        detail(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let r = s
        .client
        .put(s.api("/users/fcm-token?token=x"))
        .send()
        .await
        .unwrap();
    detail(r, StatusCode::UNAUTHORIZED).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_default_then_update() {
    let s = TestServer::start().await;
    let t = s.user("set@example.com").await;
    let first = expect(s.get_auth("/settings/me", &t.access).await, StatusCode::OK).await;
    assert_eq!(first["push_notifications_enabled"], true);
    assert_eq!(first["email_notifications_enabled"], true);
    assert_eq!(first["theme_preference"], "system");
    assert!(first["id"].as_u64().is_some());
    let again = expect(s.get_auth("/settings/me", &t.access).await, StatusCode::OK).await;
    assert_eq!(first["id"], again["id"]);

    let put = |body: serde_json::Value| {
        s.client
            .put(s.api("/settings/me"))
            .bearer_auth(&t.access)
            .json(&body)
            .send()
    };
    let v = expect(
        put(json!({"theme_preference": "dark"})).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["theme_preference"], "dark");
    assert_eq!(v["push_notifications_enabled"], true);
    let v = expect(
        put(json!({"push_notifications_enabled": false}))
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["push_notifications_enabled"], false);
    assert_eq!(v["theme_preference"], "dark");
    for bad in [
        json!({"theme_preference": "purple"}),
        json!({"push_notifications_enabled": "yes"}),
    ] {
        detail(put(bad).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let v = expect(s.get_auth("/settings/me", &t.access).await, StatusCode::OK).await;
    assert_eq!(v["theme_preference"], "dark");
    assert_eq!(v["push_notifications_enabled"], false);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_removes_it_everywhere() {
    let s = TestServer::start().await;
    let t = s.user("gone@example.com").await;
    let r = s
        .put_auth("/users/me", &t.access, json!({"username": "gone"}))
        .await;
    expect(r, StatusCode::OK).await;
    expect(s.get_auth("/settings/me", &t.access).await, StatusCode::OK).await;
    let keep = s.user("stays@example.com").await;

    let r = s
        .client
        .delete(s.api("/settings/me"))
        .bearer_auth(&t.access)
        .send()
        .await
        .unwrap();
    expect(r, StatusCode::OK).await;
    detail(
        s.get_auth("/auth/me", &t.access).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    detail(
        s.post_json("/auth/refresh", json!({"refresh_token": t.refresh}))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    detail(
        s.login("gone@example.com", PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let store = &s.services.store;
    assert!(store.user_by_email("gone@example.com").unwrap().is_none());
    assert!(store.user_by_username("gone").unwrap().is_none());
    assert_eq!(store.user_count(), 1);
    expect(s.get_auth("/auth/me", &keep.access).await, StatusCode::OK).await;

    // The email and username are free again.
    let again = s.user("gone@example.com").await;
    let r = s
        .put_auth("/users/me", &again.access, json!({"username": "gone"}))
        .await;
    expect(r, StatusCode::OK).await;
    s.shutdown().await;
}
