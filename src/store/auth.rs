//! One-time codes and login sessions (refresh-token families).

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Result, Store, StoreError, dec, dec_tx, enc, keys, tx_result};
use crate::model::{Otp, OtpPurpose, Session, User};

fn otp_key(purpose: OtpPurpose, email: &str) -> Vec<u8> {
    let tag = match purpose {
        OtpPurpose::Signup => 1,
        OtpPurpose::ResetPassword => 2,
    };
    keys::tagged(tag, email)
}

/// What a correct code does, applied in the same transaction that consumes it.
#[derive(Debug, Clone)]
pub enum OtpEffect {
    /// Sign-up: activate the account; the code is consumed.
    Activate { user_id: u64 },
    /// First step of a reset: mark the code verified and keep it for the second step.
    MarkVerified,
    /// Second step of a reset: only a verified code; sets the hash, consumes the code.
    SetPassword { user_id: u64, password_hash: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpOutcome {
    Accepted,
    /// Wrong code (or, for `SetPassword`, a code that was never verified); counted.
    Rejected,
    /// Too many wrong tries: the code is dead until a new one is requested.
    Locked,
    /// No live code (never sent, expired, consumed) or the account is gone.
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RotateOutcome {
    Rotated(Session),
    /// A spent token came back: the family has been revoked.
    Reused,
    Invalid,
}

impl Store {
    pub fn otp(&self, purpose: OtpPurpose, email: &str) -> Result<Option<Otp>> {
        match self.t().otps.get(otp_key(purpose, email))? {
            Some(v) => Ok(Some(dec("otps", &v)?)),
            None => Ok(None),
        }
    }

    /// Replaces any previous code for (purpose, email).
    pub async fn put_otp(&self, purpose: OtpPurpose, email: &str, otp: &Otp) -> Result<()> {
        self.t().otps.insert(otp_key(purpose, email), enc(otp))?;
        self.durable().await
    }

    pub async fn remove_otp(&self, purpose: OtpPurpose, email: &str) -> Result<()> {
        self.t().otps.remove(otp_key(purpose, email))?;
        self.durable().await
    }

    pub(crate) fn remove_otps_for(&self, email: &str) -> Result<()> {
        for p in [OtpPurpose::Signup, OtpPurpose::ResetPassword] {
            self.t().otps.remove(otp_key(p, email))?;
        }
        Ok(())
    }

    /// Checks `code_hash` against the live code and, when it matches, applies `effect`;
    /// attempts are counted in the same transaction, so parallel guesses cannot exceed
    /// `max_attempts`.
    pub async fn use_otp(
        &self,
        purpose: OtpPurpose,
        email: &str,
        code_hash: &str,
        now: i64,
        max_attempts: u32,
        effect: OtpEffect,
    ) -> Result<OtpOutcome> {
        let t = self.t();
        let key = otp_key(purpose, email);
        let outcome = tx_result((&t.otps, &t.users).transaction(|(otps, users)| {
            let Some(raw) = otps.get(&key)? else {
                return Ok(OtpOutcome::Missing);
            };
            let mut otp: Otp = dec_tx("otps", &raw)?;
            if otp.expires_at <= now {
                otps.remove(key.as_slice())?;
                return Ok(OtpOutcome::Missing);
            }
            if otp.attempts >= max_attempts {
                return Ok(OtpOutcome::Locked);
            }
            let needs_verified = matches!(effect, OtpEffect::SetPassword { .. });
            if !constant_time_eq(otp.code_hash.as_bytes(), code_hash.as_bytes())
                || (needs_verified && !otp.verified)
            {
                otp.attempts += 1;
                otps.insert(key.as_slice(), enc(&otp))?;
                return Ok(if otp.attempts >= max_attempts {
                    OtpOutcome::Locked
                } else {
                    OtpOutcome::Rejected
                });
            }
            let update_user = |id: u64, f: &dyn Fn(&mut User)| {
                let Some(raw) = users.get(keys::id(id))? else {
                    return Ok::<_, ConflictableTransactionError<StoreError>>(false);
                };
                let mut user: User = dec_tx("users", &raw)?;
                f(&mut user);
                user.updated_at = now;
                users.insert(&keys::id(id), enc(&user))?;
                Ok(true)
            };
            let found = match &effect {
                OtpEffect::MarkVerified => {
                    otp.verified = true;
                    otps.insert(key.as_slice(), enc(&otp))?;
                    return Ok(OtpOutcome::Accepted);
                }
                OtpEffect::Activate { user_id } => update_user(*user_id, &|u| u.is_active = true)?,
                OtpEffect::SetPassword {
                    user_id,
                    password_hash,
                } => update_user(*user_id, &|u| u.password_hash = password_hash.clone())?,
            };
            otps.remove(key.as_slice())?;
            Ok(if found {
                OtpOutcome::Accepted
            } else {
                OtpOutcome::Missing
            })
        }))?;
        self.durable().await?;
        Ok(outcome)
    }

    pub async fn create_session(&self, s: &Session) -> Result<()> {
        self.t()
            .sessions
            .insert(keys::pair(s.user_id, s.id), enc(s))?;
        self.durable().await
    }

    pub fn session(&self, user_id: u64, session_id: u64) -> Result<Option<Session>> {
        match self.t().sessions.get(keys::pair(user_id, session_id))? {
            Some(v) => Ok(Some(dec("sessions", &v)?)),
            None => Ok(None),
        }
    }

    /// Exchanges the family's current token (`presented`) for `next`. A spent token revokes
    /// the family; anything else unknown is just invalid.
    pub async fn rotate_session(
        &self,
        user_id: u64,
        session_id: u64,
        presented: &str,
        next: &str,
        now: i64,
        ttl: i64,
    ) -> Result<RotateOutcome> {
        let key = keys::pair(user_id, session_id);
        let outcome = tx_result(self.t().sessions.transaction(|sessions| {
            let Some(raw) = sessions.get(key)? else {
                return Ok(RotateOutcome::Invalid);
            };
            let mut s: Session = dec_tx("sessions", &raw)?;
            if s.expires_at <= now {
                sessions.remove(&key)?;
                return Ok(RotateOutcome::Invalid);
            }
            if s.spent_hashes
                .iter()
                .any(|h| constant_time_eq(h.as_bytes(), presented.as_bytes()))
            {
                sessions.remove(&key)?;
                return Ok(RotateOutcome::Reused);
            }
            if !constant_time_eq(s.token_hash.as_bytes(), presented.as_bytes()) {
                return Ok(RotateOutcome::Invalid);
            }
            let spent = std::mem::replace(&mut s.token_hash, next.to_string());
            s.spent_hashes.push(spent);
            let excess = s.spent_hashes.len().saturating_sub(Session::SPENT_KEPT);
            s.spent_hashes.drain(..excess);
            s.expires_at = now + ttl;
            sessions.insert(&key, enc(&s))?;
            Ok(RotateOutcome::Rotated(s))
        }))?;
        self.durable().await?;
        Ok(outcome)
    }

    /// Returns whether the session existed.
    pub async fn revoke_session(&self, user_id: u64, session_id: u64) -> Result<bool> {
        let existed = self
            .t()
            .sessions
            .remove(keys::pair(user_id, session_id))?
            .is_some();
        self.durable().await?;
        Ok(existed)
    }

    /// Revokes every session of the user but `keep`; returns how many went.
    pub async fn revoke_sessions(&self, user_id: u64, keep: Option<u64>) -> Result<usize> {
        let mut n = 0;
        for k in self.t().sessions.scan_prefix(keys::id(user_id)).keys() {
            let k = k?;
            if keep.is_some_and(|keep| k.as_ref() == keys::pair(user_id, keep)) {
                continue;
            }
            self.t().sessions.remove(k)?;
            n += 1;
        }
        self.durable().await?;
        Ok(n)
    }

    /// Deletes expired codes and sessions; returns how many records went.
    pub async fn purge_expired(&self, now: i64) -> Result<usize> {
        let t = self.t();
        let n = purge(&t.otps, "otps", now, |o: &Otp| o.expires_at)?
            + purge(&t.sessions, "sessions", now, |s: &Session| s.expires_at)?;
        if n > 0 {
            self.durable().await?;
        }
        Ok(n)
    }
}

/// Removes the records of `tree` whose expiry has passed. A record that does not decode
/// is left for an operator to look at rather than stopping the sweep.
fn purge<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
    now: i64,
    expires_at: impl Fn(&T) -> i64,
) -> Result<usize> {
    let mut n = 0;
    for item in tree.iter() {
        let (k, v) = item?;
        match dec::<T>(name, &v) {
            Ok(rec) if expires_at(&rec) <= now => {
                tree.remove(k)?;
                n += 1;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "skipping a record the janitor cannot read"),
        }
    }
    Ok(n)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
