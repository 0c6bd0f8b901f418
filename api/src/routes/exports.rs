//! Exports: `POST /person-records/export` (the crosswalk) and `POST /potential-matches/export` (the
//! pairs of pending potential matches), CSV with public ids (`p_<uuid>`, `pm_N`).
//!
//! With a sink (`s3_uri`, as the reference, or `uri`: `s3://bucket/key`, `file:///path` or an absolute
//! path) the export is a durable run of the `export` workflow: 202 with its job and run; its status is
//! on `GET /runs/{run_id}`. Without one, the CSV streams in the response as the reference does (read
//! from one snapshot; a failure after the first bytes aborts the response instead of truncating it
//! silently).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use idem_empi::{ConfigId, ExportKind};
use idem_engine::StartOptions;
use idem_workflows::export::{ChunkSink, ExportInput, WORKFLOW, write_csv};
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::body::{Checker, parse};
use crate::AppState;
use crate::error::{ApiError, ApiResult, Detail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/person-records/export", post(person_records))
        .route("/potential-matches/export", post(potential_matches))
}

/// Body of `POST /person-records/export`.
#[allow(dead_code, reason = "the OpenAPI schema of a body parsed by `Checker`")]
#[derive(ToSchema)]
pub(crate) struct PersonRecordExportRequest {
    /// Write to this S3 object (`s3://bucket/key`) in a durable run.
    s3_uri: Option<String>,
    /// Or to this sink: `s3://bucket/key`, `file:///path` or an absolute path.
    uri: Option<String>,
    /// The config recorded on the export job (default: the newest).
    config_id: Option<String>,
}

/// Body of `POST /potential-matches/export`.
#[allow(dead_code, reason = "the OpenAPI schema of a body parsed by `Checker`")]
#[derive(ToSchema)]
pub(crate) struct PotentialMatchExportRequest {
    /// Write to this S3 object in a durable run; blank or absent: stream the CSV.
    s3_uri: Option<String>,
    /// Or to this sink: `s3://bucket/key`, `file:///path` or an absolute path.
    uri: Option<String>,
    /// Only count the rows.
    estimate: Option<bool>,
    /// The config recorded on the export job (default: the newest).
    config_id: Option<String>,
}

/// 202 response of an export run.
#[allow(
    dead_code,
    reason = "the OpenAPI schema of a response built with `json!`"
)]
#[derive(ToSchema)]
pub(crate) struct ExportStarted {
    /// The export job (`job_N`).
    job_id: String,
    /// Its run: `GET /api/v1/runs/{run_id}`.
    run_id: String,
    /// The job's status.
    status: String,
    /// What was started.
    message: String,
}

/// Response of `estimate`.
#[allow(
    dead_code,
    reason = "the OpenAPI schema of a response built with `json!`"
)]
#[derive(ToSchema)]
pub(crate) struct ExportEstimate {
    /// Rows the export would write.
    estimated_count: i64,
    /// `Estimated <N with thousands separators> potential match pairs to export`.
    message: String,
}

/// The reference's S3 URI rule: `s3://`, a bucket of `[a-z0-9.-]`, a non-empty key.
fn valid_s3_uri(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("s3://") else {
        return false;
    };
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    !bucket.is_empty()
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !key.is_empty()
}

/// A sink the export workflow can write: an S3 URI, `file:///path` or an absolute path.
fn valid_sink(uri: &str) -> bool {
    if uri.starts_with("s3://") {
        return valid_s3_uri(uri);
    }
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    path.starts_with('/') && !path.ends_with('/') && !path.contains("://")
}

