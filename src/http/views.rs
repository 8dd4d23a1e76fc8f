//! Response shapes of the API contract (shared/API.md §1), built from stored records.

use poem_openapi::{Enum, Object};

use crate::{model, time::rfc3339};

/// The caller's own account. Absent optional fields are left out rather than sent as
/// `null`, which the schema (OpenAPI 3.0, no `nullable`) would not allow.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct UserOut {
    pub id: u64,
    pub email: String,
    pub full_name: String,
    pub username: Option<String>,
    pub is_active: bool,
    pub is_admin: bool,
    pub profile_picture: Option<String>,
    pub bio: Option<String>,
    pub instagram: Option<String>,
    pub linkedin: Option<String>,
    pub twitter: Option<String>,
    pub facebook: Option<String>,
    pub posts_count: u64,
    pub followers_count: u64,
    pub following_count: u64,
    /// UTC, RFC 3339 with `Z`.
    pub created_at: String,
    pub updated_at: String,
}

impl From<model::User> for UserOut {
    fn from(u: model::User) -> Self {
        UserOut {
            id: u.id,
            email: u.email,
            full_name: u.full_name.unwrap_or_default(),
            username: u.username,
            is_active: u.is_active,
            is_admin: u.is_admin,
            profile_picture: u.profile_picture,
            bio: u.bio,
            instagram: u.instagram,
            linkedin: u.linkedin,
            twitter: u.twitter,
            facebook: u.facebook,
            posts_count: u.posts_count,
            followers_count: u.followers_count,
            following_count: u.following_count,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

#[derive(Object, Debug)]
pub struct Message {
    pub message: String,
}

pub fn message(m: impl Into<String>) -> poem_openapi::payload::Json<Message> {
    poem_openapi::payload::Json(Message { message: m.into() })
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum Theme {
    System,
    Light,
    Dark,
}

impl From<model::Theme> for Theme {
    fn from(t: model::Theme) -> Self {
        match t {
            model::Theme::System => Theme::System,
            model::Theme::Light => Theme::Light,
            model::Theme::Dark => Theme::Dark,
        }
    }
}

impl From<Theme> for model::Theme {
    fn from(t: Theme) -> Self {
        match t {
            Theme::System => model::Theme::System,
            Theme::Light => model::Theme::Light,
            Theme::Dark => model::Theme::Dark,
        }
    }
}

#[derive(Object, Debug)]
pub struct SettingsOut {
    pub id: u64,
    pub user_id: u64,
    pub push_notifications_enabled: bool,
    pub email_notifications_enabled: bool,
    pub theme_preference: Theme,
}

impl From<model::Settings> for SettingsOut {
    fn from(s: model::Settings) -> Self {
        SettingsOut {
            id: s.id,
            user_id: s.user_id,
            push_notifications_enabled: s.push_notifications_enabled,
            email_notifications_enabled: s.email_notifications_enabled,
            theme_preference: s.theme_preference.into(),
        }
    }
}
