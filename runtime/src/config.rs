//! Configuration: defaults, then a TOML file, then `TAILOR_*` environment variables, then the
//! command line (`--listen`, `--data`), each overriding the one before.
//!
//! Every setting, its environment variable and its default is listed in `docs/runtime.md`; the
//! doc comments on the fields below say the same. Unknown keys in the file are errors, so a
//! misspelt setting is reported instead of silently ignored.

use crate::audit::Durability;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tailor_compiler::Backend;

/// The most recent decisions a deploy's what-if replays.
pub const MAX_WHAT_IF_RECENT: usize = 100_000;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (`TAILOR_LISTEN`). Port 0 picks a free port; the bound address is
    /// printed on stdout as `listening on http://ADDR`.
    pub listen: String,
    /// The sled directory (`TAILOR_DATA`).
    pub data_dir: PathBuf,
    /// `interpreter` or `jit` (`TAILOR_BACKEND`).
    pub backend: Backend,
    pub http: HttpConfig,
    pub decide: DecideConfig,
    pub audit: AuditConfig,
    pub identity: IdentityConfig,
    pub admin: AdminConfig,
    pub faults: FaultsConfig,
    pub log: LogConfig,
    pub deploy: DeployConfig,
    pub batch: BatchConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DeployConfig {
    /// When set, every `POST /admin/bundles` is gated on a what-if replay of at least this many
    /// of the tenant's most recent decisions, even when the request asks for none
    /// (`TAILOR_DEPLOY_REQUIRE_WHAT_IF`).
    pub require_what_if: Option<usize>,
    /// The largest fraction (0.0 to 1.0) of the compared decisions a deploy may change when the
    /// request gives no `max_changed_fraction`; unset, a what-if only reports
    /// (`TAILOR_DEPLOY_MAX_CHANGED_FRACTION`).
    pub max_changed_fraction: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Where batch plans write their output and manifests (`TAILOR_BATCH_DIR`); default
    /// `<data_dir>/plans`.
    pub dir: Option<PathBuf>,
    /// Worker threads per batch plan (`TAILOR_BATCH_THREADS`); 0, the default, uses every core.
    pub threads: usize,
    /// Plans that may run at once (`TAILOR_BATCH_MAX_RUNNING`, default 2). Another is refused
    /// (HTTP 429 `too_many_plans`) until one ends: each plan already uses every core, so more
    /// would only share them, and each holds its own copy of the bundle and catalog.
    pub max_running: usize,
}

