//! Configuration: embedded defaults ← `config.toml` ← `VEXTRA_<SECTION>__<KEY>` ← CLI flags.
//!
//! Every key is optional. Unknown keys and bad values stop start-up with a message that
//! names the key and where it came from (figment keeps the provenance of every value).

use std::{fmt, net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Format, Serialized, Toml},
};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub otp: OtpConfig,
    pub rate_limit: RateLimitConfig,
    pub smtp: SmtpConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Base of every absolute URL the server hands out (media, share links, OAuth pages).
    pub public_url: String,
    /// Origins allowed by CORS; empty = no cross-origin browser access; `["*"]` = any.
    pub cors_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// How long a shutdown waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// Tokio worker threads; 0 = one per core.
    pub workers: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            cors_origins: Vec::new(),
            body_limit: 1024 * 1024,
            trust_forwarded_for: false,
            shutdown_timeout_secs: 20,
            workers: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// sled page cache in MiB. sled's own default is 1 GiB, far too much for a Pi.
    pub cache_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./vextra-data"),
            cache_mb: 16,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 key for access tokens; empty = generated into `<data_dir>/jwt.key`.
    pub jwt_secret: Secret,
    /// 32-byte key (base64) for platform tokens at rest; empty = `<data_dir>/token.key`.
    pub token_encryption_key: Secret,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Password hashes computed at once; 0 = one per core. Each argon2id hash holds 19 MiB.
    pub hash_concurrency: usize,
    /// Whether anyone may sign up (the mobile app's sign-up screen needs it).
    pub allow_signup: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: Secret::default(),
            token_encryption_key: Secret::default(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            hash_concurrency: 0,
            allow_signup: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtpConfig {
    pub ttl_secs: u64,
    pub max_attempts: u32,
    pub resend_cooldown_secs: u64,
}

impl Default for OtpConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 600,
            max_attempts: 5,
            resend_cooldown_secs: 60,
        }
    }
}

/// Requests allowed per minute (token buckets: the full amount may come as a burst).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub login_per_ip: u32,
    pub login_per_account: u32,
    pub otp_per_ip: u32,
    pub otp_per_account: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            login_per_ip: 20,
            login_per_account: 10,
            otp_per_ip: 20,
            otp_per_account: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Empty = no mail: one-time codes are written to the log instead.
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    pub password: Secret,
    pub from: String,
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: Secret::default(),
            from: "Vextra <noreply@localhost>".into(),
            timeout_secs: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter: `info`, `vextra=debug,poem=info`, … (`RUST_LOG` overrides it).
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// A string that never shows up in `Debug` output or logs.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"***\"")
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    // Environment values that look like numbers ("VEXTRA_SMTP__PASSWORD=123456") arrive as
    // integers; a secret is always text, so take them verbatim.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
            U(u64),
            F(f64),
            B(bool),
        }
        Ok(Secret(match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::I(i) => i.to_string(),
            Raw::U(u) => u.to_string(),
            Raw::F(f) => f.to_string(),
            Raw::B(b) => b.to_string(),
        }))
    }
}

/// Overrides given on the command line; they win over the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads the configuration the way `vextra serve` does. `file` is read only when given
    /// (a missing file named explicitly is an error); `env` is the process environment.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        // figment reads the real environment; to keep `load` testable the variables are
        // passed in and exposed to it through a scoped provider.
        let vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("VEXTRA_") && !RESERVED_ENV.contains(&k.as_str()))
            .collect();
        fig = fig.merge(env_provider(vars));
        if let Some(bind) = overrides.bind {
            fig = fig.merge(Serialized::default("server.bind", bind));
        }
        if let Some(dir) = &overrides.data_dir {
            fig = fig.merge(Serialized::default("storage.data_dir", dir));
        }
        let config: Config = fig.extract().map_err(describe)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        let url = self.server.public_url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            return bad(
                "server.public_url",
                "must be an absolute http:// or https:// URL",
            );
        }
        if self.server.body_limit < 1024 {
            return bad("server.body_limit", "must be at least 1024 bytes");
        }
        if self.storage.cache_mb == 0 {
            return bad("storage.cache_mb", "must be at least 1");
        }
        if self.auth.access_token_ttl_secs < 60 {
            return bad("auth.access_token_ttl_secs", "must be at least 60");
        }
        if self.auth.refresh_token_ttl_secs < self.auth.access_token_ttl_secs {
            return bad(
                "auth.refresh_token_ttl_secs",
                "must not be shorter than auth.access_token_ttl_secs",
            );
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.0.len() < 32 {
            return bad("auth.jwt_secret", "must be at least 32 characters");
        }
        if !self.auth.token_encryption_key.is_empty()
            && crate::secrets::decode_key(self.auth.token_encryption_key.expose()).is_none()
        {
            return bad(
                "auth.token_encryption_key",
                "must be 32 bytes encoded as base64",
            );
        }
        if self.otp.ttl_secs < 60 {
            return bad("otp.ttl_secs", "must be at least 60");
        }
        if self.otp.max_attempts == 0 {
            return bad("otp.max_attempts", "must be at least 1");
        }
        let rl = &self.rate_limit;
        for (key, v) in [
            ("rate_limit.login_per_ip", rl.login_per_ip),
            ("rate_limit.login_per_account", rl.login_per_account),
            ("rate_limit.otp_per_ip", rl.otp_per_ip),
            ("rate_limit.otp_per_account", rl.otp_per_account),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1");
            }
        }
        if !self.smtp.host.is_empty() && !self.smtp.from.contains('@') {
            return bad(
                "smtp.from",
                "must be a mail address like `Vextra <noreply@example.com>`",
            );
        }
        if self.smtp.timeout_secs == 0 {
            return bad("smtp.timeout_secs", "must be at least 1");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad(
                "log.level",
                "is not a valid filter such as `info` or `vextra=debug`",
            );
        }
        Ok(())
    }
}

