//! The `export` workflow: writes the CSV of an export job (the person-record crosswalk or the pairs of
//! pending potential matches, with public ids) to its sink, `s3://bucket/key` or a local file.
//!
//! One step, `write`: the CSV goes to a local temporary file named after the run, then to the sink in
//! one piece (an S3 upload, or a copy and a rename next to the target), so a reader never sees half an
//! export and a retried step simply writes it again. The same row writer ([`write_csv`]) streams small
//! exports straight into an HTTP response.

use std::future::Future;
use std::path::PathBuf;

use futures::TryStreamExt;
use idem_empi::{ExportKind, JobId};
use idem_engine::{Progress, StepContext, StepError, Workflow};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;

/// The workflow's name.
pub const WORKFLOW: &str = "export";

/// Rows per CSV chunk handed to a sink (the reference's smallest export chunk).
const CHUNK_ROWS: usize = 2000;

/// The input of an export run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportInput {
    /// The export job (its kind and sink).
    pub job_id: JobId,
}

/// The output of an export run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportOutput {
    /// The export job.
    pub job_id: JobId,
    /// What was written.
    pub kind: ExportKind,
    /// Where it was written.
    pub uri: String,
    /// Data rows written (the header not counted).
    pub rows: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the rows failed.
    #[error(transparent)]
    Empi(#[from] idem_empi::Error),
    /// A database error outside the EMPI store.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Writing CSV failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Local I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The run names no export job.
    #[error("{0} is not an export job")]
    NoJob(JobId),
    /// Whoever consumed the chunks stopped (e.g. an HTTP client went away).
    #[error("the receiver of the export stopped")]
    Closed,
}

impl ExportError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    /// Database and I/O failures may pass; a missing job or bad data will not.
    fn into_step_error(self) -> StepError {
        match &self {
            ExportError::Database(_) | ExportError::Io { .. } => StepError::retryable(self),
            ExportError::Empi(idem_empi::Error::Database(_)) => StepError::retryable(self),
            _ => StepError::permanent(self),
        }
    }
}

/// Where [`write_csv`] puts its chunks.
pub trait ChunkSink: Send {
    /// Takes the next chunk of CSV bytes.
    fn put(&mut self, chunk: Vec<u8>) -> impl Future<Output = Result<(), ExportError>> + Send;
}

impl ChunkSink for tokio::fs::File {
    async fn put(&mut self, chunk: Vec<u8>) -> Result<(), ExportError> {
        self.write_all(&chunk)
            .await
            .map_err(ExportError::io("writing the export file"))
    }
}

/// Writes the CSV of `kind` (header first; NULL as an empty field; `\n` line ends) in chunks of
/// [`CHUNK_ROWS`] rows to `sink`, reporting rows to `progress`; returns the data rows written.
pub async fn write_csv(
    pool: &PgPool,
    kind: ExportKind,
    progress: Option<&Progress>,
    sink: &mut impl ChunkSink,
) -> Result<u64, ExportError> {
    let mut conn = pool.acquire().await?;
    let mut rows = idem_empi::export_rows(&mut conn, kind);
    let mut builder = csv::WriterBuilder::new();
    builder.terminator(csv::Terminator::Any(b'\n'));
    let mut written = 0u64;
    let mut header = true;
    loop {
        let mut buf = Vec::new();
        let mut in_chunk = 0;
        let mut end = false;
        {
            let mut writer = builder.from_writer(&mut buf);
            if header {
                writer.write_record(kind.header())?;
                header = false;
            }
            while in_chunk < CHUNK_ROWS {
                let Some(row) = rows.try_next().await? else {
                    end = true;
                    break;
                };
                writer.write_record(row.iter().map(|v| v.as_deref().unwrap_or("")))?;
                in_chunk += 1;
            }
            writer.flush().map_err(ExportError::io("writing CSV"))?;
        }
        written += in_chunk as u64;
        if let Some(progress) = progress {
            progress.set(written);
        }
        if !buf.is_empty() {
            sink.put(buf).await?;
        }
        if end {
            return Ok(written);
        }
    }
}

/// Writes the finished local file to the sink.
async fn deliver(file: &std::path::Path, uri: &str) -> Result<(), ExportError> {
    let target = PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri));
    let partial = target.with_extension("idem-partial");
    tokio::fs::copy(file, &partial)
        .await
        .map_err(ExportError::io(format!("writing {}", partial.display())))?;
    tokio::fs::rename(&partial, &target)
        .await
        .map_err(ExportError::io(format!("renaming to {}", target.display())))?;
    Ok(())
}

async fn write_step(ctx: StepContext, input: ExportInput) -> Result<ExportOutput, ExportError> {
    let pool = ctx.pool().clone();
    let job = idem_empi::get_export_job(&pool, input.job_id)
        .await?
        .ok_or(ExportError::NoJob(input.job_id))?;
    let total = match job.kind {
        ExportKind::PotentialMatches => {
            Some(idem_empi::count_potential_match_pairs(&pool).await? as u64)
        }
        ExportKind::PersonRecords => None,
    };
    ctx.progress().start("rows", total);
    let local = std::env::temp_dir().join(format!("idem-export-{}.csv", ctx.run_id()));
    let mut file = tokio::fs::File::create(&local)
        .await
        .map_err(ExportError::io(format!("creating {}", local.display())))?;
    let written = write_csv(&pool, job.kind, Some(ctx.progress()), &mut file).await;
    let outcome = async {
        let rows = written?;
        file.flush()
            .await
            .map_err(ExportError::io(format!("writing {}", local.display())))?;
        deliver(&local, &job.sink_uri).await?;
        idem_empi::finish_export_job(&pool, job.id).await?;
        Ok(ExportOutput {
            job_id: job.id,
            kind: job.kind,
            uri: job.sink_uri.clone(),
            rows,
        })
    }
    .await;
    let _ = tokio::fs::remove_file(&local).await;
    if let Ok(output) = &outcome {
        tracing::info!(job = %output.job_id, rows = output.rows, uri = %output.uri, "Export written.");
    }
    outcome
}

/// The `export` workflow.
pub fn workflow() -> Workflow {
    Workflow::new(WORKFLOW, 1).step("write", |ctx: StepContext, input: ExportInput| async move {
        write_step(ctx, input)
            .await
            .map_err(ExportError::into_step_error)
    })
}
