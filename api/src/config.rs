//! The `idem` command line: one `Cli` tree read once in `main` from flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use idem_engine::EngineConfig;
use idem_otel::OtelConfig;

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
