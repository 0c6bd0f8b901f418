//! Step 2, `stage`: stream every row into `person_record_staging` with `COPY`, in bounded memory.
//!
//! A blocking thread parses the CSV and encodes rows in COPY's text format (with the line number and
//! the content hash); the async side sends the encoded chunks to PostgreSQL. The job's earlier staged
//! rows are deleted in the same transaction, so a retried step stages each row once; a bad row aborts
//! the COPY and the transaction, so nothing of the job is staged.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use idem_engine::{StepContext, StepError};
use serde::{Deserialize, Serialize};

use super::ImportInput;
use super::copy_in::copy_from_blocking;
use super::csv::push_copy_text;
use super::fetch::job_source;
use super::source::SourceRows;
use crate::Services;
use crate::error::{Error, Result};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes per chunk sent to COPY.
const CHUNK_BYTES: usize = 1 << 20;

/// What `stage` did: the load step's input.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Staged {
    #[serde(flatten)]
    pub(crate) input: ImportInput,
    /// Rows staged.
    pub(crate) rows: u64,
}

pub(crate) async fn run(
    services: Arc<Services>,
    ctx: StepContext,
    input: ImportInput,
) -> Result<Staged, StepError> {
    Ok(stage(&services, &ctx, input).await?)
}

pub(crate) async fn stage(
    services: &Services,
    ctx: &StepContext,
    input: ImportInput,
) -> Result<Staged> {
    let location = job_source(ctx, input).await?;
    let size = services.storage.check(ctx.pool(), &location).await?;
    let reader = services.storage.open(ctx.pool(), &location).await?;

    let mut tx = ctx.pool().begin().await?;
    sqlx::query("DELETE FROM person_record_staging WHERE job_id = $1")
        .bind(input.job_id)
        .execute(&mut *tx)
        .await?;
    let copy = tx
        .copy_in_raw(
            "COPY person_record_staging (job_id, line_number, sha256, data_source, source_person_id, \
             first_name, last_name, sex, race, birth_date, death_date, social_security_number, address, \
             city, state, zip_code, county, phone) FROM STDIN",
        )
        .await?;

    let bytes_read = Arc::new(AtomicU64::new(0));
    ctx.progress().start("staging rows (bytes read)", size);
    let handle = tokio::runtime::Handle::current();
    let job = input.job_id.0;
    let counter = bytes_read.clone();
    let (rows, copied) = copy_from_blocking(
        copy,
        "the CSV parser",
        || {
            ctx.progress().set(bytes_read.load(Ordering::Relaxed));
            !ctx.is_cancelled()
        },
        move |sender| {
            let mut rows = SourceRows::open(reader, &location, handle, counter)?;
            let job_prefix = format!("{job}\t");
            let mut buf = Vec::with_capacity(CHUNK_BYTES + 4096);
            let mut count = 0u64;
            while let Some((line, fields)) = rows.next_row()? {
                buf.extend_from_slice(job_prefix.as_bytes());
                write!(buf, "{line}\t\\\\x").expect("writing to a Vec");
                for b in idem_empi::content_hash(&fields) {
                    buf.push(HEX[usize::from(b >> 4)]);
                    buf.push(HEX[usize::from(b & 15)]);
                }
                for value in fields {
                    buf.push(b'\t');
                    push_copy_text(&mut buf, value);
                }
                buf.push(b'\n');
                count += 1;
                if buf.len() >= CHUNK_BYTES {
                    let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES + 4096));
                    if sender.blocking_send(full).is_err() {
                        // The database side stopped; its error is reported there.
                        return Ok(count);
                    }
                }
            }
            if !buf.is_empty() {
                let _ = sender.blocking_send(buf);
            }
            Ok(count)
        },
    )
    .await?;
    if copied != rows {
        return Err(Error::State(format!(
            "COPY stored {copied} rows, the parser sent {rows}"
        )));
    }
    sqlx::query("UPDATE jobs SET rows_read = $2, updated = now() WHERE id = $1")
        .bind(input.job_id)
        .bind(rows as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    ctx.progress().set(bytes_read.load(Ordering::Relaxed));
    tracing::info!(rows, "Rows staged.");
    Ok(Staged { input, rows })
}
