//! `/auth/*`: sign-up, codes, login, refresh, logout, passwords.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    Enum, Object, OpenApi,
    payload::{Form, Json},
};
use serde::Deserialize;

use super::{
    ApiTags,
    error::ApiResult,
    extract::{Auth, client_ip},
    types::{Nullable, Text},
    views::{Message, UserOut, message},
};
use crate::{model::OtpPurpose, service::Services};

pub struct AuthApi {
    pub svc: Arc<Services>,
}

impl AuthApi {
    fn ip(&self, req: &Request) -> String {
        client_ip(req, self.svc.config.server.trust_forwarded_for)
    }
}

/// OAuth2 password form; `username` is the email address or the username.
#[derive(Object, Deserialize, Debug)]
pub struct LoginForm {
    pub username: Text,
    pub password: Text,
    pub grant_type: Option<Text>,
    pub scope: Option<Text>,
    pub client_id: Option<Text>,
    pub client_secret: Option<Text>,
}

#[derive(Object, Debug)]
pub struct TokenOut {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Exchange at `POST /auth/refresh`; each one works once.
    pub refresh_token: String,
    /// Lifetime of `access_token` in seconds.
    pub expires_in: u64,
}

impl From<crate::service::auth::TokenPair> for TokenOut {
    fn from(p: crate::service::auth::TokenPair) -> Self {
        TokenOut {
            access_token: p.access_token,
            token_type: "bearer".into(),
            refresh_token: p.refresh_token,
            expires_in: p.expires_in,
        }
    }
}

#[derive(Object, Debug)]
pub struct SignupIn {
    pub email: Text,
    pub password: Text,
    pub full_name: Nullable<Text>,
    /// Ignored: an account becomes active when its emailed code is verified.
    pub is_active: Nullable<bool>,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum Purpose {
    Signup,
    ResetPassword,
}

impl From<Purpose> for OtpPurpose {
    fn from(p: Purpose) -> Self {
        match p {
            Purpose::Signup => OtpPurpose::Signup,
            Purpose::ResetPassword => OtpPurpose::ResetPassword,
        }
    }
}

#[derive(Object, Debug)]
pub struct ForgotIn {
    pub email: Text,
    /// Defaults to `signup` (a new sign-up code) as in the original server.
    pub purpose: Nullable<Purpose>,
}

#[derive(Object, Debug)]
pub struct VerifyIn {
    pub email: Text,
    pub code: Text,
    pub purpose: Purpose,
}

#[derive(Object, Debug)]
pub struct ResetIn {
    pub email: Text,
    pub code: Text,
    pub new_password: Text,
}

#[derive(Object, Debug)]
pub struct ChangePasswordIn {
    pub current_password: Text,
    pub new_password: Text,
}

#[derive(Object, Debug)]
pub struct RefreshIn {
    pub refresh_token: Text,
}

#[OpenApi(prefix_path = "/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Log in with email (or username) and password.
    #[oai(path = "/login/access-token", method = "post", operation_id = "login")]
    async fn login(&self, req: &Request, form: Form<LoginForm>) -> ApiResult<Json<TokenOut>> {
        let pair = self
            .svc
            .login(&form.username, &form.password, &self.ip(req))
            .await?;
        Ok(Json(pair.into()))
    }

    /// Create an account; it stays inactive until the emailed code is verified.
    #[oai(path = "/signup", method = "post", operation_id = "signup")]
    async fn signup(&self, req: &Request, body: Json<SignupIn>) -> ApiResult<Json<UserOut>> {
        let b = body.0;
        let user = self
            .svc
            .signup(
                crate::service::auth::Signup {
                    email: b.email.into(),
                    password: b.password.into(),
                    full_name: b.full_name.0.map(Into::into),
                },
                &self.ip(req),
            )
            .await?;
        Ok(Json(user.into()))
    }

    /// Check a one-time code: `signup` activates the account, `reset_password` allows
    /// the reset.
    #[oai(path = "/verify-otp", method = "post", operation_id = "verify_otp")]
    async fn verify_otp(&self, req: &Request, body: Json<VerifyIn>) -> ApiResult<Json<Message>> {
        let purpose = body.purpose.into();
        self.svc
            .verify_otp(&body.email, &body.code, purpose, &self.ip(req))
            .await?;
        Ok(message(match purpose {
            OtpPurpose::Signup => "Email verified successfully. You can now log in.",
            OtpPurpose::ResetPassword => "Code verified. You can now set a new password.",
        }))
    }

    /// Send a code by email. The answer is the same whether or not the account exists.
    #[oai(
        path = "/forgot-password",
        method = "post",
        operation_id = "forgot_password"
    )]
    async fn forgot_password(
        &self,
        req: &Request,
        body: Json<ForgotIn>,
    ) -> ApiResult<Json<Message>> {
        let purpose = body.purpose.0.unwrap_or(Purpose::Signup).into();
        self.svc
            .forgot_password(&body.email, purpose, &self.ip(req))
            .await?;
        Ok(message(
            "If an account exists for this email, a code has been sent to it.",
        ))
    }

    /// Set a new password with a code verified for `reset_password`.
    #[oai(
        path = "/reset-password",
        method = "post",
        operation_id = "reset_password"
    )]
    async fn reset_password(&self, req: &Request, body: Json<ResetIn>) -> ApiResult<Json<Message>> {
        self.svc
            .reset_password(&body.email, &body.code, &body.new_password, &self.ip(req))
            .await?;
        Ok(message("Password has been reset successfully"))
    }

    /// The caller's account.
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(&self, auth: Auth) -> ApiResult<Json<UserOut>> {
        Ok(Json(auth.0.user.into()))
    }

    /// Change the password; other devices are logged out.
    #[oai(
        path = "/change-password",
        method = "put",
        operation_id = "change_password"
    )]
    async fn change_password(
        &self,
        auth: Auth,
        body: Json<ChangePasswordIn>,
    ) -> ApiResult<Json<Message>> {
        self.svc
            .change_password(&auth.0, &body.current_password, &body.new_password)
            .await?;
        Ok(message("Password updated successfully"))
    }

    /// Exchange a refresh token for a new token pair (rotation: each token works once).
    #[oai(path = "/refresh", method = "post", operation_id = "refresh")]
    async fn refresh(&self, body: Json<RefreshIn>) -> ApiResult<Json<TokenOut>> {
        Ok(Json(self.svc.refresh(&body.refresh_token).await?.into()))
    }

    /// End the session of a refresh token; its access tokens stop working too.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, body: Json<RefreshIn>) -> ApiResult<Json<Message>> {
        self.svc.logout(&body.refresh_token).await?;
        Ok(message("Logged out"))
    }
}
