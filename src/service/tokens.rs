//! Access tokens (HS256 JWTs: `sub` = user id, `sid` = session, `exp`) and refresh tokens
//! (opaque: user id | session id | 32 random bytes, base64url; stored only as a hash).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::secrets;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: u64,
    pub iat: u64,
    pub exp: u64,
}

pub struct Tokens {
    enc: EncodingKey,
    dec: DecodingKey,
    validation: Validation,
}

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: u64,
    pub session_id: u64,
}

pub struct RefreshParts {
    pub user_id: u64,
    pub session_id: u64,
    /// BLAKE3 of the whole token, hex: what the store compares.
    pub hash: String,
}

impl Tokens {
    pub fn new(secret: &[u8]) -> Self {
        // Only HS256 is accepted: a token claiming `none` or another algorithm is refused
        // before its signature is looked at.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Tokens {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn access(&self, user_id: u64, session_id: u64, now_secs: u64, ttl: u64) -> String {
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id,
            iat: now_secs,
            exp: now_secs + ttl,
        };
        // Encoding HS256 with an in-memory key has no failure mode.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc).unwrap_or_default()
    }

    pub fn check_access(&self, token: &str) -> Option<AccessClaims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.dec, &self.validation).ok()?;
        Some(AccessClaims {
            user_id: data.claims.sub.parse().ok()?,
            session_id: data.claims.sid,
        })
    }

    pub fn new_refresh(user_id: u64, session_id: u64) -> (String, String) {
        let mut raw = [0u8; 48];
        raw[..8].copy_from_slice(&user_id.to_be_bytes());
        raw[8..16].copy_from_slice(&session_id.to_be_bytes());
        raw[16..].copy_from_slice(&secrets::random_bytes::<32>());
        let token = secrets::b64url(&raw);
        let hash = refresh_hash(&token);
        (token, hash)
    }

    pub fn parse_refresh(token: &str) -> Option<RefreshParts> {
        let raw = secrets::from_b64url(token.trim())?;
        if raw.len() != 48 {
            return None;
        }
        Some(RefreshParts {
            user_id: crate::store::keys::read_id(&raw[..8])?,
            session_id: crate::store::keys::read_id(&raw[8..16])?,
            hash: refresh_hash(token.trim()),
        })
    }
}

fn refresh_hash(token: &str) -> String {
    secrets::hex(blake3::hash(token.as_bytes()).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_round_trip_and_reject_tampering() {
        let t = Tokens::new(&[1u8; 64]);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let tok = t.access(42, 7, now, 900);
        assert_eq!(
            t.check_access(&tok),
            Some(AccessClaims {
                user_id: 42,
                session_id: 7
            })
        );
        assert_eq!(Tokens::new(&[2u8; 64]).check_access(&tok), None);
        assert_eq!(t.check_access(&t.access(42, 7, now - 1000, 900)), None);
        assert_eq!(t.check_access("null"), None);
    }

    #[test]
    fn refresh_tokens_carry_their_ids() {
        let (tok, hash) = Tokens::new_refresh(5, 9);
        let p = Tokens::parse_refresh(&tok).unwrap();
        assert_eq!((p.user_id, p.session_id), (5, 9));
        assert_eq!(p.hash, hash);
        assert!(Tokens::parse_refresh("abc").is_none());
        assert!(Tokens::parse_refresh("").is_none());
    }
}