/// The sink and config of an export body; `s3_message` is the reference's message for a bad `s3_uri`.
fn sink(
    c: &mut Checker,
    map: &Map<String, Value>,
    s3_message: &str,
    blank_s3_allowed: bool,
) -> (Option<String>, Option<ConfigId>) {
    let mut sink = None;
    if let Some(s3) = c
        .optional(map, "", "s3_uri")
        .and_then(|v| c.string(v, "s3_uri"))
    {
        if s3.trim().is_empty() {
            if !blank_s3_allowed {
                c.fail("s3_uri", "This field may not be blank.");
            }
        } else if valid_s3_uri(s3) {
            sink = Some(s3.to_owned());
        } else {
            c.fail("s3_uri", s3_message);
        }
    }
    if let Some(uri) = c.optional(map, "", "uri").and_then(|v| c.string(v, "uri")) {
        if uri.trim().is_empty() {
            c.fail("uri", "This field may not be blank.");
        } else if !valid_sink(uri) {
            c.fail(
                "uri",
                "Invalid URI (use s3://bucket/key, file:///path or an absolute path)",
            );
        } else if sink.is_some() {
            c.fail("uri", "Provide only one of 's3_uri' or 'uri', not both.");
        } else {
            sink = Some(uri.to_owned());
        }
    }
    let config = c
        .optional(map, "", "config_id")
        .and_then(|v| c.id(v, "config_id"));
    (sink, config)
}

/// Starts the export run; 202 with its job and run.
async fn start(
    state: &AppState,
    kind: ExportKind,
    config: Option<ConfigId>,
    uri: &str,
) -> ApiResult<Response> {
    let mut tx = state.engine.pool().begin().await.map_err(internal)?;
    let Some(job_id) = idem_empi::insert_export_job(&mut *tx, kind, config, uri).await? else {
        return Err(ApiError::Validation(vec![Detail::field(
            "config_id",
            "Config does not exist",
        )]));
    };
    let started = state
        .engine
        .start_in(
            &mut tx,
            WORKFLOW,
            &ExportInput { job_id },
            StartOptions::default(),
        )
        .await?;
    idem_empi::set_job_run(&mut *tx, job_id, started.run_id).await?;
    tx.commit().await.map_err(internal)?;
    let target = if uri.starts_with("s3://") {
        "S3 export"
    } else {
        "export"
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "job_id": job_id,
            "run_id": started.run_id,
            "status": "running",
            "message": format!("Export job {job_id} created for {target} to {uri}"),
        })),
    )
        .into_response())
}

fn internal(error: sqlx::Error) -> ApiError {
    ApiError::Internal(Box::new(error))
}

/// The chunks of a streamed export, for the response body.
struct BodySink {
    chunks: mpsc::Sender<Result<Bytes, std::io::Error>>,
    /// The response went away (the client disconnected).
    closed: bool,
}

impl ChunkSink for BodySink {
    async fn put(&mut self, chunk: Vec<u8>) -> idem_workflows::Result<()> {
        if self.chunks.send(Ok(Bytes::from(chunk))).await.is_err() {
            self.closed = true;
            return Err(idem_workflows::Error::Io {
                context: "streaming the export".into(),
                source: std::io::ErrorKind::BrokenPipe.into(),
            });
        }
        Ok(())
    }
}

/// Streams the CSV of `kind` as an attachment. The first chunk (the header and the first rows) is
/// awaited before answering, so that an export failing at once is a 500, not an empty file.
async fn stream(pool: PgPool, kind: ExportKind, filename: String) -> ApiResult<Response> {
    let (tx, mut rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut sink = BodySink {
            chunks: tx,
            closed: false,
        };
        match write_csv(&pool, kind, None, &mut sink).await {
            Ok(rows) => tracing::info!(rows, "Export streamed."),
            Err(_) if sink.closed => tracing::info!("Export stream closed by the client."),
            Err(error) => {
                tracing::error!(%error, "Export stream failed.");
                // The body stream fails: the client sees an aborted response, not a short file.
                let _ = sink.chunks.send(Err(std::io::Error::other(error))).await;
            }
        }
    });
    let first = match rx.recv().await {
        Some(Ok(first)) => first,
        Some(Err(error)) => return Err(ApiError::Internal(Box::new(error))),
        None => Bytes::new(),
    };
    let rest = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let body = futures::stream::StreamExt::chain(
        futures::stream::once(async move { Ok::<_, std::io::Error>(first) }),
        rest,
    );
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
            .map_err(|e| ApiError::Internal(Box::new(e)))?,
    );
    Ok(response)
}

