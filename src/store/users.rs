//! Users and their unique email/username indexes. Invariant: every user has exactly one
//! `users_by_email` entry and, when it has a username, exactly one `users_by_username`
//! entry; both are written in the same transaction as the user.

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Result, Store, StoreError, abort, dec, dec_tx, enc, keys, tx_result};
use crate::model::{Settings, User};

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct UserPatch {
    pub full_name: Option<String>,
    pub username: Option<String>,
    pub bio: Option<Option<String>>,
    pub profile_picture: Option<Option<String>>,
    pub instagram: Option<Option<String>>,
    pub linkedin: Option<Option<String>>,
    pub twitter: Option<Option<String>>,
    pub facebook: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub is_active: Option<bool>,
    pub add_fcm_token: Option<String>,
}

/// A device keeps one token at a time, but users own several devices and tokens rotate;
/// the newest few are kept.
const MAX_FCM_TOKENS: usize = 10;

impl Store {
    /// Creates a user with the id already filled in. Fails with `Conflict("email")` or
    /// `Conflict("username")` when another account holds either (case-insensitively).
    pub async fn create_user(&self, user: &User) -> Result<()> {
        let t = self.t();
        let email = keys::fold(&user.email);
        let uname = user.username.as_deref().map(keys::fold);
        tx_result(
            (&t.users, &t.users_by_email, &t.users_by_username).transaction(
                |(users, by_email, by_name)| {
                    if by_email.get(&email)?.is_some() {
                        return abort(StoreError::Conflict("email"));
                    }
                    if let Some(n) = &uname {
                        if by_name.get(n)?.is_some() {
                            return abort(StoreError::Conflict("username"));
                        }
                        by_name.insert(n.as_slice(), &keys::id(user.id))?;
                    }
                    by_email.insert(email.as_slice(), &keys::id(user.id))?;
                    users.insert(&keys::id(user.id), enc(user))?;
                    Ok(())
                },
            ),
        )?;
        self.durable().await
    }

    pub fn user(&self, id: u64) -> Result<Option<User>> {
        match self.t().users.get(keys::id(id))? {
            Some(v) => Ok(Some(dec("users", &v)?)),
            None => Ok(None),
        }
    }

    pub fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.user_by_index(&self.t().users_by_email, email)
    }

    pub fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.user_by_index(&self.t().users_by_username, username)
    }

    fn user_by_index(&self, index: &sled::Tree, name: &str) -> Result<Option<User>> {
        match index.get(keys::fold(name))? {
            Some(id) => match keys::read_id(&id) {
                Some(id) => self.user(id),
                None => Err(StoreError::Corrupt {
                    tree: "users index",
                    msg: "id is not 8 bytes".into(),
                }),
            },
            None => Ok(None),
        }
    }

    /// Counts by walking the tree (O(n)): for tests and diagnostics, not request paths.
    pub fn user_count(&self) -> usize {
        self.t().users.len()
    }

    /// Applies `patch` atomically with the username index. `NotFound` when the user is gone,
    /// `Conflict("username")` when another account holds the new name.
    pub async fn update_user(&self, id: u64, patch: &UserPatch, now: i64) -> Result<User> {
        let t = self.t();
        let key = keys::id(id);
        let user = tx_result(
            (&t.users, &t.users_by_username).transaction(|(users, by_name)| {
                let Some(raw) = users.get(key)? else {
                    return abort(StoreError::NotFound);
                };
                let mut user: User = dec_tx("users", &raw)?;
                if let Some(new) = &patch.username {
                    let new_key = keys::fold(new);
                    let old_key = user.username.as_deref().map(keys::fold);
                    if old_key.as_deref() != Some(new_key.as_slice()) {
                        let holder = by_name.get(&new_key)?;
                        if holder.is_some_and(|h| keys::read_id(&h) != Some(id)) {
                            return abort(StoreError::Conflict("username"));
                        }
                        if let Some(old) = old_key {
                            by_name.remove(old)?;
                        }
                        by_name.insert(new_key, &key)?;
                    }
                    user.username = Some(new.clone());
                }
                apply(&mut user, patch);
                user.updated_at = now;
                users.insert(&key, enc(&user))?;
                Ok::<_, ConflictableTransactionError<StoreError>>(user)
            }),
        )?;
        self.durable().await?;
        Ok(user)
    }

    /// Removes the user, both index entries, settings, sessions and refresh tokens.
    pub async fn delete_user(&self, id: u64) -> Result<()> {
        let t = self.t();
        let Some(user) = self.user(id)? else {
            return Err(StoreError::NotFound);
        };
        let session_keys: Vec<sled::IVec> = t
            .sessions
            .scan_prefix(keys::id(id))
            .keys()
            .collect::<std::result::Result<_, _>>()?;
        tx_result(
            (
                &t.users,
                &t.users_by_email,
                &t.users_by_username,
                &t.settings,
                &t.sessions,
            )
                .transaction(|(users, by_email, by_name, settings, sessions)| {
                    users.remove(&keys::id(id))?;
                    by_email.remove(keys::fold(&user.email))?;
                    if let Some(n) = &user.username {
                        by_name.remove(keys::fold(n))?;
                    }
                    settings.remove(&keys::id(id))?;
                    for k in &session_keys {
                        sessions.remove(k)?;
                    }
                    Ok(())
                }),
        )?;
        // Refresh tokens of removed sessions are dead already (their session is gone); the
        // janitor deletes them when they expire. OTPs are keyed by email and expire alone.
        self.remove_otps_for(&user.email)?;
        self.durable().await
    }

    pub fn settings(&self, user_id: u64) -> Result<Option<Settings>> {
        match self.t().settings.get(keys::id(user_id))? {
            Some(v) => Ok(Some(dec("settings", &v)?)),
            None => Ok(None),
        }
    }
}

fn apply(user: &mut User, p: &UserPatch) {
    if let Some(v) = &p.full_name {
        user.full_name = Some(v.clone());
    }
    for (field, value) in [
        (&mut user.bio, &p.bio),
        (&mut user.profile_picture, &p.profile_picture),
        (&mut user.instagram, &p.instagram),
        (&mut user.linkedin, &p.linkedin),
        (&mut user.twitter, &p.twitter),
        (&mut user.facebook, &p.facebook),
    ] {
        if let Some(v) = value {
            *field = v.clone();
        }
    }
    if let Some(h) = &p.password_hash {
        user.password_hash = h.clone();
    }
    if let Some(a) = p.is_active {
        user.is_active = a;
    }
    if let Some(tok) = &p.add_fcm_token {
        user.fcm_tokens.retain(|t| t != tok);
        user.fcm_tokens.push(tok.clone());
        let excess = user.fcm_tokens.len().saturating_sub(MAX_FCM_TOKENS);
        user.fcm_tokens.drain(..excess);
    }
}
