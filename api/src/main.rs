//! The `idem` binary.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use idem_api::AppState;
use idem_api::auth::Auth;
use idem_api::cli;
use idem_api::config::{
    AuthArgs, BootstrapArgs, Cli, Command, CommonArgs, DemoArgs, EngineArgs, ImportArgs, ScoreArgs,
    ServeArgs,
};
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
        Some(Command::Bootstrap(args)) => bootstrap(&cli.common, args).await,
        Some(Command::Import(args)) => import(&cli.common, args).await,
        Some(Command::Demo(args)) => demo(&cli.common, args).await,
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

#[allow(clippy::print_stdout, reason = "the CLI's report is its output")]
async fn import(common: &CommonArgs, args: ImportArgs) -> anyhow::Result<()> {
    let plugins = plugins(common)?;
    let engine = engine(common, &args.engine, &plugins).await?;
    let config = cli::resolve_config(
        engine.pool(),
        &plugins.registry(),
        &args.config,
        args.potential,
        args.auto,
    )
    .await?;
    let (started, elapsed) = cli::timed(async {
        let started = cli::start(&engine, config, &args.source).await?;
        println!(
            "Started import {} (run {}) with {config}.",
            started.0, started.1
        );
        if !args.wait {
            return Ok::<_, anyhow::Error>(started);
        }
        let workers = cli::LocalWorkers::start(&engine);
        let run = cli::watch(&engine, started.1, &shutdown_signal()).await;
        workers.stop().await;
        run?;
        Ok(started)
    })
    .await;
    let job = started?;
    if args.wait {
        let run = engine
            .get_run(job.1)
            .await?
            .context("the run disappeared")?;
        for line in cli::summary(&engine, &job.0, &run, elapsed).await? {
            println!("{line}");
        }
        if run.summary.status != "succeeded" {
            anyhow::bail!("the import run {}", run.summary.status);
        }
    } else {
        println!(
            "Follow it with: GET /api/v1/jobs/{} (or idem import ... --wait).",
            job.0
        );
    }
    Ok(())
}

#[allow(clippy::print_stdout, reason = "the CLI's report is its output")]
async fn demo(common: &CommonArgs, args: DemoArgs) -> anyhow::Result<()> {
    migrate(common).await?;
    let (csv, settings, entities) = cli::write_demo_files(&args.dir, args.rows, args.seed)?;
    println!(
        "Generated {} rows of {entities} people (seed {}) in {}; settings in {}.",
        args.rows,
        args.seed,
        csv.display(),
        settings.display()
    );
    let plugins = plugins(common)?;
    let engine = engine(common, &args.engine, &plugins).await?;
    let config = cli::resolve_config(
        engine.pool(),
        &plugins.registry(),
        &settings.display().to_string(),
        0.5,
        0.95,
    )
    .await?;
    let workers = cli::LocalWorkers::start(&engine);
    let (outcome, elapsed) = cli::timed(async {
        let (job, run_id) = cli::start(&engine, config, &csv.display().to_string()).await?;
        let run = cli::watch(&engine, run_id, &shutdown_signal()).await?;
        Ok::<_, anyhow::Error>((job, run))
    })
    .await;
    workers.stop().await;
    let (job, run) = outcome?;
    for line in cli::summary(&engine, &job, &run, elapsed).await? {
        println!("{line}");
    }
    if run.summary.status != "succeeded" {
        anyhow::bail!("the demo import {}", run.summary.status);
    }
    println!();
    println!("Look around: IDEM_AUTH=disabled idem serve   (then, in another shell)");
    println!("  curl -s localhost:8080/api/v1/jobs/{job}");
    println!("  curl -s 'localhost:8080/api/v1/potential-matches?page_size=5'");
    println!("  curl -s 'localhost:8080/api/v1/persons?last_name=smith&page_size=5'");
    println!("  open http://localhost:8080/api/v1/docs for every endpoint");
    Ok(())
}

