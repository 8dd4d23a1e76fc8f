//! The caller's own profile, devices and settings, and account deletion.

use super::{Error, Result, Services, auth::AuthUser, validate};
use crate::{
    model::{Settings, Theme, User},
    store::{StoreError, UserPatch},
    time,
};

/// What `PUT /users/me` may change. `None` = not sent.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub full_name: Option<String>,
    pub username: Option<String>,
    pub bio: Option<String>,
    pub profile_picture: Option<String>,
    pub instagram: Option<String>,
    pub linkedin: Option<String>,
    pub twitter: Option<String>,
    pub facebook: Option<String>,
}

#[derive(Debug, Default)]
pub struct SettingsUpdate {
    pub push_notifications_enabled: Option<bool>,
    pub email_notifications_enabled: Option<bool>,
    pub theme_preference: Option<Theme>,
}

impl Services {
    pub async fn update_profile(&self, who: &AuthUser, u: ProfileUpdate) -> Result<User> {
        let handle = |field: &str, v: &Option<String>| -> Result<Option<Option<String>>> {
            v.as_deref()
                .map(|v| validate::opt_text(field, v, 200))
                .transpose()
        };
        let patch = UserPatch {
            full_name: u
                .full_name
                .as_deref()
                .map(|n| validate::text("Full name", n, 100))
                .transpose()?,
            // The edit screen sends every field, an empty username included; an empty
            // username means "unchanged" (a username cannot be removed, links use it).
            username: u
                .username
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .map(validate::username)
                .transpose()?,
            bio: u
                .bio
                .as_deref()
                .map(|b| validate::opt_text("Bio", b, 500))
                .transpose()?,
            profile_picture: u
                .profile_picture
                .as_deref()
                .map(|p| validate::opt_url("Profile picture", p))
                .transpose()?,
            instagram: handle("Instagram", &u.instagram)?,
            linkedin: handle("LinkedIn", &u.linkedin)?,
            twitter: handle("Twitter", &u.twitter)?,
            facebook: handle("Facebook", &u.facebook)?,
            ..Default::default()
        };
        match self
            .store
            .update_user(who.user.id, &patch, time::now())
            .await
        {
            Ok(user) => Ok(user),
            Err(StoreError::Conflict(_)) => {
                Err(Error::Conflict("This username is already taken".into()))
            }
            Err(StoreError::NotFound) => {
                Err(Error::Unauthorized("Could not validate credentials".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn add_fcm_token(&self, who: &AuthUser, token: &str) -> Result<()> {
        let token = token.trim();
        if token.is_empty() || token.len() > 4096 || token.chars().any(char::is_whitespace) {
            return Err(Error::Invalid(
                "token must be a non-empty FCM registration token".into(),
            ));
        }
        let patch = UserPatch {
            add_fcm_token: Some(token.to_string()),
            ..Default::default()
        };
        self.store
            .update_user(who.user.id, &patch, time::now())
            .await?;
        Ok(())
    }

    pub async fn settings(&self, who: &AuthUser) -> Result<Settings> {
        Ok(self.store.settings_or_default(who.user.id).await?)
    }

    pub async fn update_settings(&self, who: &AuthUser, u: SettingsUpdate) -> Result<Settings> {
        let mut s = self.store.settings_or_default(who.user.id).await?;
        if let Some(v) = u.push_notifications_enabled {
            s.push_notifications_enabled = v;
        }
        if let Some(v) = u.email_notifications_enabled {
            s.email_notifications_enabled = v;
        }
        if let Some(v) = u.theme_preference {
            s.theme_preference = v;
        }
        self.store.put_settings(&s).await?;
        Ok(s)
    }

    /// Deletes the account and everything it owns; its tokens stop working at once.
    pub async fn delete_account(&self, who: &AuthUser) -> Result<()> {
        match self.store.delete_user(who.user.id).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_id = who.user.id, "account deleted");
        Ok(())
    }
}
