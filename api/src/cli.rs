//! The command-line jobs of the `idem` binary: `idem import` (start an import run, optionally watch it
//! with a progress bar per step) and `idem demo` (generate a synthetic data set and import it end to end).
//! Both run the same durable workflow as `POST /api/v1/person-records/import`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use idem_empi::{ConfigId, NewConfig};
use idem_engine::{Engine, RunDetail};
use idem_matching::{FunctionRegistry, Model, Schema};
use idem_workflows::import::{ImportSource, NoUpload, start_import};
use idem_workflows::storage::Location;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

/// The config a CLI import uses: `cfg_N`, or a settings file stored as a new config with the given
/// thresholds.
pub async fn resolve_config(
    pool: &sqlx::PgPool,
    functions: &FunctionRegistry,
    config: &str,
    potential: f64,
    auto: f64,
) -> anyhow::Result<ConfigId> {
    if let Ok(id) = config.parse::<ConfigId>() {
        idem_empi::get_config(pool, id)
            .await?
            .with_context(|| format!("config {id} does not exist"))?;
        return Ok(id);
    }
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("reading the settings file {config}"))?;
    if let Err(errors) = Model::from_json(&text, &Schema::person_record(), functions) {
        bail!("{config} is not valid Splink settings:\n{errors}");
    }
    let settings: serde_json::Value = serde_json::from_str(&text)?;
    let stored = idem_empi::insert_config(
        pool,
        &NewConfig {
            potential_match_threshold: potential,
            auto_match_threshold: auto,
            splink_settings: settings,
        },
    )
    .await?;
    Ok(stored.id)
}

/// Starts an import of `source` (a path or `s3://` URI).
pub async fn start(
    engine: &Engine,
    config: ConfigId,
    source: &str,
) -> anyhow::Result<(String, uuid::Uuid)> {
    let location = Location::parse(source)?;
    let uri = match &location {
        Location::File(path) => {
            // Workers may run in another directory: store an absolute path.
            std::path::absolute(path)
                .with_context(|| format!("resolving {}", path.display()))?
                .display()
                .to_string()
        }
        Location::S3 { .. } => source.to_owned(),
        Location::Upload { .. } => bail!("{source} is not a file or an s3:// URI"),
    };
    let started = start_import(engine, config, ImportSource::<NoUpload>::Uri(uri), None).await?;
    Ok((started.job_id.to_string(), started.run_id))
}

/// Runs workers in this process until dropped.
pub struct LocalWorkers(CancellationToken, Option<tokio::task::JoinHandle<()>>);

impl LocalWorkers {
    /// Starts them.
    pub fn start(engine: &Engine) -> Self {
        let token = CancellationToken::new();
        let (engine, stop) = (engine.clone(), token.clone());
        let handle = tokio::spawn(async move {
            if let Err(error) = engine.run_workers(stop).await {
                tracing::error!(%error, "Workers stopped.");
            }
        });
        Self(token, Some(handle))
    }

