//! The `export` workflow: writes the CSV of an export job (the person-record crosswalk or the pairs of
//! pending potential matches, with public ids) to its sink, `s3://bucket/key` or a local file.
//!
//! One step, `write`: the CSV goes to a local temporary file named after the run, then to the sink in
//! one piece ([`Storage::put_file`](crate::storage::Storage::put_file): an S3 upload, or a copy and a
//! rename next to the target), so a reader never sees half an export and a retried step simply writes
//! it again. The same row writer ([`write_csv`]) streams small
//! exports straight into an HTTP response.

use std::future::Future;
use std::sync::Arc;

use futures::TryStreamExt;
use idem_empi::{ExportKind, JobId};
use idem_engine::{Progress, StepContext, StepError, Workflow};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;

use crate::Services;
use crate::error::{Error, Result};
use crate::storage::Location;

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

/// Where [`write_csv`] puts its chunks.
pub trait ChunkSink: Send {
    /// Takes the next chunk of CSV bytes.
    fn put(&mut self, chunk: Vec<u8>) -> impl Future<Output = Result<()>> + Send;
}

impl ChunkSink for tokio::fs::File {
    async fn put(&mut self, chunk: Vec<u8>) -> Result<()> {
        self.write_all(&chunk)
            .await
            .map_err(Error::io("writing the export file"))
    }
}

/// Writes the CSV of `kind` (header first; NULL as an empty field; `\n` line ends) in chunks of
/// [`CHUNK_ROWS`] rows to `sink`, reporting rows to `progress`; returns the data rows written.
pub async fn write_csv(
    pool: &PgPool,
    kind: ExportKind,
    progress: Option<&Progress>,
    sink: &mut impl ChunkSink,
) -> Result<u64> {
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
                writer.write_record(kind.header()).map_err(csv_error)?;
                header = false;
            }
            while in_chunk < CHUNK_ROWS {
                let Some(row) = rows.try_next().await? else {
                    end = true;
                    break;
                };
                writer
                    .write_record(row.iter().map(|v| v.as_deref().unwrap_or("")))
                    .map_err(csv_error)?;
                in_chunk += 1;
            }
            writer.flush().map_err(Error::io("writing CSV"))?;
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

fn csv_error(error: csv::Error) -> Error {
    Error::Io {
        context: "writing CSV".into(),
        source: error.into(),
    }
}

async fn write_step(
    services: &Services,
    ctx: StepContext,
    input: ExportInput,
) -> Result<ExportOutput> {
    let pool = ctx.pool().clone();
    let job = idem_empi::get_export_job(&pool, input.job_id)
        .await?
        .ok_or_else(|| Error::State(format!("{} is not an export job", input.job_id)))?;
    let sink = Location::parse(&job.sink_uri)?;
    let total = match job.kind {
        ExportKind::PotentialMatches => {
            Some(idem_empi::count_potential_match_pairs(&pool).await? as u64)
        }
        ExportKind::PersonRecords => None,
    };
    ctx.progress().start("rows", total);
    // Per attempt: an attempt that lost its lease may still be writing its own file.
    let local = std::env::temp_dir().join(format!(
        "idem-export-{}-{}.csv",
        ctx.run_id(),
        ctx.attempt()
    ));
    let mut file = tokio::fs::File::create(&local)
        .await
        .map_err(Error::io(format!("creating {}", local.display())))?;
    let written = tokio::select! {
        written = write_csv(&pool, job.kind, Some(ctx.progress()), &mut file) => written,
        () = ctx.cancelled() => Err(Error::State("the run was cancelled".into())),
    };
    let outcome = async {
        let rows = written?;
        file.flush()
            .await
            .map_err(Error::io(format!("writing {}", local.display())))?;
        services.storage.put_file(&local, &sink).await?;
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
pub fn workflow(services: Arc<Services>) -> Workflow {
    Workflow::new(WORKFLOW, 1).step("write", move |ctx: StepContext, input: ExportInput| {
        let services = Arc::clone(&services);
        async move {
            write_step(&services, ctx, input)
                .await
                .map_err(StepError::from)
        }
    })
}
