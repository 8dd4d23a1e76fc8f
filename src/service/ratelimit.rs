//! Token buckets per key ("login ip 1.2.3.4", "otp account a@b.c"): `per_minute` requests
//! may come as a burst, then one more each 60/per_minute seconds.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

struct Bucket {
    tokens: f64,
    updated: Instant,
    rate_per_sec: f64,
    capacity: f64,
}

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one token from `key`'s bucket, or says how many seconds until one is back.
    pub fn check(&self, key: String, per_minute: u32) -> Result<(), u64> {
        let now = Instant::now();
        let capacity = f64::from(per_minute);
        let rate = capacity / 60.0;
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.entry(key).or_insert(Bucket {
            tokens: capacity,
            updated: now,
            rate_per_sec: rate,
            capacity,
        });
        b.tokens = (b.tokens + now.duration_since(b.updated).as_secs_f64() * b.rate_per_sec)
            .min(b.capacity);
        b.updated = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / b.rate_per_sec).ceil().max(1.0) as u64)
        }
    }

    /// Forgets buckets that have refilled completely; they carry no information. Keeps the
    /// map from growing with every address ever seen.
    pub fn prune(&self) -> usize {
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let before = map.len();
        map.retain(|_, b| {
            let full_after = Duration::from_secs_f64((b.capacity - b.tokens) / b.rate_per_sec);
            now.duration_since(b.updated) < full_after
        });
        before - map.len()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_with_retry_after() {
        let rl = RateLimiter::default();
        for _ in 0..3 {
            rl.check("k".into(), 3).unwrap();
        }
        let wait = rl.check("k".into(), 3).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        // Other keys are independent.
        rl.check("other".into(), 3).unwrap();
        assert_eq!(rl.prune(), 0);
        assert_eq!(rl.len(), 2);
    }
}
