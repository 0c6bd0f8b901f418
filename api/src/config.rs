//! The `idem` command line: one `Cli` tree read once in `main` from flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderName;
use clap::{Args, Parser, Subcommand, ValueEnum};
use idem_engine::EngineConfig;
use idem_otel::OtelConfig;

use crate::auth::OidcConfig;

/// idem: an Enterprise Master Patient Index.
#[derive(Debug, Parser)]
#[command(name = "idem", version, about)]
pub struct Cli {
    /// What to do; without a subcommand idem serves the API and runs workers in one process.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings every command shares.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Settings every command shares.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// PostgreSQL URL of idem's database.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/idem",
        global = true
    )]
    pub database_url: String,
    /// OTLP/HTTP endpoint for traces (none: traces are not exported).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of exported traces.
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "idem", global = true)]
    pub service_name: String,
    /// Address S3 buckets path-style (`endpoint/bucket/key`), as MinIO, moto and most S3-compatible
    /// servers need. The endpoint itself comes from `AWS_ENDPOINT_URL`.
    #[arg(long, env = "IDEM_S3_FORCE_PATH_STYLE", global = true)]
    pub s3_force_path_style: bool,
    /// Log filter (tracing `EnvFilter` syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Directory of comparator plugins: every library file in it is loaded at start.
    #[arg(long, env = "IDEM_PLUGIN_DIR", global = true)]
    pub plugin_dir: Option<PathBuf>,
    /// A comparator plugin library to load at start (repeatable), in addition to the directory.
    #[arg(long = "plugin", value_name = "PATH", global = true)]
    pub plugins: Vec<PathBuf>,
}

impl CommonArgs {
    /// Loads the comparator plugins named by `--plugin-dir` / `IDEM_PLUGIN_DIR` and `--plugin`.
    pub fn load_plugins(&self) -> Result<idem_plugin_host::Plugins, idem_plugin_host::PluginError> {
        let dir = self
            .plugin_dir
            .as_deref()
            .filter(|d| !d.as_os_str().is_empty());
        idem_plugin_host::Plugins::load(dir, &self.plugins)
    }

    /// Telemetry settings.
    pub fn otel(&self) -> OtelConfig {
        OtelConfig {
            otlp_endpoint: self.otlp_endpoint.clone().filter(|e| !e.trim().is_empty()),
            service_name: self.service_name.clone(),
            log_filter: self.log.clone(),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database if missing and apply idem's and apalis's migrations.
    Migrate,
    /// Serve the HTTP API (and, with --with-worker, run workers in the same process).
    Serve(ServeArgs),
    /// Run workers that execute workflow steps.
    Worker(EngineArgs),
    /// Score a person-records CSV with a Splink settings file, without a database.
    Score(ScoreArgs),
    /// Make the first admin (does nothing if there already is an admin).
    Bootstrap(BootstrapArgs),
    /// Import a person-records CSV (a path or s3:// URI) and match it, as a durable run.
    Import(ImportArgs),
    /// Generate a synthetic data set, import and match it end to end, and print a summary.
    Demo(DemoArgs),
}

/// `idem import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV: a path (`.gz` for gzip) or `s3://bucket/key`.
    pub source: String,
    /// A stored config (`cfg_N`) or a Splink settings JSON file to store as a new config.
    #[arg(long)]
    pub config: String,
    /// Potential-match threshold of a new config (pairs above it are kept for review).
    #[arg(long, default_value_t = 0.5)]
    pub potential: f64,
    /// Auto-match threshold of a new config (pairs above it are merged).
    #[arg(long, default_value_t = 0.95)]
    pub auto: f64,
    /// Wait for the run to finish, with a progress bar per step; workers run in this process too.
    #[arg(long)]
    pub wait: bool,
    /// Engine settings (for --wait).
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `idem demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Rows to generate.
    #[arg(long, default_value_t = 10_000)]
    pub rows: usize,
    /// Seed of the generator: the same seed gives the same file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where to write the data set and its settings.
    #[arg(long, default_value = "idem-demo")]
    pub dir: PathBuf,
    /// Engine settings.
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `idem bootstrap`: exactly one of `--admin-sub` and `--admin-email`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct BootstrapArgs {
    /// The identity provider's user id (the JWT `sub`) of the first admin; the user is created if it
    /// has not signed in yet.
    #[arg(long)]
    pub admin_sub: Option<String>,
    /// The email of the first admin. idem learns emails only from tokens, so this user must have
    /// signed in once (and been refused with 403); otherwise use `--admin-sub`.
    #[arg(long)]
    pub admin_email: Option<String>,
}

/// `idem serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "IDEM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Also run workers in this process (small installs).
    #[arg(long)]
    pub with_worker: bool,
    /// Engine settings.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Authentication settings.
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Bearer JWTs from an OpenID Connect provider.
    Oidc,
    /// No authentication: every request is the local admin (local demos only).
    Disabled,
}

/// Authentication settings.
#[derive(Debug, Args, Clone)]
pub struct AuthArgs {
    /// `oidc` (bearer JWTs) or `disabled` (local demos only: every request is an admin).
    #[arg(long = "auth", env = "IDEM_AUTH", value_enum, default_value = "oidc")]
    pub mode: AuthMode,
    /// The OIDC issuer: tokens' `iss` must equal it; its discovery document gives the JWKS URL.
    #[arg(long, env = "IDEM_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The JWKS URL (default: `jwks_uri` of the issuer's discovery document).
    #[arg(long, env = "IDEM_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The audience tokens' `aud` must contain (the client id idem's tokens are issued for).
    #[arg(long, env = "IDEM_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// The header holding the token: `Authorization` (`Bearer <token>`) or a header with the bare
    /// token, such as oauth2-proxy's `X-Forwarded-Access-Token`.
    #[arg(long, env = "IDEM_AUTH_HEADER", default_value = "Authorization")]
    pub auth_header: String,
    /// A token with an unknown key id refetches the keys at most once per this many seconds.
    #[arg(long, env = "IDEM_JWKS_MIN_REFRESH_SECONDS", default_value_t = 30)]
    pub jwks_min_refresh_seconds: u64,
}

/// Why the authentication settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// A setting OIDC needs is missing.
    #[error(
        "IDEM_AUTH=oidc needs {0} (set it, or IDEM_AUTH=disabled for a local demo without authentication)"
    )]
    Missing(&'static str),
    /// `IDEM_AUTH_HEADER` is not a header name.
    #[error("IDEM_AUTH_HEADER {0:?} is not a valid header name")]
    BadHeader(String),
}

