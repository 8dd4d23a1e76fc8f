//! Per-user settings, created with defaults on first read.

use super::{Result, Store, enc, keys};
use crate::model::Settings;

impl Store {
    pub async fn settings_or_default(&self, user_id: u64) -> Result<Settings> {
        if let Some(s) = self.settings(user_id)? {
            return Ok(s);
        }
        let fresh = Settings::defaults(self.new_id()?, user_id);
        // Two first reads racing must agree on one row (and one id).
        let prev = self.t().settings.compare_and_swap(
            keys::id(user_id),
            None as Option<&[u8]>,
            Some(enc(&fresh)),
        )?;
        match prev {
            Ok(()) => {
                self.durable().await?;
                Ok(fresh)
            }
            Err(_) => Ok(self.settings(user_id)?.unwrap_or(fresh)),
        }
    }

    pub async fn put_settings(&self, s: &Settings) -> Result<()> {
        self.t().settings.insert(keys::id(s.user_id), enc(s))?;
        self.durable().await
    }
}
