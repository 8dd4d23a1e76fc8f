//! The store on its own: coalesced flushes, reopening, schema versions.

use vextra::{model::Settings, store::Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_flushes_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 8).await.unwrap();
    assert_eq!(store.schema_version().unwrap(), 1);
    let before = store.flush_count();
    let mut tasks = Vec::new();
    for i in 0..400u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.put_settings(&Settings::defaults(i, i + 1)).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let flushes = store.flush_count() - before;
    assert!(flushes >= 1, "every write waited for a flush");
    assert!(
        flushes < 400,
        "{flushes} flushes for 400 writes: not coalesced"
    );
    println!("400 concurrent writes, {flushes} flushes");
    store.close().await.unwrap();
    drop(store);

    let store = Store::open(dir.path(), 8).await.unwrap();
    for i in 0..400u64 {
        let s = store
            .settings(i + 1)
            .unwrap()
            .expect("written before close");
        assert_eq!(s.id, i);
    }
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_unique_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = std::collections::HashSet::new();
    for round in 0..3u64 {
        let store = Store::open(dir.path(), 8).await.unwrap();
        let first = store.settings_or_default(100 + round).await.unwrap().id;
        assert!(first > 0 && first < (1 << 53));
        assert!(seen.insert(first), "id {first} handed out twice");
        store.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_codes_are_refused_and_swept() {
    use vextra::{
        model::{Otp, OtpPurpose},
        store::{OtpEffect, OtpOutcome},
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 8).await.unwrap();
    let now = vextra::time::now();
    let otp = |expires_at| Otp {
        code_hash: "h".repeat(64),
        created_at: now - 700_000_000,
        expires_at,
        attempts: 0,
        verified: false,
    };
    store
        .put_otp(OtpPurpose::ResetPassword, "old@example.com", &otp(now - 1))
        .await
        .unwrap();
    store
        .put_otp(
            OtpPurpose::ResetPassword,
            "live@example.com",
            &otp(now + 60_000_000),
        )
        .await
        .unwrap();
    // The right code, but ten minutes and one microsecond too late.
    let outcome = store
        .use_otp(
            OtpPurpose::ResetPassword,
            "OLD@example.com",
            &"h".repeat(64),
            now,
            5,
            OtpEffect::MarkVerified,
        )
        .await
        .unwrap();
    assert_eq!(outcome, OtpOutcome::Missing);
    assert!(
        store
            .otp(OtpPurpose::ResetPassword, "old@example.com")
            .unwrap()
            .is_none()
    );

    store
        .put_otp(OtpPurpose::ResetPassword, "old@example.com", &otp(now - 1))
        .await
        .unwrap();
    assert_eq!(store.purge_expired(now).await.unwrap(), 1);
    assert!(
        store
            .otp(OtpPurpose::ResetPassword, "live@example.com")
            .unwrap()
            .is_some()
    );
    store.close().await.unwrap();
}
