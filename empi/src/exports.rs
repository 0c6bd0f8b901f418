//! Exports: the crosswalk of person records and the pairs of pending potential matches, as rows of
//! text with public ids (`p_<uuid>`, `pm_N`), streamed from one query (one snapshot), and the export
//! jobs that durable runs carry out.

use futures::stream::{BoxStream, StreamExt};
use sqlx::{PgConnection, PgExecutor, Row};

use crate::error::Result;
use crate::ids::{ConfigId, JobId};

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportKind {
    /// Every record with its person (the crosswalk).
    PersonRecords,
    /// Every scored pair of a pending potential match.
    PotentialMatches,
}

impl ExportKind {
    /// The `jobs.job_type` of its jobs.
    pub fn job_type(self) -> &'static str {
        match self {
            ExportKind::PersonRecords => "export-person-records",
            ExportKind::PotentialMatches => "export-potential-matches",
        }
    }

    /// The kind of a `jobs.job_type`, if it is an export.
    pub fn from_job_type(job_type: &str) -> Option<Self> {
        match job_type {
            "export-person-records" => Some(ExportKind::PersonRecords),
            "export-potential-matches" => Some(ExportKind::PotentialMatches),
            _ => None,
        }
    }

    /// The CSV header (the reference's columns).
    pub fn header(self) -> &'static [&'static str] {
        match self {
            ExportKind::PersonRecords => &[
                "person_id",
                "source_person_id",
                "data_source",
                "first_name",
                "last_name",
                "sex",
                "race",
                "birth_date",
                "death_date",
                "social_security_number",
                "address",
                "city",
                "state",
                "zip_code",
                "county",
                "phone",
            ],
            ExportKind::PotentialMatches => &[
                "group_id",
                "person1_id",
                "person1_first_name",
                "person1_last_name",
                "person1_birth_date",
                "person1_data_source",
                "person1_source_id",
                "person2_id",
                "person2_first_name",
                "person2_last_name",
                "person2_birth_date",
                "person2_data_source",
                "person2_source_id",
                "match_probability",
            ],
        }
    }

    fn query(self) -> &'static str {
        match self {
            ExportKind::PersonRecords => include_str!("queries/exports/person_records.sql"),
            ExportKind::PotentialMatches => include_str!("queries/exports/potential_matches.sql"),
        }
    }
}

/// One exported row: a value (or NULL) per header column.
pub type ExportRow = Vec<Option<String>>;

/// Streams the rows of an export (one statement, so one consistent snapshot) in header order.
pub fn export_rows(conn: &mut PgConnection, kind: ExportKind) -> BoxStream<'_, Result<ExportRow>> {
    let columns = kind.header().len();
    sqlx::query(kind.query())
        .fetch(conn)
        .map(move |row| {
            let row = row?;
            (0..columns)
                .map(|i| row.try_get::<Option<String>, _>(i).map_err(Into::into))
                .collect()
        })
        .boxed()
}

/// The number of rows a potential-match export writes.
pub async fn count_potential_match_pairs(db: impl PgExecutor<'_>) -> Result<i64> {
    Ok(
        sqlx::query_scalar(include_str!("queries/exports/count_potential_matches.sql"))
            .fetch_one(db)
            .await?,
    )
}

/// Creates an export job writing to `sink_uri` with the given config, or the newest one when `None`;
/// returns `None` when there is no config at all (then there is nothing to export either).
pub async fn insert_export_job(
    db: impl PgExecutor<'_>,
    kind: ExportKind,
    config_id: Option<ConfigId>,
    sink_uri: &str,
) -> Result<Option<JobId>> {
    Ok(sqlx::query_scalar(
        "INSERT INTO jobs (config_id, job_type, source_uri) \
         SELECT c.id, $2, $3 FROM configs c WHERE c.id = coalesce($1, (SELECT max(id) FROM configs)) \
         RETURNING id",
    )
    .bind(config_id)
    .bind(kind.job_type())
    .bind(sink_uri)
    .fetch_optional(db)
    .await?)
}

/// An export job: what to write and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportJob {
    /// The job.
    pub id: JobId,
    /// What it writes.
    pub kind: ExportKind,
    /// Where it writes.
    pub sink_uri: String,
}

/// The export job `id`, or `None` if there is none (or it is not an export).
pub async fn get_export_job(db: impl PgExecutor<'_>, id: JobId) -> Result<Option<ExportJob>> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT job_type, source_uri FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(row.and_then(|(job_type, uri)| {
        Some(ExportJob {
            id,
            kind: ExportKind::from_job_type(&job_type)?,
            sink_uri: uri?,
        })
    }))
}

/// Marks an export job succeeded (the rows written are its run's output). Idempotent.
pub async fn finish_export_job(db: impl PgExecutor<'_>, id: JobId) -> Result<()> {
    sqlx::query(
        "UPDATE jobs SET status = 'succeeded', reason = NULL, updated = now() WHERE id = $1",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}