impl Default for BatchConfig {
    fn default() -> BatchConfig {
        BatchConfig {
            dir: None,
            threads: 0,
            max_running: 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest body of a decide, event or single ingestion request (`TAILOR_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Largest body of a deploy, catalog or bulk ingestion request (`TAILOR_MAX_ADMIN_BODY_BYTES`).
    pub max_admin_body_bytes: usize,
    /// A request that takes longer is answered 503 `timeout` (`TAILOR_REQUEST_TIMEOUT_MS`).
    pub request_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecideConfig {
    /// How long loading a subject's data (identity, profile, features, consent, impressions) may
    /// take before the placement's fallback is served instead (`TAILOR_DEADLINE_MS`).
    pub deadline_ms: u64,
    /// Freezes `now()` at this RFC 3339 time, for demos and tests (`TAILOR_FIXED_NOW`).
    pub fixed_now: Option<String>,
    /// Whether `constraints.require_consent: false` is honoured (`TAILOR_ALLOW_CONSENT_BYPASS`).
    /// When false such a request is refused with 403 `consent_bypass_forbidden`.
    pub allow_consent_bypass: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// `sync` (one flush per decision) or `batched` (group commit) (`TAILOR_AUDIT_DURABILITY`).
    pub durability: Durability,
    /// The most records one group commit writes (`TAILOR_AUDIT_BATCH_MAX`).
    pub batch_max: usize,
    /// How long a decision waits for its record to be durable before answering with
    /// `"logged": false` (`TAILOR_AUDIT_ACK_TIMEOUT_MS`).
    pub ack_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// The key identifiers are hashed with (`TAILOR_HASH_KEY`). When unset, one is generated at
    /// first start and kept in the store.
    pub hash_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// When set, `/admin/*` and `/ingest/*` require `Authorization: Bearer <token>`
    /// (`TAILOR_ADMIN_TOKEN`).
    pub token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsConfig {
    /// Enables `POST /admin/faults`, which makes the store slow or failing on purpose, for
    /// degradation tests (`TAILOR_FAULTS=1`). Never enable in production.
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` or `text` (`TAILOR_LOG_FORMAT`).
    pub format: String,
    /// A tracing filter such as `info` or `tailor_runtime=debug` (`TAILOR_LOG`).
    pub level: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("tailor-data"),
            backend: Backend::Interpreter,
            http: HttpConfig::default(),
            decide: DecideConfig::default(),
            audit: AuditConfig::default(),
            identity: IdentityConfig::default(),
            admin: AdminConfig::default(),
            faults: FaultsConfig::default(),
            log: LogConfig::default(),
            deploy: DeployConfig::default(),
            batch: BatchConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            max_body_bytes: 64 * 1024,
            max_admin_body_bytes: 32 * 1024 * 1024,
            request_timeout_ms: 5_000,
        }
    }
}

impl Default for DecideConfig {
    fn default() -> DecideConfig {
        DecideConfig {
            deadline_ms: 50,
            fixed_now: None,
            allow_consent_bypass: false,
        }
    }
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            durability: Durability::Batched,
            batch_max: 512,
            ack_timeout_ms: 2_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            format: "json".into(),
            level: "info".into(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("`{path}`: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: &'static str, message: String },
    #[error("{0}")]
    Invalid(String),
}

fn parse_env<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.parse::<T>().map_err(|e| ConfigError::Env {
        name,
        message: format!("`{value}`: {e}"),
    })
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError::Env {
            name,
            message: format!("`{value}` is not a boolean (use true or false)"),
        }),
    }
}

impl Config {
    /// Defaults, overridden by `file` (if given), overridden by the environment `env`.
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str::<Config>(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("TAILOR_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = env("TAILOR_DATA") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("TAILOR_BACKEND") {
            self.backend = parse_env("TAILOR_BACKEND", &v)?;
        }
        if let Some(v) = env("TAILOR_MAX_BODY_BYTES") {
            self.http.max_body_bytes = parse_env("TAILOR_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = env("TAILOR_MAX_ADMIN_BODY_BYTES") {
            self.http.max_admin_body_bytes = parse_env("TAILOR_MAX_ADMIN_BODY_BYTES", &v)?;
        }
        if let Some(v) = env("TAILOR_REQUEST_TIMEOUT_MS") {
            self.http.request_timeout_ms = parse_env("TAILOR_REQUEST_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = env("TAILOR_DEADLINE_MS") {
            self.decide.deadline_ms = parse_env("TAILOR_DEADLINE_MS", &v)?;
        }
        if let Some(v) = env("TAILOR_FIXED_NOW") {
            self.decide.fixed_now = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = env("TAILOR_ALLOW_CONSENT_BYPASS") {
            self.decide.allow_consent_bypass = parse_bool("TAILOR_ALLOW_CONSENT_BYPASS", &v)?;
        }
        if let Some(v) = env("TAILOR_AUDIT_DURABILITY") {
            self.audit.durability = parse_env("TAILOR_AUDIT_DURABILITY", &v)?;
        }
        if let Some(v) = env("TAILOR_AUDIT_BATCH_MAX") {
            self.audit.batch_max = parse_env("TAILOR_AUDIT_BATCH_MAX", &v)?;
        }
        if let Some(v) = env("TAILOR_AUDIT_ACK_TIMEOUT_MS") {
            self.audit.ack_timeout_ms = parse_env("TAILOR_AUDIT_ACK_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = env("TAILOR_HASH_KEY") {
            self.identity.hash_key = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = env("TAILOR_ADMIN_TOKEN") {
            self.admin.token = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = env("TAILOR_FAULTS") {
            self.faults.enabled = parse_bool("TAILOR_FAULTS", &v)?;
        }
        if let Some(v) = env("TAILOR_LOG_FORMAT") {
            self.log.format = v;
        }
        if let Some(v) = env("TAILOR_LOG") {
            self.log.level = v;
        }
        if let Some(v) = env("TAILOR_DEPLOY_REQUIRE_WHAT_IF") {
            self.deploy.require_what_if = match v.as_str() {
                "" | "0" => None,
                n => Some(parse_env("TAILOR_DEPLOY_REQUIRE_WHAT_IF", n)?),
            };
        }
        if let Some(v) = env("TAILOR_DEPLOY_MAX_CHANGED_FRACTION") {
            self.deploy.max_changed_fraction = match v.as_str() {
                "" => None,
                f => Some(parse_env("TAILOR_DEPLOY_MAX_CHANGED_FRACTION", f)?),
            };
        }
        if let Some(v) = env("TAILOR_BATCH_DIR") {
            self.batch.dir = (!v.is_empty()).then(|| PathBuf::from(v));
        }
        if let Some(v) = env("TAILOR_BATCH_THREADS") {
            self.batch.threads = parse_env("TAILOR_BATCH_THREADS", &v)?;
        }
        if let Some(v) = env("TAILOR_BATCH_MAX_RUNNING") {
            self.batch.max_running = parse_env("TAILOR_BATCH_MAX_RUNNING", &v)?;
        }
        Ok(())
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(now) = &self.decide.fixed_now {
            tailor_compiler::interp::time::parse_rfc3339(now)
                .map_err(|e| ConfigError::Invalid(format!("decide.fixed_now `{now}`: {e}")))?;
        }
        if !matches!(self.log.format.as_str(), "json" | "text") {
            return Err(ConfigError::Invalid(format!(
                "log.format `{}`: expected `json` or `text`",
                self.log.format
            )));
        }
        if self.http.max_body_bytes == 0 || self.http.max_admin_body_bytes == 0 {
            return Err(ConfigError::Invalid("body size limits must be above 0".into()));
        }
        if self.audit.batch_max == 0 {
            return Err(ConfigError::Invalid("audit.batch_max must be above 0".into()));
        }
        if self.batch.max_running == 0 {
            return Err(ConfigError::Invalid("batch.max_running must be above 0".into()));
        }
        if let Some(f) = self.deploy.max_changed_fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(ConfigError::Invalid(format!(
                    "deploy.max_changed_fraction {f}: expected 0.0 to 1.0"
                )));
            }
        }
        if self.deploy.require_what_if.is_some_and(|n| n > MAX_WHAT_IF_RECENT) {
            return Err(ConfigError::Invalid(format!(
                "deploy.require_what_if: at most {MAX_WHAT_IF_RECENT}"
            )));
        }
        Ok(())
    }

    /// The frozen request time, if configured.
    pub fn fixed_now_ms(&self) -> Option<i64> {
        self.decide
            .fixed_now
            .as_deref()
            .and_then(|t| tailor_compiler::interp::time::parse_rfc3339(t).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn file_then_environment_override_the_defaults() {
        let dir = std::env::temp_dir().join(format!("tailor-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tailor.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\n[audit]\ndurability = \"sync\"\n[decide]\ndeadline_ms = 20\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), &env(&[("TAILOR_DEADLINE_MS", "30")])).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.audit.durability, Durability::Sync);
        assert_eq!(c.decide.deadline_ms, 30);
        assert_eq!(c.backend, Backend::Interpreter);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_deploy_gate_is_configured_by_file_and_environment() {
        assert_eq!(Config::default().deploy, DeployConfig::default());
        let dir = std::env::temp_dir().join(format!("tailor-config-deploy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tailor.toml");
        std::fs::write(&path, "[deploy]\nrequire_what_if = 500\nmax_changed_fraction = 0.1\n").unwrap();
        let c = Config::load(Some(&path), &env(&[])).unwrap();
        assert_eq!(
            (c.deploy.require_what_if, c.deploy.max_changed_fraction),
            (Some(500), Some(0.1))
        );
        let c = Config::load(Some(&path), &env(&[("TAILOR_DEPLOY_REQUIRE_WHAT_IF", "0")])).unwrap();
        assert_eq!(c.deploy.require_what_if, None);
        let c = Config::load(None, &env(&[("TAILOR_DEPLOY_MAX_CHANGED_FRACTION", "0")])).unwrap();
        assert_eq!(c.deploy.max_changed_fraction, Some(0.0));
        assert!(Config::load(None, &env(&[("TAILOR_DEPLOY_MAX_CHANGED_FRACTION", "1.5")])).is_err());
        assert!(Config::load(None, &env(&[("TAILOR_DEPLOY_REQUIRE_WHAT_IF", "many")])).is_err());
        assert!(Config::load(None, &env(&[("TAILOR_DEPLOY_REQUIRE_WHAT_IF", "100001")])).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(Config::load(None, &env(&[("TAILOR_BACKEND", "fast")])).is_err());
        assert!(Config::load(None, &env(&[("TAILOR_FIXED_NOW", "yesterday")])).is_err());
        assert!(Config::load(None, &env(&[("TAILOR_FAULTS", "maybe")])).is_err());
        assert!(Config::load(None, &env(&[("TAILOR_BATCH_MAX_RUNNING", "0")])).is_err());
        let c = Config::load(None, &env(&[("TAILOR_BATCH_MAX_RUNNING", "4")])).unwrap();
        assert_eq!((Config::default().batch.max_running, c.batch.max_running), (2, 4));
        let dir = std::env::temp_dir().join(format!("tailor-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tailor.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        assert!(matches!(
            Config::load(Some(&path), &env(&[])),
            Err(ConfigError::Parse { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