/// A setting's value, `None` when unset or blank.
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl AuthArgs {
    /// The OIDC settings, when the mode is `oidc`: the issuer is always needed (tokens' `iss` is
    /// always checked), and so is the audience; the JWKS URL is optional (discovery).
    pub fn oidc_config(&self) -> Result<Option<OidcConfig>, AuthConfigError> {
        if self.mode == AuthMode::Disabled {
            return Ok(None);
        }
        let issuer = set(&self.oidc_issuer).ok_or(AuthConfigError::Missing("IDEM_OIDC_ISSUER"))?;
        let audience =
            set(&self.oidc_audience).ok_or(AuthConfigError::Missing("IDEM_OIDC_AUDIENCE"))?;
        let header = HeaderName::try_from(self.auth_header.trim())
            .map_err(|_| AuthConfigError::BadHeader(self.auth_header.clone()))?;
        let mut config = OidcConfig::new(issuer, audience);
        config.jwks_url = set(&self.jwks_url).map(str::to_owned);
        config.header = header;
        config.min_refresh = Duration::from_secs(self.jwks_min_refresh_seconds);
        Ok(Some(config))
    }
}

/// Engine settings.
#[derive(Debug, Args, Clone)]
pub struct EngineArgs {
    /// Step slots in this process.
    #[arg(long, env = "IDEM_WORKERS", default_value_t = 4)]
    pub workers: usize,
    /// Seconds a running step's lease lasts; a dead worker's step is re-run after at most this long.
    #[arg(long, env = "IDEM_LEASE_SECONDS", default_value_t = 15.0)]
    pub lease_seconds: f64,
    /// Queue of step tasks.
    #[arg(long, env = "IDEM_QUEUE", default_value = "idem-steps")]
    pub queue: String,
}

impl EngineArgs {
    /// The engine's settings.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            queue: self.queue.clone(),
            workers: self.workers.max(1),
            lease: Duration::from_secs_f64(self.lease_seconds.max(0.3)),
            ..EngineConfig::default()
        }
    }
}

/// `idem score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Person-records CSV.
    pub csv: PathBuf,
    /// Splink settings JSON.
    pub settings: PathBuf,
    /// Where to write the pairs CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Keep pairs with match probability strictly above this.
    #[arg(long, default_value_t = 0.0)]
    pub threshold: f64,
    /// Also write per-comparison Bayes factors and term frequencies.
    #[arg(long)]
    pub explain: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["idem", "serve"];
        argv.extend_from_slice(args);
        match Cli::parse_from(argv).command {
            Some(Command::Serve(serve)) => serve,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oidc_needs_issuer_and_audience_and_disabled_needs_nothing() {
        let disabled = serve(&["--auth", "disabled"]);
        assert!(disabled.auth.oidc_config().unwrap().is_none());
        let missing = serve(&["--auth", "oidc", "--oidc-audience", "idem"]);
        assert!(matches!(
            missing.auth.oidc_config(),
            Err(AuthConfigError::Missing("IDEM_OIDC_ISSUER"))
        ));
        let blank = serve(&[
            "--auth",
            "oidc",
            "--oidc-issuer",
            "https://i",
            "--oidc-audience",
            " ",
        ]);
        assert!(matches!(
            blank.auth.oidc_config(),
            Err(AuthConfigError::Missing("IDEM_OIDC_AUDIENCE"))
        ));
        let bad = serve(&[
            "--auth",
            "oidc",
            "--oidc-issuer",
            "https://i",
            "--oidc-audience",
            "idem",
            "--auth-header",
            "not a header",
        ]);
        assert!(matches!(
            bad.auth.oidc_config(),
            Err(AuthConfigError::BadHeader(_))
        ));
        let custom = serve(&[
            "--auth",
            "oidc",
            "--oidc-issuer",
            "https://i",
            "--oidc-audience",
            "idem",
            "--auth-header",
            "X-Forwarded-Access-Token",
            "--jwks-url",
            "https://i/jwks",
        ])
        .auth
        .oidc_config()
        .unwrap()
        .unwrap();
        assert_eq!(custom.header, "x-forwarded-access-token");
        assert_eq!(custom.jwks_url.as_deref(), Some("https://i/jwks"));
        assert_eq!(
            (custom.issuer.as_str(), custom.audience.as_str()),
            ("https://i", "idem")
        );
        let default = serve(&[
            "--auth",
            "oidc",
            "--oidc-issuer",
            "https://i",
            "--oidc-audience",
            "idem",
        ])
        .auth
        .oidc_config()
        .unwrap()
        .unwrap();
        assert_eq!(default.header, axum::http::header::AUTHORIZATION);
        assert_eq!(default.min_refresh, Duration::from_secs(30));
    }
}
