//! Records as they are stored. Fields are named (serde), and every field added after the
//! first release carries `#[serde(default)]`, so a newer binary reads an older database.

use serde::{Deserialize, Serialize};

use crate::time::Micros;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: u64,
    pub email: String,
    pub username: Option<String>,
    pub full_name: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub bio: Option<String>,
    #[serde(default)]
    pub profile_picture: Option<String>,
    #[serde(default)]
    pub instagram: Option<String>,
    #[serde(default)]
    pub linkedin: Option<String>,
    #[serde(default)]
    pub twitter: Option<String>,
    #[serde(default)]
    pub facebook: Option<String>,
    #[serde(default)]
    pub posts_count: u64,
    #[serde(default)]
    pub followers_count: u64,
    #[serde(default)]
    pub following_count: u64,
    /// Firebase registration tokens of the user's devices, newest last.
    #[serde(default)]
    pub fcm_tokens: Vec<String>,
    pub created_at: Micros,
    pub updated_at: Micros,
}

impl User {
    /// A new account with an empty profile.
    pub fn new(id: u64, email: String, password_hash: String, now: Micros) -> Self {
        User {
            id,
            email,
            username: None,
            full_name: None,
            password_hash,
            is_active: false,
            is_admin: false,
            bio: None,
            profile_picture: None,
            instagram: None,
            linkedin: None,
            twitter: None,
            facebook: None,
            posts_count: 0,
            followers_count: 0,
            following_count: 0,
            fcm_tokens: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OtpPurpose {
    Signup,
    ResetPassword,
}

impl OtpPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpPurpose::Signup => "signup",
            OtpPurpose::ResetPassword => "reset_password",
        }
    }
}

/// The one live code for an (email, purpose) pair; requesting a new one replaces it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Otp {
    /// Keyed BLAKE3 of the code (hex), so a copy of the database does not reveal live codes.
    pub code_hash: String,
    pub created_at: Micros,
    pub expires_at: Micros,
    pub attempts: u32,
    /// Set by a successful `reset_password` verification; the reset itself needs it.
    pub verified: bool,
}

/// A login and the family of refresh tokens descending from it. Only the newest token of
/// the family is valid; the hashes of spent ones are kept so that presenting one again (a
/// leaked token) is recognised and revokes the whole family.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub id: u64,
    pub user_id: u64,
    pub created_at: Micros,
    /// Sliding: each refresh moves it to now + refresh TTL.
    pub expires_at: Micros,
    /// BLAKE3 (hex) of the one refresh token that may be exchanged next.
    pub token_hash: String,
    /// Hashes of exchanged tokens, newest last, at most `Session::SPENT_KEPT`.
    #[serde(default)]
    pub spent_hashes: Vec<String>,
}

impl Session {
    /// Older spent tokens are simply unknown; 64 covers weeks of 15-minute refreshes.
    pub const SPENT_KEPT: usize = 64;
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    pub id: u64,
    pub user_id: u64,
    pub push_notifications_enabled: bool,
    pub email_notifications_enabled: bool,
    pub theme_preference: Theme,
}

impl Settings {
    pub fn defaults(id: u64, user_id: u64) -> Self {
        Settings {
            id,
            user_id,
            push_notifications_enabled: true,
            email_notifications_enabled: true,
            theme_preference: Theme::System,
        }
    }
}
