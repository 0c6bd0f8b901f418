//! Import (and export) jobs: the EMPI-facing record of a run, its source and what it did.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::error::Result;
use crate::ids::{ConfigId, JobId};

/// What a job did, counted by its run's steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct JobCounts {
    /// CSV rows staged.
    pub rows_read: i64,
    /// New person records created.
    pub records_loaded: i64,
    /// Rows not loaded because an identical record (or an earlier identical row) exists.
    pub duplicates_skipped: i64,
    /// Candidate pairs scored.
    pub pairs_scored: i64,
    /// Scored pairs above the potential-match threshold, stored as results.
    pub results_stored: i64,
    /// Records that moved to another person by auto-matching.
    pub records_auto_matched: i64,
    /// Pending potential matches this run created or rebuilt.
    pub potential_matches: i64,
}

/// A job as the API shows it; its status and reason come from its run.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Job {
    /// `job_N`.
    pub id: JobId,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Last change of the job or its run.
    pub updated: DateTime<Utc>,
    /// The config it matches with.
    pub config_id: ConfigId,
    /// `import-person-records`, ...
    pub job_type: String,
    /// Where its rows come from (`s3://...`, a path, `upload:<job>:<filename>`).
    pub source_uri: Option<String>,
    /// `new`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// The run doing the work.
    pub run_id: Option<Uuid>,
    /// What it did.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub counts: JobCounts,
    /// The comparator plugins it scored with.
    pub plugins: serde_json::Value,
}

/// Creates an import job (its run is attached with [`set_job_run`] in the same transaction).
pub async fn insert_import_job(
    db: impl PgExecutor<'_>,
    config_id: ConfigId,
    source_uri: &str,
) -> Result<JobId> {
    Ok(sqlx::query_scalar(
        "INSERT INTO jobs (config_id, job_type, source_uri) \
         VALUES ($1, 'import-person-records', $2) RETURNING id",
    )
    .bind(config_id)
    .bind(source_uri)
    .fetch_one(db)
    .await?)
}

/// Sets the source of a job (an upload's URI names its job, so it is known only after the insert).
pub async fn set_job_source(db: impl PgExecutor<'_>, id: JobId, source_uri: &str) -> Result<()> {
    sqlx::query("UPDATE jobs SET source_uri = $2, updated = now() WHERE id = $1")
        .bind(id)
        .bind(source_uri)
        .execute(db)
        .await?;
    Ok(())
}

/// Attaches the run doing the job's work.
pub async fn set_job_run(db: impl PgExecutor<'_>, id: JobId, run_id: Uuid) -> Result<()> {
    sqlx::query("UPDATE jobs SET run_id = $2, status = 'running', updated = now() WHERE id = $1")
        .bind(id)
        .bind(run_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The job with this id, with its run's status, or `None`.
pub async fn get_job(db: impl PgExecutor<'_>, id: JobId) -> Result<Option<Job>> {
    Ok(
        sqlx::query_as::<_, Job>(include_str!("queries/jobs/get_job.sql"))
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

/// The job whose run is `run_id`.
pub async fn job_of_run(db: impl PgExecutor<'_>, run_id: Uuid) -> Result<Option<JobId>> {
    Ok(sqlx::query_scalar("SELECT id FROM jobs WHERE run_id = $1")
        .bind(run_id)
        .fetch_optional(db)
        .await?)
}

/// Records the plugins a job scores with.
pub async fn set_job_plugins(
    db: impl PgExecutor<'_>,
    id: JobId,
    plugins: &serde_json::Value,
) -> Result<()> {
    sqlx::query("UPDATE jobs SET plugins = $2, updated = now() WHERE id = $1")
        .bind(id)
        .bind(plugins)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether staging table `table` (whose primary key starts with `job_id`) holds rows of jobs other
/// than `job`: both ends of the primary key's index, two index probes whatever the statistics say.
pub(crate) async fn other_jobs_staged(
    db: &mut PgConnection,
    table: &'static str,
    job: JobId,
) -> Result<bool> {
    Ok(sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT coalesce(min(job_id) <> $1 OR max(job_id) <> $1, false) FROM {table}"
    )))
    .bind(job)
    .fetch_one(&mut *db)
    .await?)
}

/// Marks the job succeeded and removes what only the run needed: its staged rows, staged results and
/// upload. Idempotent.
///
/// The staged rows are truncated instead of deleted row by row when no other job has any (the common
/// case: a million deleted rows cost seconds and leave the table to vacuum). That is decided under an
/// `ACCESS EXCLUSIVE` lock on the staging table, taken first (before this transaction holds any other
/// lock, so it only waits, never deadlocks): no other job's stage step can be writing rows the check
/// would miss, nor a load be reading them.
pub async fn finish_import_job(db: &mut PgConnection, id: JobId) -> Result<()> {
    sqlx::query("LOCK TABLE person_record_staging IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *db)
        .await?;
    if other_jobs_staged(db, "person_record_staging", id).await? {
        sqlx::query("DELETE FROM person_record_staging WHERE job_id = $1")
            .bind(id)
            .execute(&mut *db)
            .await?;
    } else {
        sqlx::query("TRUNCATE person_record_staging")
            .execute(&mut *db)
            .await?;
    }
    for sql in [
        "DELETE FROM prediction_result_staging WHERE job_id = $1",
        "DELETE FROM import_upload_chunks WHERE job_id = $1",
        "UPDATE jobs SET status = 'succeeded', reason = NULL, updated = now() WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *db).await?;
    }
    Ok(())
}
