//! Step 4, `score`: the job's new records against every record, with the config's Splink model.
//!
//! Every record is read with `COPY ... TO STDOUT` into the scorer's column store (term frequencies
//! are computed over all records, as the reference does); the scorer blocks and scores new-vs-all pairs
//! on a blocking thread and its pairs above the potential-match threshold stream back into
//! `prediction_result_staging` with `COPY`, replacing the job's earlier staged pairs in the same
//! transaction (so a retried step stores each pair once). Beside it, for as long as it lasts, the
//! indexes a bulk load left are built (see `idem_empi::build_deferred_indexes`).

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::TryStreamExt;
use idem_empi::BuildUntil;
use idem_engine::{StepContext, StepError};
use idem_matching::{
    MatchKeyMode, Model, PredictOptions, RecordSet, RecordSetBuilder, Schema, ScoredPair,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::ImportInput;
use super::copy_in::copy_from_blocking;
use super::csv::push_copy_text;
use crate::Services;
use crate::error::{Error, Result};

/// What `score` did: the match step's input.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Scored {
    #[serde(flatten)]
    pub(crate) input: ImportInput,
    /// Records scored against (all records).
    records: usize,
    /// New records of the job.
    new_records: usize,
    /// Candidate pairs scored.
    pairs_scored: u64,
    /// Pairs above the potential-match threshold (staged for the match step).
    pub(crate) pairs_kept: u64,
}

pub(crate) async fn run(
    services: Arc<Services>,
    ctx: StepContext,
    input: ImportInput,
) -> Result<Scored, StepError> {
    // The plain indexes a bulk load left are built beside the scoring, on another connection (so on
    // the other core: the scoring keeps one busy, first in the database, then in the scorer), for as
    // long as the scoring lasts; the finish step builds the rest. The match step in between does
    // without them (its statements are set-based: at worst one scan of a table each), and a bulk
    // match step would drop those of the tables it writes again.
    let scoring_done = AtomicBool::new(false);
    let score = async {
        let result = score(&services, &ctx, input).await;
        scoring_done.store(true, Ordering::Release);
        result
    };
    let build = async {
        let built =
            idem_empi::build_deferred_indexes(ctx.pool(), 1, BuildUntil::Stopped(&scoring_done))
                .await?;
        if built > 0 {
            tracing::info!(built, "Deferred indexes built beside the scoring.");
        }
        Ok::<_, Error>(())
    };
    let (scored, ()) = tokio::try_join!(score, build)?;
    Ok(scored)
}

pub(crate) async fn score(
    services: &Services,
    ctx: &StepContext,
    input: ImportInput,
) -> Result<Scored> {
    let job = idem_empi::get_job(ctx.pool(), input.job_id)
        .await?
        .ok_or_else(|| Error::State(format!("{} does not exist", input.job_id)))?;
    let config = idem_empi::get_config(ctx.pool(), job.config_id)
        .await?
        .ok_or_else(|| Error::State(format!("{} does not exist", job.config_id)))?;
    let schema = Schema::person_record();
    let model = Model::from_json(
        &config.splink_settings.to_string(),
        &schema,
        &services.functions,
    )
    .map_err(|e| Error::Config(e.to_string()))?;
    idem_empi::set_job_plugins(ctx.pool(), input.job_id, &services.plugins).await?;

    ctx.progress().start("reading records", None);
    let (records, new_ids) =
        read_records(ctx, input, schema.clone(), &model.used_columns()).await?;
    let new_records = new_ids.len();
    let record_count = records.len();

    let mut tx = ctx.pool().begin().await?;
    sqlx::query("DELETE FROM prediction_result_staging WHERE job_id = $1")
        .bind(input.job_id)
        .execute(&mut *tx)
        .await?;
    let (mut pairs_scored, mut pairs_kept) = (0, 0);
    if new_records > 0 {
        ctx.progress().start("scoring pairs (pairs kept)", None);
        let copy = tx
            .copy_in_raw(
                "COPY prediction_result_staging (job_id, person_record_l_id, person_record_r_id, \
                 match_weight, match_probability, data) FROM STDIN",
            )
            .await?;
        let job = input.job_id.0;
        let threshold = config.potential_match_threshold;
        let progress = ctx.progress().clone();
        let ((scored, kept), _) = copy_from_blocking(
            copy,
            "the scorer",
            || true,
            move |sender| {
                let encoder = PairEncoder::new(&model, &schema, job);
                let opts = PredictOptions {
                    new_records: Some(new_ids),
                    match_key_mode: MatchKeyMode::Reference,
                    threshold: Some(threshold),
                    explain: true,
                    ..PredictOptions::default()
                };
                let mut kept = 0u64;
                let stats = model
                    .predict(&records, &opts, |pairs| {
                        let mut buf = Vec::with_capacity(pairs.len() * 256);
                        for pair in pairs {
                            encoder.encode(&mut buf, pair);
                        }
                        kept += pairs.len() as u64;
                        progress.set(kept);
                        sender.blocking_send(buf).map_err(|_| {
                            idem_matching::Error::Input("the database side stopped".into())
                        })
                    })
                    .map_err(|e| Error::Matching(e.to_string()))?;
                Ok((stats.candidate_pairs, kept))
            },
        )
        .await?;
        (pairs_scored, pairs_kept) = (scored, kept);
    }
    sqlx::query("UPDATE jobs SET pairs_scored = $2, updated = now() WHERE id = $1")
        .bind(input.job_id)
        .bind(pairs_scored as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        records = record_count,
        new_records,
        pairs_scored,
        pairs_kept,
        "Scored."
    );
    Ok(Scored {
        input,
        records: record_count,
        new_records,
        pairs_scored,
        pairs_kept,
    })
}

