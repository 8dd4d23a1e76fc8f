//! argon2id password hashing on the blocking pool behind a semaphore: each hash holds
//! 19 MiB for ~20 ms, so a login storm queues instead of exhausting memory or starving
//! the async workers.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier, Version,
    password_hash::phc::PasswordHash,
};
use tokio::sync::Semaphore;

use super::error::{Error, Result};

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the account does not exist
    /// so that "no such user" takes as long as "wrong password". Made on first use: it
    /// costs a full hash, which start-up should not pay.
    dummy: Arc<tokio::sync::OnceCell<String>>,
}

/// OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &[u8]) -> Result<String> {
    argon2()
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

fn verify_blocking(password: &[u8], phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2().verify_password(password, &parsed).is_ok(),
        Err(_) => false,
    }
}

impl Hasher {
    pub fn new(concurrency: usize) -> Self {
        let n = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            concurrency
        };
        Hasher {
            permits: Arc::new(Semaphore::new(n)),
            dummy: Arc::default(),
        }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::Internal(e.to_string()))
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let pw = password.as_bytes().to_vec();
        self.run(move || hash_blocking(&pw)).await?
    }

    /// `None` verifies against the dummy hash and always fails, in the same time.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool> {
        let pw = password.as_bytes().to_vec();
        let (phc, real) = match phc {
            Some(p) => (p.to_string(), true),
            None => {
                let dummy = self
                    .dummy
                    .get_or_try_init(|| async {
                        let pw = crate::secrets::random_bytes::<16>();
                        self.run(move || hash_blocking(&pw)).await?
                    })
                    .await?;
                (dummy.clone(), false)
            }
        };
        let ok = self.run(move || verify_blocking(&pw, &phc)).await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters() {
        let h = Hasher::new(1);
        let phc = h.hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(h.verify("correct horse", Some(&phc)).await.unwrap());
        assert!(!h.verify("wrong horse", Some(&phc)).await.unwrap());
        assert!(!h.verify("correct horse", None).await.unwrap());
        assert!(!h.verify("x", Some("not a hash")).await.unwrap());
    }
}
