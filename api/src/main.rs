//! The `idem` binary.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use idem_api::AppState;
use idem_api::config::{Cli, Command, CommonArgs, EngineArgs, ScoreArgs, ServeArgs};
use idem_engine::{Engine, Workflow};
use idem_plugin_host::Plugins;
use idem_workflows::Services;
use idem_workflows::storage::{S3Settings, Storage};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct DefaultServe {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let telemetry = idem_otel::init(&cli.common.otel()).context("setting up telemetry")?;
    let outcome = match cli.command {
        Some(Command::Migrate) => migrate(&cli.common).await,
        Some(Command::Serve(args)) => serve(&cli.common, args).await,
        Some(Command::Worker(args)) => worker(&cli.common, args).await,
        Some(Command::Score(args)) => score(&cli.common, args),
        None => {
            // `idem` alone: the API and workers in one process, settings from the environment.
            let args = DefaultServe::parse_from(["idem"]).serve;
            serve(
                &cli.common,
                ServeArgs {
                    with_worker: true,
                    ..args
                },
            )
            .await
        }
    };
    if let Err(error) = &outcome {
        tracing::error!(error = format!("{error:#}"), "idem failed.");
    }
    telemetry.flush();
    outcome
}

/// Loads the comparator plugins once, at start: a plugin that cannot be used stops the process.
fn plugins(common: &CommonArgs) -> anyhow::Result<Arc<Plugins>> {
    let plugins = common
        .load_plugins()
        .context("loading comparator plugins")?;
    Ok(Arc::new(plugins))
}

/// The workflows this binary runs: the EMPI workflows (import, match, export). They score with
/// the built-in and plugin functions and record the plugins' manifest with each job.
fn workflows(common: &CommonArgs, plugins: &Plugins) -> Vec<Workflow> {
    idem_workflows::workflows(Services {
        storage: Storage::new(S3Settings {
            force_path_style: common.s3_force_path_style,
        }),
        functions: plugins.registry(),
        plugins: plugins.manifest(),
    })
}

async fn migrate(common: &CommonArgs) -> anyhow::Result<()> {
    idem_migrations::create_database_if_missing(&common.database_url).await?;
    let pool = idem_migrations::connect(&common.database_url, 2)
        .await
        .context("connecting to the database")?;
    idem_migrations::migrate(&pool).await?;
    tracing::info!("Database is up to date.");
    Ok(())
}

async fn engine(
    common: &CommonArgs,
    args: &EngineArgs,
    plugins: &Arc<Plugins>,
) -> anyhow::Result<Engine> {
    let connections = (args.workers as u32 * 3 + 4).max(8);
    let pool = idem_migrations::connect(&common.database_url, connections)
        .await
        .with_context(|| "connecting to the database (run `idem migrate` first)")?;
    Ok(Engine::new(
        pool,
        args.engine_config(),
        workflows(common, plugins),
    ))
}

async fn serve(common: &CommonArgs, args: ServeArgs) -> anyhow::Result<()> {
    let plugins = plugins(common)?;
    let engine = engine(common, &args.engine, &plugins).await?;
    let shutdown = shutdown_signal();
    let workers = args.with_worker.then(|| {
        let engine = engine.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { engine.run_workers(shutdown).await })
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(listen = %args.listen, with_worker = args.with_worker, "Serving the API.");
    tracing::warn!("Authentication is disabled: every request acts as the local admin user.");
    let auth = idem_api::auth::Auth::disabled(engine.pool())
        .await
        .context("creating the local user")?;
    let app = idem_api::app(AppState {
        engine,
        auth,
        functions: plugins.registry(),
        plugins,
    });
    let stop = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await?;
    if let Some(workers) = workers {
        workers.await??;
    }
    Ok(())
}

async fn worker(common: &CommonArgs, args: EngineArgs) -> anyhow::Result<()> {
    let plugins = plugins(common)?;
    let engine = engine(common, &args, &plugins).await?;
    engine.run_workers(shutdown_signal()).await?;
    Ok(())
}

fn score(common: &CommonArgs, args: ScoreArgs) -> anyhow::Result<()> {
    let plugins = plugins(common)?;
    let options = idem_matching::ScoreCsvOptions {
        csv: args.csv,
        settings: args.settings,
        out: args.out,
        threshold: args.threshold,
        explain: args.explain,
        functions: plugins.registry(),
    };
    let summary = idem_matching::score_csv(&options)?;
    tracing::info!(?summary, out = %options.out.display(), "Scored.");
    Ok(())
}

/// Cancelled on SIGTERM or Ctrl-C: workers stop taking steps and let running ones finish.
fn shutdown_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        tracing::info!("Shutting down: finishing running steps.");
        trigger.cancel();
    });
    token
}