/// Reads every record (id order) into a record set, and the ids of the job's records. Only the
/// columns the model reads (`used`, per schema column) are read; the others are NULL in the record
/// set, which changes no score and spares formatting, sending and interning every address, phone
/// number and identifier.
async fn read_records(
    ctx: &StepContext,
    input: ImportInput,
    schema: Schema,
    used: &[bool],
) -> Result<(RecordSet, HashSet<i64>)> {
    // The schema's column names are the scorer's own constants, not input.
    let columns: Vec<String> = schema
        .columns()
        .iter()
        .zip(used)
        .map(|(name, &used)| if used { name.clone() } else { "NULL".into() })
        .collect();
    let mut conn = ctx.pool().acquire().await?;
    let mut stream = conn
        .copy_out_raw(&format!(
            "COPY (SELECT id, job_id, {} FROM person_records ORDER BY id) TO STDOUT",
            columns.join(", ")
        ))
        .await?;
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(8);
    let job = input.job_id.0;
    let progress = ctx.progress().clone();
    let builder = tokio::task::spawn_blocking(move || -> Result<(RecordSet, HashSet<i64>)> {
        let mut builder = RecordSetBuilder::new(schema);
        let mut new_ids = HashSet::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut row = CopyRow::default();
        while let Some(chunk) = receiver.blocking_recv() {
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(end) = memchr_newline(&pending[start..]) {
                let line = &pending[start..start + end];
                row.parse(line)?;
                if row.job == job {
                    new_ids.insert(row.id);
                }
                let values: [Option<&str>; FIELDS] = std::array::from_fn(|i| row.value(i));
                builder
                    .push(row.id, &values)
                    .map_err(|e| Error::Matching(e.to_string()))?;
                start += end + 1;
            }
            pending.drain(..start);
            progress.set(builder.len() as u64);
        }
        if !pending.is_empty() {
            return Err(Error::State(
                "COPY output ended in the middle of a row".into(),
            ));
        }
        Ok((builder.build(), new_ids))
    });
    // PostgreSQL sends one message per row; they go to the parser in batches of [`READ_BATCH`] bytes,
    // so the parsing thread wakes once per batch, not once per row.
    let mut forwarded = Ok(());
    let mut batch = Vec::with_capacity(READ_BATCH);
    while let Some(chunk) = stream.try_next().await? {
        batch.extend_from_slice(&chunk);
        if batch.len() >= READ_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(READ_BATCH));
            if sender.send(full).await.is_err() {
                forwarded = Err(());
                break;
            }
        }
    }
    if forwarded.is_ok() && !batch.is_empty() && sender.send(batch).await.is_err() {
        forwarded = Err(());
    }
    drop(sender);
    let built = builder
        .await
        .map_err(|e| Error::State(format!("reading records panicked: {e}")))?;
    if forwarded.is_err() && built.is_ok() {
        return Err(Error::State("reading records stopped early".into()));
    }
    built
}

/// Bytes of `COPY` output handed to the parser at a time.
const READ_BATCH: usize = 256 * 1024;

/// Fields of a `COPY` row after the id and the job id.
const FIELDS: usize = 15;

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// One row of `COPY ... TO STDOUT` (text format): id, job id, the 15 fields, unescaped.
#[derive(Default)]
struct CopyRow {
    id: i64,
    job: i64,
    text: String,
    /// Byte ranges in `text` of the 15 fields; `None` = NULL.
    fields: Vec<Option<(usize, usize)>>,
    /// Scratch space for unescaping a field.
    unescaped: Vec<u8>,
}

