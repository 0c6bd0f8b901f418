//! Starting an import: the job, its upload (if any) and its run are created in one transaction, so a
//! job never exists without the run that does its work.

use bytes::Bytes;
use idem_empi::{ConfigId, JobId};
use idem_engine::{Engine, StartOptions};
use uuid::Uuid;

use super::{IMPORT_WORKFLOW, ImportInput};
use crate::error::{Error, Result};
use crate::storage::{Location, store_upload};

/// Where an import's rows come from.
pub enum ImportSource<S> {
    /// `s3://bucket/key`, `file:///path` or a path, read by the run's workers.
    Uri(String),
    /// A file sent with the request, stored in the database as it arrives.
    Upload {
        /// The client's file name (`.gz` means gzip).
        filename: String,
        /// Its bytes.
        stream: S,
    },
}

/// The stream type of an [`ImportSource::Uri`].
pub type NoUpload = futures::stream::Empty<std::result::Result<Bytes, std::io::Error>>;

/// A started (or, for a repeated idempotency key, found) import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartedImport {
    /// The job.
    pub job_id: JobId,
    /// Its run.
    pub run_id: Uuid,
    /// `false` when the idempotency key named an earlier import: nothing was started.
    pub created: bool,
}

/// Creates an import job for `config` and starts its run. The caller checked that the config exists
/// and that a URI source parses.
pub async fn start_import<S>(
    engine: &Engine,
    config: ConfigId,
    source: ImportSource<S>,
    idempotency_key: Option<String>,
) -> Result<StartedImport>
where
    S: futures::Stream<Item = std::result::Result<Bytes, std::io::Error>> + Unpin,
{
    let pool = engine.pool();
    let mut tx = pool.begin().await?;
    let job_id = match source {
        ImportSource::Uri(uri) => idem_empi::insert_import_job(&mut *tx, config, &uri).await?,
        ImportSource::Upload { filename, stream } => {
            let job = idem_empi::insert_import_job(&mut *tx, config, "upload:").await?;
            let bytes = store_upload(&mut tx, job.0, stream).await?;
            idem_empi::set_job_source(&mut *tx, job, &Location::upload_uri(job.0, &filename))
                .await?;
            tracing::info!(%job, bytes, "Upload stored.");
            job
        }
    };
    let started = engine
        .start_in(
            &mut tx,
            IMPORT_WORKFLOW,
            &ImportInput { job_id },
            StartOptions { idempotency_key },
        )
        .await?;
    if !started.created {
        tx.rollback().await?;
        let existing = idem_empi::job_of_run(pool, started.run_id)
            .await?
            .ok_or_else(|| {
                Error::State("the idempotency key names a run that is not an import".into())
            })?;
        return Ok(StartedImport {
            job_id: existing,
            run_id: started.run_id,
            created: false,
        });
    }
    idem_empi::set_job_run(&mut *tx, job_id, started.run_id).await?;
    tx.commit().await?;
    tracing::info!(job = %job_id, run_id = %started.run_id, "Import started.");
    Ok(StartedImport {
        job_id,
        run_id: started.run_id,
        created: true,
    })
}
