//! Server secrets and randomness. Keys the configuration does not give are generated on
//! first start into the data directory (mode 0600) and read from there afterwards.

use std::{
    fs,
    io::{self, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};

pub struct Keys {
    pub jwt: Vec<u8>,
    /// AES-256 key for platform tokens at rest.
    pub token_encryption: [u8; 32],
    /// Keys the BLAKE3 hashes of one-time codes, so stored hashes cannot be brute-forced
    /// offline without this file (there are only a million codes).
    pub otp_hash: [u8; 32],
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // getrandom fails only where the OS has no entropy source at all; a server without
    // one cannot issue safe tokens, so stopping is the only sound answer.
    getrandom::fill(&mut b).expect("the OS random number generator is unavailable");
    b
}

/// A uniformly distributed number below `bound` (rejection sampling, no modulo bias).
pub fn random_below(bound: u32) -> u32 {
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let v = u32::from_be_bytes(random_bytes::<4>());
        if v < zone {
            return v % bound;
        }
    }
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn from_b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

pub fn decode_key(s: &str) -> Option<[u8; 32]> {
    let bytes = STANDARD
        .decode(s.trim())
        .or_else(|_| URL_SAFE_NO_PAD.decode(s.trim()))
        .ok()?;
    bytes.try_into().ok()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Creates the data directory (0700) if needed and tightens an existing one.
pub fn prepare_data_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// Loads the configured keys, or those in `dir`, generating missing ones.
pub fn load_or_generate(dir: &Path, jwt: &str, token_key: &str) -> io::Result<Keys> {
    let jwt = if jwt.is_empty() {
        key_file(&dir.join("jwt.key"), 64)?
    } else {
        jwt.as_bytes().to_vec()
    };
    let token_encryption = match decode_key(token_key) {
        Some(k) => k,
        None => key_file(&dir.join("token.key"), 32)?
            .try_into()
            .map_err(|_| io::Error::other("token.key does not hold 32 bytes"))?,
    };
    let otp_hash = key_file(&dir.join("otp.key"), 32)?
        .try_into()
        .map_err(|_| io::Error::other("otp.key does not hold 32 bytes"))?;
    Ok(Keys {
        jwt,
        token_encryption,
        otp_hash,
    })
}

/// Reads a base64 key file, or writes a new random key with mode 0600. `create_new`
/// makes two processes starting at once agree on one key.
fn key_file(path: &Path, len: usize) -> io::Result<Vec<u8>> {
    let read = |path: &Path| -> io::Result<Vec<u8>> {
        let text = fs::read_to_string(path)?;
        let key = STANDARD
            .decode(text.trim())
            .map_err(|_| io::Error::other(format!("{} is not valid base64", path.display())))?;
        if key.len() < len {
            return Err(io::Error::other(format!(
                "{} holds {} bytes; {len} are needed",
                path.display(),
                key.len()
            )));
        }
        Ok(key)
    };
    if path.exists() {
        return read(path);
    }
    let mut key = vec![0u8; len];
    getrandom::fill(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => {
            f.write_all(STANDARD.encode(&key).as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new secret key");
            Ok(key)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_generated_once_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        prepare_data_dir(&data).unwrap();
        let a = load_or_generate(&data, "", "").unwrap();
        let b = load_or_generate(&data, "", "").unwrap();
        assert_eq!(a.jwt, b.jwt);
        assert_eq!(a.token_encryption, b.token_encryption);
        assert_eq!(a.jwt.len(), 64);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        for f in ["jwt.key", "token.key", "otp.key"] {
            assert_eq!(mode(&data.join(f)), 0o600, "{f}");
        }
    }

    #[test]
    fn configured_keys_win() {
        let dir = tempfile::tempdir().unwrap();
        let k = STANDARD.encode([7u8; 32]);
        let keys = load_or_generate(dir.path(), "x".repeat(40).as_str(), &k).unwrap();
        assert_eq!(keys.jwt, b"x".repeat(40));
        assert_eq!(keys.token_encryption, [7u8; 32]);
        assert!(!dir.path().join("jwt.key").exists());
    }

    #[test]
    fn random_below_stays_in_range() {
        for _ in 0..1000 {
            assert!(random_below(1_000_000) < 1_000_000);
        }
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
    }
}