    /// Stops them, letting a running step finish.
    pub async fn stop(mut self) {
        self.0.cancel();
        if let Some(handle) = self.1.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for LocalWorkers {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Shows a progress bar per step until the run finishes (succeeded, failed or cancelled) or
/// `interrupt` fires; returns the run.
pub async fn watch(
    engine: &Engine,
    run_id: uuid::Uuid,
    interrupt: &CancellationToken,
) -> anyhow::Result<RunDetail> {
    let bars = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix:>7} {spinner} [{elapsed_precise}] {bar:30} {msg}")
            .expect("a valid template")
            .progress_chars("=> ");
    let mut step_bars: Vec<ProgressBar> = Vec::new();
    loop {
        let run = engine
            .get_run(run_id)
            .await?
            .with_context(|| format!("run {run_id} does not exist"))?;
        for (i, step) in run.steps.iter().enumerate() {
            if step_bars.len() <= i {
                let bar = bars.add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(step.name.clone());
                step_bars.push(bar);
            }
            let bar = &step_bars[i];
            if bar.is_finished() {
                continue;
            }
            let (done, total, label) = step.progress.as_ref().map_or((0, None, None), |p| {
                (
                    p.done.max(0) as u64,
                    p.total.map(|t| t.max(0) as u64),
                    p.label.clone(),
                )
            });
            match total {
                Some(total) => bar.set_length(total),
                None => bar.set_length(done.max(1)),
            }
            bar.set_position(done);
            let label = label.unwrap_or_default();
            match step.status.as_str() {
                "succeeded" => {
                    bar.set_length(1);
                    bar.set_position(1);
                    bar.finish_with_message(format!(
                        "done in {:.1} s",
                        step.duration_seconds.unwrap_or_default()
                    ));
                }
                "failed" | "cancelled" => bar.abandon_with_message(format!(
                    "{}: {}",
                    step.status,
                    step.last_error.clone().unwrap_or_default()
                )),
                "running" => {
                    bar.set_message(format!(
                        "{label} {done}{}",
                        total.map(|t| format!("/{t}")).unwrap_or_default()
                    ));
                    bar.tick();
                }
                other => bar.set_message(other.to_owned()),
            }
        }
        if ["succeeded", "failed", "cancelled"].contains(&run.summary.status.as_str()) {
            for bar in &step_bars {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
            return Ok(run);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = interrupt.cancelled() => {
                for bar in &step_bars {
                    bar.abandon();
                }
                bail!("interrupted; the run goes on in any worker (resume or watch it through the API)");
            }
        }
    }
}

/// The summary lines of a finished import.
pub async fn summary(
    engine: &Engine,
    job: &str,
    run: &RunDetail,
    elapsed: Duration,
) -> anyhow::Result<Vec<String>> {
    let job_id = job.parse()?;
    let job = idem_empi::get_job(engine.pool(), job_id)
        .await?
        .context("the job disappeared")?;
    let persons: i64 = sqlx::query_scalar("SELECT count(*) FROM persons WHERE deleted IS NULL")
        .fetch_one(engine.pool())
        .await?;
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM person_records")
        .fetch_one(engine.pool())
        .await?;
    let mut lines = vec![format!(
        "Import {} {} in {:.1} s (run {}).",
        job.id,
        job.status,
        elapsed.as_secs_f64(),
        run.summary.id
    )];
    if let Some(reason) = &job.reason {
        lines.push(format!("  reason: {reason}"));
    }
    let c = job.counts;
    lines.push(format!(
        "  rows read {}, records loaded {}, duplicates skipped {}",
        c.rows_read, c.records_loaded, c.duplicates_skipped
    ));
    lines.push(format!(
        "  pairs scored {}, results stored {}, records auto-matched {}, potential matches {}",
        c.pairs_scored, c.results_stored, c.records_auto_matched, c.potential_matches
    ));
    lines.push(format!(
        "  the index now holds {records} records in {persons} persons"
    ));
    let steps: Vec<String> = run
        .steps
        .iter()
        .map(|s| format!("{} {:.2} s", s.name, s.duration_seconds.unwrap_or_default()))
        .collect();
    lines.push(format!("  time per step: {}", steps.join(", ")));
    Ok(lines)
}

/// Writes the demo's data set and settings into `dir`; returns (csv path, settings path, entities).
pub fn write_demo_files(
    dir: &Path,
    rows: usize,
    seed: u64,
) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf, usize)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let csv = dir.join("demo-records.csv");
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&csv).with_context(|| format!("creating {}", csv.display()))?,
    );
    let entities = crate::demo::write_records(&mut out, rows, seed)?;
    std::io::Write::flush(&mut out)?;
    let settings = dir.join("demo-settings.json");
    std::fs::write(&settings, crate::demo::DEFAULT_SETTINGS)?;
    Ok((csv, settings, entities))
}

/// Times a future.
pub async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

/// The registry the CLI validates settings with.
pub fn builtin_functions() -> Arc<FunctionRegistry> {
    Arc::new(FunctionRegistry::with_builtins())
}