async fn migrate(common: &CommonArgs) -> anyhow::Result<()> {
    idem_migrations::create_database_if_missing(&common.database_url).await?;
    let pool = idem_migrations::connect(&common.database_url, 2)
        .await
        .context("connecting to the database")?;
    // A migration may change an index that a bulk write left to be built: build those first.
    let deferred: bool = sqlx::query_scalar("SELECT to_regclass('deferred_indexes') IS NOT NULL")
        .fetch_one(&pool)
        .await?;
    if deferred {
        let built =
            idem_empi::build_deferred_indexes(&pool, 2, idem_empi::BuildUntil::AllBuilt).await?;
        if built > 0 {
            tracing::info!(built, "Built the indexes bulk writes deferred.");
        }
    }
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
    // Checked before anything starts: a misconfigured OIDC setup must not start serving.
    let oidc = args.auth.oidc_config()?;
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
    let auth = auth(&engine, &args.auth, oidc).await?;
    tracing::info!(listen = %args.listen, with_worker = args.with_worker, "Serving the API.");
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

/// The authentication mode; `disabled` is logged loudly on every start.
async fn auth(
    engine: &Engine,
    args: &AuthArgs,
    oidc: Option<idem_api::auth::OidcConfig>,
) -> anyhow::Result<Auth> {
    let Some(config) = oidc else {
        tracing::warn!(
            user = idem_api::auth::LOCAL_USER_SUB,
            "AUTHENTICATION IS DISABLED (IDEM_AUTH=disabled): every request acts as the local admin \
             user. For local demos only; never expose this server."
        );
        return Auth::disabled(engine.pool())
            .await
            .context("creating the local user");
    };
    tracing::info!(
        issuer = config.issuer,
        jwks_url = config.jwks_url.as_deref().unwrap_or("(discovery)"),
        audience = config.audience,
        header = %config.header,
        jwks_min_refresh_seconds = args.jwks_min_refresh_seconds,
        "Authenticating requests with OIDC bearer tokens."
    );
    let auth = Auth::oidc(config).context("setting up OIDC authentication")?;
    if let Auth::Oidc(oidc) = &auth {
        // Not fatal: the identity provider may come up after idem; requests fetch the keys then.
        match oidc.prefetch().await {
            Ok(0) => tracing::warn!("The identity provider publishes no signing key idem can use."),
            Ok(keys) => tracing::info!(keys, "Fetched the identity provider's keys."),
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "Could not fetch the identity provider's keys yet; requests will retry."
            ),
        }
    }
    Ok(auth)
}

/// `idem bootstrap`: the first admin.
async fn bootstrap(common: &CommonArgs, args: BootstrapArgs) -> anyhow::Result<()> {
    let pool = idem_migrations::connect(&common.database_url, 2)
        .await
        .context("connecting to the database (run `idem migrate` first)")?;
    let target = match (&args.admin_sub, &args.admin_email) {
        (Some(sub), _) => idem_empi::AdminTarget::Sub(sub),
        (None, Some(email)) => idem_empi::AdminTarget::Email(email),
        (None, None) => anyhow::bail!("give --admin-sub or --admin-email"),
    };
    match idem_empi::bootstrap_admin(&pool, target).await? {
        idem_empi::Bootstrap::AlreadyBootstrapped(admins) => {
            let admins: Vec<String> = admins.iter().map(|u| u.id.to_string()).collect();
            tracing::info!(
                admins = admins.join(","),
                "Already bootstrapped: there is an admin."
            );
            Ok(())
        }
        idem_empi::Bootstrap::Promoted(user) => {
            tracing::info!(user.id = %user.id, user.sub = user.idp_user_id, "Bootstrapped: the user is now an admin.");
            Ok(())
        }
        idem_empi::Bootstrap::NoUserWithEmail => anyhow::bail!(
            "Unable to find a user with email {}: idem learns emails from tokens, so the user must \
             sign in once first (they get 403), or bootstrap with --admin-sub",
            args.admin_email.unwrap_or_default()
        ),
        idem_empi::Bootstrap::SeveralUsersWithEmail(users) => {
            let subs: Vec<&str> = users.iter().map(|u| u.idp_user_id.as_str()).collect();
            anyhow::bail!(
                "Several users have email {}: bootstrap with --admin-sub (one of {})",
                args.admin_email.unwrap_or_default(),
                subs.join(", ")
            )
        }
    }
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