impl CopyRow {
    fn parse(&mut self, line: &[u8]) -> Result<()> {
        self.text.clear();
        self.fields.clear();
        let mut columns = line.split(|&b| b == b'\t');
        let mut int = |name: &str| -> Result<i64> {
            columns
                .next()
                .and_then(|c| std::str::from_utf8(c).ok())
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| Error::State(format!("bad {name} in COPY output")))
        };
        self.id = int("id")?;
        self.job = int("job_id")?;
        let mut bytes = std::mem::take(&mut self.unescaped);
        for column in columns {
            if column == b"\\N" {
                self.fields.push(None);
                continue;
            }
            if !column.contains(&b'\\') {
                let value = std::str::from_utf8(column)
                    .map_err(|_| Error::State("COPY output is not UTF-8".into()))?;
                let start = self.text.len();
                self.text.push_str(value);
                self.fields.push(Some((start, self.text.len())));
                continue;
            }
            bytes.clear();
            let mut i = 0;
            while i < column.len() {
                let b = column[i];
                if b == b'\\' && i + 1 < column.len() {
                    i += 1;
                    bytes.push(match column[i] {
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b'b' => 8,
                        b'f' => 12,
                        b'v' => 11,
                        other => other,
                    });
                } else {
                    bytes.push(b);
                }
                i += 1;
            }
            let value = std::str::from_utf8(&bytes)
                .map_err(|_| Error::State("COPY output is not UTF-8".into()))?;
            let start = self.text.len();
            self.text.push_str(value);
            self.fields.push(Some((start, self.text.len())));
        }
        self.unescaped = bytes;
        if self.fields.len() != FIELDS {
            return Err(Error::State(format!(
                "COPY output has {} fields, expected {FIELDS}",
                self.fields.len()
            )));
        }
        Ok(())
    }

    /// Field `i` (of [`FIELDS`]); call after a successful [`Self::parse`].
    fn value(&self, i: usize) -> Option<&str> {
        self.fields[i].map(|(a, b)| &self.text[a..b])
    }
}

/// Encodes scored pairs as COPY text rows of `prediction_result_staging`, with the reference's `data`
/// JSON (`match_key`, `bf_<c>`, `tf_<col>_l/_r`, `bf_tf_adj_<c>`) plus `gamma_<c>` (the chosen level).
struct PairEncoder {
    job: i64,
    /// Per comparison: the JSON key prefixes (`"bf_c":`, `"gamma_c":`) and, for TF comparisons,
    /// (`"tf_col_l":`, `"tf_col_r":`, `"bf_tf_adj_c":`).
    keys: Vec<(String, String, Option<[String; 3]>)>,
}

impl PairEncoder {
    fn new(model: &Model, schema: &Schema, job: i64) -> Self {
        let key = |k: String| format!("{}:", serde_json::Value::String(k));
        let keys = model
            .comparisons
            .iter()
            .map(|c| {
                let name = &c.output_column_name;
                let tf = c.tf_column_name(schema).map(|col| {
                    [
                        key(format!("tf_{col}_l")),
                        key(format!("tf_{col}_r")),
                        key(format!("bf_tf_adj_{name}")),
                    ]
                });
                (key(format!("bf_{name}")), key(format!("gamma_{name}")), tf)
            })
            .collect();
        Self { job, keys }
    }

    fn encode(&self, buf: &mut Vec<u8>, pair: &ScoredPair) {
        let _ = write!(
            buf,
            "{}\t{}\t{}\t{}\t{}\t",
            self.job,
            pair.id_l,
            pair.id_r,
            pg_float(pair.match_weight),
            pg_float(pair.match_probability)
        );
        let mut json = String::with_capacity(256);
        json.push_str("{\"match_key\":\"");
        json.push_str(&pair.match_key.to_string());
        json.push('"');
        for ((bf, gamma, tf), explain) in self.keys.iter().zip(&pair.explain) {
            json.push(',');
            json.push_str(bf);
            json.push_str(&json_float(explain.bayes_factor));
            json.push(',');
            json.push_str(gamma);
            json.push_str(&explain.gamma.to_string());
            if let Some([l, r, adj]) = tf {
                for (k, v) in [(l, explain.tf_l), (r, explain.tf_r)] {
                    json.push(',');
                    json.push_str(k);
                    json.push_str(&v.map_or_else(|| "null".to_owned(), json_float));
                }
                json.push(',');
                json.push_str(adj);
                json.push_str(&json_float(explain.tf_adjustment_bayes_factor));
            }
        }
        json.push('}');
        push_copy_text(buf, Some(&json));
        buf.push(b'\n');
    }
}

/// A float as PostgreSQL's float8 input reads it back exactly.
fn pg_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        format!("{v:?}")
    }
}

/// A float as a JSON number (shortest round-trip form); `null` when JSON cannot hold it.
fn json_float(v: f64) -> String {
    if v.is_finite() {
        format!("{v:?}")
    } else {
        "null".into()
    }
}
