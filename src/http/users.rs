//! `/users/*` and `/settings/*`: the caller's profile, devices and settings.

use std::sync::Arc;

use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use super::{
    ApiTags,
    error::ApiResult,
    extract::Auth,
    types::{Nullable, Text},
    views::{Message, SettingsOut, Theme, UserOut, message},
};
use crate::service::{
    Services,
    users::{ProfileUpdate, SettingsUpdate},
};

pub struct UsersApi {
    pub svc: Arc<Services>,
}

/// Partial update: absent or null fields are left alone; `""` clears a field.
#[derive(Object, Debug)]
pub struct ProfileIn {
    pub full_name: Nullable<Text>,
    pub username: Nullable<Text>,
    pub bio: Nullable<Text>,
    pub profile_picture: Nullable<Text>,
    pub instagram: Nullable<Text>,
    pub linkedin: Nullable<Text>,
    pub twitter: Nullable<Text>,
    pub facebook: Nullable<Text>,
}

#[derive(Object, Debug)]
pub struct SettingsIn {
    pub push_notifications_enabled: Nullable<bool>,
    pub email_notifications_enabled: Nullable<bool>,
    pub theme_preference: Nullable<Theme>,
}

#[OpenApi]
impl UsersApi {
    /// Update the caller's profile.
    #[oai(
        path = "/users/me",
        method = "put",
        tag = "ApiTags::Users",
        operation_id = "update_me"
    )]
    async fn update_me(&self, auth: Auth, body: Json<ProfileIn>) -> ApiResult<Json<UserOut>> {
        let b = body.0;
        let user = self
            .svc
            .update_profile(
                &auth.0,
                ProfileUpdate {
                    full_name: b.full_name.0.map(Into::into),
                    username: b.username.0.map(Into::into),
                    bio: b.bio.0.map(Into::into),
                    profile_picture: b.profile_picture.0.map(Into::into),
                    instagram: b.instagram.0.map(Into::into),
                    linkedin: b.linkedin.0.map(Into::into),
                    twitter: b.twitter.0.map(Into::into),
                    facebook: b.facebook.0.map(Into::into),
                },
            )
            .await?;
        Ok(Json(user.into()))
    }

    /// Register this device's Firebase token (sent as a query parameter, no body).
    #[oai(
        path = "/users/fcm-token",
        method = "put",
        tag = "ApiTags::Users",
        operation_id = "set_fcm_token"
    )]
    async fn fcm_token(&self, auth: Auth, token: Query<String>) -> ApiResult<Json<Message>> {
        self.svc.add_fcm_token(&auth.0, &token.0).await?;
        Ok(message("FCM token updated"))
    }

    /// The caller's settings (created with defaults on first read).
    #[oai(
        path = "/settings/me",
        method = "get",
        tag = "ApiTags::Settings",
        operation_id = "get_settings"
    )]
    async fn get_settings(&self, auth: Auth) -> ApiResult<Json<SettingsOut>> {
        Ok(Json(self.svc.settings(&auth.0).await?.into()))
    }

    /// Change one or more settings.
    #[oai(
        path = "/settings/me",
        method = "put",
        tag = "ApiTags::Settings",
        operation_id = "update_settings"
    )]
    async fn put_settings(
        &self,
        auth: Auth,
        body: Json<SettingsIn>,
    ) -> ApiResult<Json<SettingsOut>> {
        let b = body.0;
        let s = self
            .svc
            .update_settings(
                &auth.0,
                SettingsUpdate {
                    push_notifications_enabled: b.push_notifications_enabled.0,
                    email_notifications_enabled: b.email_notifications_enabled.0,
                    theme_preference: b.theme_preference.0.map(Into::into),
                },
            )
            .await?;
        Ok(Json(s.into()))
    }

    /// Delete the caller's account and everything it owns.
    #[oai(
        path = "/settings/me",
        method = "delete",
        tag = "ApiTags::Settings",
        operation_id = "delete_account"
    )]
    async fn delete_account(&self, auth: Auth) -> ApiResult<Json<Message>> {
        self.svc.delete_account(&auth.0).await?;
        Ok(message("Account deleted"))
    }
}
