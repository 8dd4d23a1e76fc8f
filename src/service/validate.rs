//! Input rules shared by the use cases. Failures are `Invalid` (422) with a message the
//! app can show as it is.

use super::error::{Error, Result, invalid};

pub const PASSWORD_MIN: usize = 8;
/// argon2 cost barely depends on length, but unbounded input is never a good idea.
pub const PASSWORD_MAX: usize = 256;

pub fn email(raw: &str) -> Result<String> {
    let e = raw.trim();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        })
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c));
    if ok {
        Ok(e.to_string())
    } else {
        Err(invalid("Enter a valid email address"))
    }
}

pub fn password(p: &str) -> Result<()> {
    let n = p.chars().count();
    if n < PASSWORD_MIN {
        return Err(invalid(format!(
            "Password must be at least {PASSWORD_MIN} characters"
        )));
    }
    if p.len() > PASSWORD_MAX {
        return Err(invalid(format!(
            "Password must be at most {PASSWORD_MAX} bytes"
        )));
    }
    Ok(())
}

/// URL-safe, because the app puts usernames into paths unencoded.
pub fn username(u: &str) -> Result<String> {
    let u = u.trim();
    let ok = (3..=30).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(u.to_string())
    } else {
        Err(invalid(
            "Username must be 3-30 characters: letters, digits, '.', '_' or '-'",
        ))
    }
}

/// Free text with a length cap; control characters other than newlines are refused.
pub fn text(field: &str, v: &str, max_chars: usize) -> Result<String> {
    if v.chars().count() > max_chars {
        return Err(invalid(format!(
            "{field} must be at most {max_chars} characters"
        )));
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(format!("{field} contains control characters")));
    }
    Ok(v.trim().to_string())
}

/// Optional text: an empty value clears the field.
pub fn opt_text(field: &str, v: &str, max_chars: usize) -> Result<Option<String>> {
    let v = text(field, v, max_chars)?;
    Ok((!v.is_empty()).then_some(v))
}

/// An absolute http(s) URL (media URLs are loaded by the app without a base).
pub fn opt_url(field: &str, v: &str) -> Result<Option<String>> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let ok = (v.starts_with("https://") || v.starts_with("http://"))
        && v.len() <= 2048
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(Some(v.to_string()))
    } else {
        Err(Error::Invalid(format!(
            "{field} must be an absolute http(s) URL"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" a.b@ex.com ").unwrap(), "a.b@ex.com");
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "a@.com",
            "a@b.com.",
            "a b@c.com",
            "a@b@c.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_and_passwords() {
        assert!(username("alice_01.x-y").is_ok());
        for bad in ["ab", "a/b", "ali ce", "ünï", &"a".repeat(31)] {
            assert!(username(bad).is_err(), "{bad}");
        }
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"x".repeat(257)).is_err());
    }

    #[test]
    fn urls_and_text() {
        assert_eq!(opt_url("p", "").unwrap(), None);
        assert!(opt_url("p", "/data/x.jpg").is_err());
        assert!(opt_url("p", "https://h/x.jpg").unwrap().is_some());
        assert!(text("bio", "a\u{0}b", 10).is_err());
        assert!(text("bio", &"é".repeat(11), 10).is_err());
    }
}