/// Variables that configure the process itself rather than a config key.
const RESERVED_ENV: &[&str] = &["VEXTRA_CONFIG"];

fn env_provider(vars: Vec<(String, String)>) -> impl figment::Provider {
    use figment::value::{Dict, Map, Value};
    struct Vars(Vec<(String, String)>);
    impl figment::Provider for Vars {
        fn metadata(&self) -> figment::Metadata {
            figment::Metadata::named("environment variable")
                .interpolater(|_, keys| format!("VEXTRA_{}", keys.join("__").to_uppercase()))
        }
        fn data(&self) -> Result<Map<figment::Profile, Dict>, figment::Error> {
            let mut dict = Dict::new();
            for (key, value) in &self.0 {
                let path = key["VEXTRA_".len()..].to_lowercase().replace("__", ".");
                // Same value syntax as figment's own Env provider: numbers, booleans and
                // arrays parse as such, anything else stays a string.
                let parsed: Value = value.parse().unwrap_or_else(|_| Value::from(value.clone()));
                if let Value::Dict(_, nested) = figment::util::nest(&path, parsed) {
                    merge_dict(&mut dict, nested);
                }
            }
            Ok(figment::Profile::Default.collect(dict))
        }
    }
    fn merge_dict(into: &mut Dict, from: Dict) {
        for (k, v) in from {
            match (into.get_mut(&k), v) {
                (Some(Value::Dict(_, a)), Value::Dict(_, b)) => merge_dict(a, b),
                (_, v) => {
                    into.insert(k, v);
                }
            }
        }
    }
    Vars(vars)
}

/// One line per problem, each naming the key and where its value came from.
fn describe(err: figment::Error) -> ConfigError {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            // For an unknown field figment's path already ends with the field's name.
            let key = &e.path;
            let what = match &e.kind {
                figment::error::Kind::UnknownField(..) => "unknown key".to_string(),
                kind => kind.to_string(),
            };
            let source = match &e.metadata {
                Some(m) if m.name == "environment variable" => format!(
                    " (environment variable VEXTRA_{})",
                    key.join("__").to_uppercase()
                ),
                Some(m) => match &m.source {
                    Some(src) => format!(" (in {src})"),
                    None => format!(" ({})", m.name),
                },
                None => String::new(),
            };
            format!("`{}`: {what}{source}", key.join("."))
        })
        .collect();
    ConfigError(lines.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented example; it must parse to exactly the defaults.
    const EXAMPLE: &str = include_str!("../config.toml.example");

    fn load_str(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml).unwrap();
        Config::load(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            &Overrides::default(),
        )
    }

    #[test]
    fn the_example_documents_exactly_the_defaults() {
        let from_example = load_str(EXAMPLE, &[]).unwrap();
        assert_eq!(
            serde_json::to_value(&from_example).unwrap(),
            serde_json::to_value(Config::default()).unwrap()
        );
        // Every key of the defaults appears in the example.
        let defaults = serde_json::to_value(Config::default()).unwrap();
        for (section, keys) in defaults.as_object().unwrap() {
            assert!(EXAMPLE.contains(&format!("[{section}]")), "[{section}]");
            for key in keys.as_object().unwrap().keys() {
                assert!(EXAMPLE.contains(&format!("\n{key} = ")), "{section}.{key}");
            }
        }
    }

    #[test]
    fn environment_overrides_file_and_flags_override_both() {
        let c = load_str(
            "[smtp]\nhost = \"a\"\nport = 25\nfrom = \"x@y.z\"\n",
            &[
                ("VEXTRA_SMTP__PORT", "2525"),
                ("VEXTRA_SMTP__SECURITY", "tls"),
                ("VEXTRA_SMTP__PASSWORD", "123456"),
                ("VEXTRA_CONFIG", "ignored.toml"),
                ("OTHER", "x"),
            ],
        )
        .unwrap();
        assert_eq!(c.smtp.host, "a");
        assert_eq!(c.smtp.port, 2525);
        assert_eq!(c.smtp.security, SmtpSecurity::Tls);
        assert_eq!(c.smtp.password.expose(), "123456");
        assert!(!format!("{c:?}").contains("123456"), "secrets are redacted");

        let c = Config::load(
            None,
            [("VEXTRA_SERVER__BIND".to_string(), "127.0.0.1:1".to_string())],
            &Overrides {
                bind: Some("127.0.0.1:2".parse().unwrap()),
                data_dir: Some("/tmp/x".into()),
            },
        )
        .unwrap();
        assert_eq!(c.server.bind.port(), 2);
        assert_eq!(c.storage.data_dir, std::path::PathBuf::from("/tmp/x"));
    }

    #[test]
    fn errors_name_the_key_and_its_source() {
        let e = load_str("[server]\nbindd = \"x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.bindd") && e.contains("unknown"), "{e}");
        let e = load_str("", &[("VEXTRA_SMTP__PORT", "abc")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("smtp.port") && e.contains("VEXTRA_SMTP__PORT"),
            "{e}"
        );
        let e = load_str("", &[("VEXTRA_NOPE__X", "1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope"), "{e}");
        let e = load_str("[smtp]\nsecurity = \"ssl\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("smtp.security"), "{e}");
        let e = load_str("[server]\npublic_url = \"ftp://x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.public_url"), "{e}");
        let e = load_str("not toml [", &[]).unwrap_err().to_string();
        assert!(!e.is_empty());
    }
}