/// Exports the crosswalk: every record with its person's public id.
///
/// Body `{"s3_uri"?: "s3://bucket/key" | "uri"?: sink, "config_id"?: "cfg_N"}`. With a sink: 202
/// `{"job_id": "job_N", "run_id", "status", "message"}` (a durable run; the reference writes
/// synchronously and answers `{}`). Without: 200 `text/csv` attachment `person-record-export.csv`.
/// Columns: `person_id` (`p_<uuid>`; the reference writes the bare uuid), `source_person_id`,
/// `data_source` and the 13 demographic fields.
#[utoipa::path(
    post,
    path = "/api/v1/person-records/export",
    request_body = PersonRecordExportRequest,
    responses(
        (status = 200, description = "The CSV", content_type = "text/csv", body = String),
        (status = 202, description = "Export run started", body = ExportStarted),
        (status = 400, description = "Invalid URI or config id", body = super::openapi::ErrorBody),
    ),
    tag = "exports",
    security(("bearer" = []))
)]
pub(crate) async fn person_records(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let body = parse(&headers, &body)?;
    let mut c = Checker::default();
    let Some(map) = c.object(&body, "", &["s3_uri", "uri", "config_id"]) else {
        return Err(c.into_error());
    };
    let (sink, config) = sink(&mut c, map, "Invalid S3 URI", false);
    c.finish()?;
    match sink {
        Some(uri) => start(&state, ExportKind::PersonRecords, config, &uri).await,
        None => {
            stream(
                state.engine.pool().clone(),
                ExportKind::PersonRecords,
                "person-record-export.csv".into(),
            )
            .await
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Exports the pairs of pending potential matches.
///
/// Body `{"s3_uri"?: str (blank: none), "uri"?: sink, "estimate"?: bool, "config_id"?: "cfg_N"}`.
/// `estimate`: 200 `{"estimated_count": N, "message": "Estimated N potential match pairs to
/// export"}`. With a sink: 202 `{"job_id": "job_N", "run_id", "status", "message"}`. Otherwise 200
/// `text/csv` attachment `potential_matches_export_YYYYMMDD_HHMMSS.csv`. Columns as the reference's,
/// with public person ids (`p_<uuid>`, not `Person_<bigint>`): `group_id` (`pm_N`), `person1_*`
/// and `person2_*` (id, first and last name, birth date, data source, source id) of the pair's
/// records, `match_probability`; by group, then probability (highest first).
#[utoipa::path(
    post,
    path = "/api/v1/potential-matches/export",
    request_body = PotentialMatchExportRequest,
    responses(
        (status = 200, description = "The CSV, or the estimate", content_type = "text/csv", body = String),
        (status = 202, description = "Export run started", body = ExportStarted),
        (status = 400, description = "Invalid URI or config id", body = super::openapi::ErrorBody),
    ),
    tag = "exports",
    security(("bearer" = []))
)]
pub(crate) async fn potential_matches(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let body = parse(&headers, &body)?;
    let mut c = Checker::default();
    let Some(map) = c.object(&body, "", &["s3_uri", "uri", "estimate", "config_id"]) else {
        return Err(c.into_error());
    };
    let (sink, config) = sink(&mut c, map, "S3 URI must start with 's3://'", true);
    let estimate = c
        .optional(map, "", "estimate")
        .and_then(|v| c.boolean(v, "estimate"))
        .unwrap_or(false);
    c.finish()?;
    if estimate {
        let n = idem_empi::count_potential_match_pairs(state.engine.pool()).await?;
        return Ok(Json(json!({
            "estimated_count": n,
            "message": format!("Estimated {} potential match pairs to export", thousands(n)),
        }))
        .into_response());
    }
    match sink {
        Some(uri) => start(&state, ExportKind::PotentialMatches, config, &uri).await,
        None => {
            let filename = chrono::Utc::now()
                .format("potential_matches_export_%Y%m%d_%H%M%S.csv")
                .to_string();
            stream(
                state.engine.pool().clone(),
                ExportKind::PotentialMatches,
                filename,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_numbers() {
        assert!(valid_s3_uri("s3://bucket/key.csv"));
        for bad in [
            "s3://bucket",
            "s3://Bucket/k",
            "s3//b/k",
            "s4://b/k",
            "//b/k",
            "https://b/k",
        ] {
            assert!(!valid_s3_uri(bad), "{bad}");
        }
        assert!(valid_sink("/tmp/x.csv") && valid_sink("file:///tmp/x.csv"));
        assert!(!valid_sink("x.csv") && !valid_sink("file://x.csv") && !valid_sink("http://a/b"));
        assert_eq!(thousands(147_389), "147,389");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
    }
}
