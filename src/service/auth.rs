//! Accounts and credentials: sign-up with an emailed code, login, refresh rotation,
//! logout, password change and reset.

use super::{
    Error, Result, Services,
    error::bad,
    tokens::{AccessClaims, Tokens},
    validate,
};
use crate::{
    model::{Otp, OtpPurpose, Session, User},
    secrets,
    store::{OtpEffect, OtpOutcome, RotateOutcome, StoreError},
    time,
};

pub struct Signup {
    pub email: String,
    pub password: String,
    pub full_name: Option<String>,
}

/// The login answer.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
    pub session_id: u64,
}

const INVALID_OTP: &str = "Invalid or expired OTP";
const BAD_LOGIN: &str = "Incorrect email or password";

impl Services {
    pub async fn signup(&self, s: Signup, ip: &str) -> Result<User> {
        if !self.config.auth.allow_signup {
            return Err(Error::Forbidden(
                "Sign-up is disabled on this server".into(),
            ));
        }
        let email = validate::email(&s.email)?;
        validate::password(&s.password)?;
        let full_name = match &s.full_name {
            Some(n) => Some(validate::text("Full name", n, 100)?),
            None => None,
        };
        let limits = &self.config.rate_limit;
        self.rate_limit("otp ip", ip, limits.otp_per_ip)?;
        self.rate_limit("otp account", &email, limits.otp_per_account)?;
        let exists = || bad("The user with this email already exists in the system");
        if self.store.user_by_email(&email)?.is_some() {
            return Err(exists());
        }
        let user = User {
            full_name,
            ..User::new(
                self.store.new_id()?,
                email.clone(),
                self.hasher.hash(&s.password).await?,
                time::now(),
            )
        };
        match self.store.create_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Conflict("email")) => return Err(exists()),
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = self.send_code(&email, OtpPurpose::Signup).await {
            // Without the code the account could never be activated; take it back so the
            // user can simply try again.
            self.store.delete_user(user.id).await?;
            return Err(e);
        }
        tracing::info!(user_id = user.id, "account created; waiting for its code");
        Ok(user)
    }

    /// A fresh code and the record that stores its hash.
    fn new_code(&self) -> (String, Otp) {
        let code = format!("{:06}", secrets::random_below(1_000_000));
        let now = time::now();
        let otp = Otp {
            code_hash: self.otp_hash(&code),
            created_at: now,
            expires_at: now + time::secs(self.config.otp.ttl_secs),
            attempts: 0,
            verified: false,
        };
        (code, otp)
    }

    /// Creates the code, stores its hash and mails it; the code is withdrawn when the
    /// mail cannot be sent.
    async fn send_code(&self, email: &str, purpose: OtpPurpose) -> Result<()> {
        let (code, otp) = self.new_code();
        self.store.put_otp(purpose, email, &otp).await?;
        let sent = self
            .mailer
            .send_code(email, purpose, &code, self.config.otp.ttl_secs / 60)
            .await;
        if sent.is_err() {
            self.store.remove_otp(purpose, email).await?;
        }
        sent
    }

    fn otp_hash(&self, code: &str) -> String {
        secrets::hex(blake3::keyed_hash(&self.keys.otp_hash, code.trim().as_bytes()).as_bytes())
    }

    /// Sends a new code when the account exists and the last code is older than the resend
    /// cooldown. The answer is the same in every case, so it reveals no accounts.
    pub async fn forgot_password(&self, email: &str, purpose: OtpPurpose, ip: &str) -> Result<()> {
        let email = validate::email(email)?;
        let limits = &self.config.rate_limit;
        self.rate_limit("otp ip", ip, limits.otp_per_ip)?;
        self.rate_limit("otp account", &email, limits.otp_per_account)?;
        let Some(user) = self.store.user_by_email(&email)? else {
            return Ok(());
        };
        // A sign-up code only makes sense for an account that still waits for one.
        if purpose == OtpPurpose::Signup && user.is_active {
            return Ok(());
        }
        if let Some(prev) = self.store.otp(purpose, &user.email)? {
            let cooldown = time::secs(self.config.otp.resend_cooldown_secs);
            if time::now() < prev.created_at + cooldown {
                tracing::info!(
                    user_id = user.id,
                    "code requested again within the cooldown"
                );
                return Ok(());
            }
        }
        // Mailed in the background: waiting for the mail server only when the account
        // exists would tell who has one by the time the answer takes.
        let (code, otp) = self.new_code();
        self.store.put_otp(purpose, &user.email, &otp).await?;
        let mailer = self.mailer.clone();
        let minutes = self.config.otp.ttl_secs / 60;
        tokio::spawn(async move {
            if let Err(e) = mailer.send_code(&user.email, purpose, &code, minutes).await {
                tracing::warn!(user_id = user.id, error = %e, "the code could not be mailed");
            }
        });
        Ok(())
    }

    pub async fn verify_otp(
        &self,
        email: &str,
        code: &str,
        purpose: OtpPurpose,
        ip: &str,
    ) -> Result<()> {
        let email = validate::email(email)?;
        self.otp_limits(ip, &email)?;
        let Some(user) = self.store.user_by_email(&email)? else {
            return Err(bad(INVALID_OTP));
        };
        let effect = match purpose {
            OtpPurpose::Signup => OtpEffect::Activate { user_id: user.id },
            OtpPurpose::ResetPassword => OtpEffect::MarkVerified,
        };
        self.use_code(&user.email, code, purpose, effect).await
    }

    pub async fn reset_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
        ip: &str,
    ) -> Result<()> {
        let email = validate::email(email)?;
        validate::password(new_password)?;
        self.otp_limits(ip, &email)?;
        let Some(user) = self.store.user_by_email(&email)? else {
            return Err(bad("Invalid OTP or not verified"));
        };
        let effect = OtpEffect::SetPassword {
            user_id: user.id,
            password_hash: self.hasher.hash(new_password).await?,
        };
        self.use_code(&user.email, code, OtpPurpose::ResetPassword, effect)
            .await
            .map_err(|e| match e {
                Error::BadRequest(m) if m == INVALID_OTP => bad("Invalid OTP or not verified"),
                e => e,
            })?;
        // A reset proves the address too, and ends every login made with the old password.
        if !user.is_active {
            let patch = crate::store::UserPatch {
                is_active: Some(true),
                ..Default::default()
            };
            self.store.update_user(user.id, &patch, time::now()).await?;
        }
        let n = self.store.revoke_sessions(user.id, None).await?;
        tracing::info!(user_id = user.id, sessions_revoked = n, "password reset");
        Ok(())
    }

    fn otp_limits(&self, ip: &str, email: &str) -> Result<()> {
        let limits = &self.config.rate_limit;
        self.rate_limit("otp ip", ip, limits.otp_per_ip)?;
        self.rate_limit("otp account", email, limits.otp_per_account)
    }

    async fn use_code(
        &self,
        email: &str,
        code: &str,
        purpose: OtpPurpose,
        effect: OtpEffect,
    ) -> Result<()> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(INVALID_OTP));
        }
        let outcome = self
            .store
            .use_otp(
                purpose,
                email,
                &self.otp_hash(code),
                time::now(),
                self.config.otp.max_attempts,
                effect,
            )
            .await?;
        match outcome {
            OtpOutcome::Accepted => Ok(()),
            OtpOutcome::Rejected | OtpOutcome::Missing => Err(bad(INVALID_OTP)),
            OtpOutcome::Locked => Err(bad(
                "Too many wrong codes. Request a new code and try again.",
            )),
        }
    }

    /// `login` is an email address or a username.
    pub async fn login(&self, login: &str, password: &str, ip: &str) -> Result<TokenPair> {
        let login = login.trim();
        let limits = &self.config.rate_limit;
        self.rate_limit("login ip", ip, limits.login_per_ip)?;
        self.rate_limit("login account", login, limits.login_per_account)?;
        if login.is_empty() || login.len() > 254 || password.len() > validate::PASSWORD_MAX {
            return Err(bad(BAD_LOGIN));
        }
        let user = if login.contains('@') {
            self.store.user_by_email(login)?
        } else {
            self.store.user_by_username(login)?
        };
        let ok = self
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        let Some(user) = user.filter(|_| ok) else {
            return Err(bad(BAD_LOGIN));
        };
        if !user.is_active {
            return Err(bad("Inactive user"));
        }
        let now = time::now();
        let session_id = self.store.new_id()?;
        let (refresh, hash) = Tokens::new_refresh(user.id, session_id);
        self.store
            .create_session(&Session {
                id: session_id,
                user_id: user.id,
                created_at: now,
                expires_at: now + time::secs(self.config.auth.refresh_token_ttl_secs),
                token_hash: hash,
                spent_hashes: Vec::new(),
            })
            .await?;
        tracing::info!(user_id = user.id, session_id, "login");
        Ok(self.pair(user.id, session_id, refresh))
    }

    fn pair(&self, user_id: u64, session_id: u64, refresh_token: String) -> TokenPair {
        let ttl = self.config.auth.access_token_ttl_secs;
        let now = (time::now() / 1_000_000) as u64;
        TokenPair {
            access_token: self.tokens.access(user_id, session_id, now, ttl),
            refresh_token,
            expires_in: ttl,
        }
    }

    /// Exchanges a refresh token for a new pair. Each token works once; a spent one
    /// revokes its whole family (someone else holds a copy).
    pub async fn refresh(&self, token: &str) -> Result<TokenPair> {
        let invalid = || Error::Unauthorized("Invalid or expired refresh token".into());
        let parts = Tokens::parse_refresh(token).ok_or_else(invalid)?;
        let (next, next_hash) = Tokens::new_refresh(parts.user_id, parts.session_id);
        let outcome = self
            .store
            .rotate_session(
                parts.user_id,
                parts.session_id,
                &parts.hash,
                &next_hash,
                time::now(),
                time::secs(self.config.auth.refresh_token_ttl_secs),
            )
            .await?;
        match outcome {
            RotateOutcome::Rotated(s) => match self.store.user(s.user_id)? {
                Some(u) if u.is_active => Ok(self.pair(u.id, s.id, next)),
                _ => Err(invalid()),
            },
            RotateOutcome::Reused => {
                tracing::warn!(
                    user_id = parts.user_id,
                    session_id = parts.session_id,
                    "a spent refresh token was presented again; session revoked"
                );
                Err(invalid())
            }
            RotateOutcome::Invalid => Err(invalid()),
        }
    }

    /// Ends the session the refresh token belongs to. Unknown tokens are accepted
    /// silently: logging out twice is not an error.
    pub async fn logout(&self, token: &str) -> Result<()> {
        let Some(parts) = Tokens::parse_refresh(token) else {
            return Ok(());
        };
        let session = self.store.session(parts.user_id, parts.session_id)?;
        if let Some(s) =
            session.filter(|s| s.token_hash == parts.hash || s.spent_hashes.contains(&parts.hash))
        {
            self.store.revoke_session(s.user_id, s.id).await?;
            tracing::info!(user_id = s.user_id, session_id = s.id, "logout");
        }
        Ok(())
    }

    /// Resolves an access token to its user. Any failure is the same 401: the app logs
    /// out on it, which is right for every one of these cases.
    pub fn authenticate(&self, token: &str) -> Result<AuthUser> {
        let unauthorized = || Error::Unauthorized("Could not validate credentials".into());
        let AccessClaims {
            user_id,
            session_id,
        } = self.tokens.check_access(token).ok_or_else(unauthorized)?;
        let live = self
            .store
            .session(user_id, session_id)?
            .is_some_and(|s| s.expires_at > time::now());
        if !live {
            return Err(unauthorized());
        }
        match self.store.user(user_id)? {
            Some(user) if user.is_active => Ok(AuthUser { user, session_id }),
            _ => Err(unauthorized()),
        }
    }

    pub async fn change_password(&self, who: &AuthUser, current: &str, new: &str) -> Result<()> {
        self.rate_limit(
            "login account",
            &who.user.email,
            self.config.rate_limit.login_per_account,
        )?;
        if !self
            .hasher
            .verify(current, Some(&who.user.password_hash))
            .await?
        {
            return Err(bad("Incorrect current password"));
        }
        validate::password(new)?;
        if current == new {
            return Err(bad("The new password must differ from the current one"));
        }
        let patch = crate::store::UserPatch {
            password_hash: Some(self.hasher.hash(new).await?),
            ..Default::default()
        };
        self.store
            .update_user(who.user.id, &patch, time::now())
            .await?;
        // Other devices must log in again; this one stays logged in.
        self.store
            .revoke_sessions(who.user.id, Some(who.session_id))
            .await?;
        Ok(())
    }

    /// Creates an active account without a code (the `admin create-user` command).
    pub async fn create_user_direct(
        &self,
        email: &str,
        password: &str,
        admin: bool,
    ) -> Result<User> {
        let email = validate::email(email)?;
        validate::password(password)?;
        let user = User {
            is_active: true,
            is_admin: admin,
            ..User::new(
                self.store.new_id()?,
                email,
                self.hasher.hash(password).await?,
                time::now(),
            )
        };
        match self.store.create_user(&user).await {
            Err(StoreError::Conflict(_)) => Err(Error::Conflict(
                "An account with this email already exists".into(),
            )),
            r => r.map(|_| user).map_err(Into::into),
        }
    }
}
