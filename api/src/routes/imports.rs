//! Imports: `POST /person-records/import` starts an import run (JSON with a source URI, or a multipart
//! upload stored in the database so that a resumed run never needs it again), `GET /jobs/{id}` shows
//! a job with its run and counts, `GET /data-sources` lists the data sources of all records.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query as RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::TryStreamExt;
use idem_empi::{ConfigId, JobId};
use idem_workflows::import::{ImportSource, NoUpload};
use idem_workflows::storage::Location;
use serde_json::{Value, json};

use super::body::{content_type, json_object};
use super::query::Query;
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, Detail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/person-records/import", post(import))
        .route("/jobs/{id}", get(read_job))
        .route("/data-sources", get(data_sources))
}

fn config_id(raw: Option<&str>) -> ApiResult<ConfigId> {
    let raw = raw.ok_or_else(|| {
        ApiError::Validation(vec![Detail::field("config_id", "This field is required.")])
    })?;
    raw.parse()
        .map_err(|_| ApiError::Validation(vec![Detail::field("config_id", "Invalid Config ID")]))
}

/// `POST /person-records/import`: JSON `{"config_id", "s3_uri" | "source_uri"}` or multipart
/// `{config_id, file}` -> 202 `{"job_id", "run_id"}`. An `Idempotency-Key` header makes a repeated
/// request return the first one's job and run.
#[utoipa::path(
    post,
    path = "/api/v1/person-records/import",
    tag = "imports",
    request_body(content = serde_json::Value, description = "JSON `{\"config_id\", \"s3_uri\" | \"source_uri\"}` or multipart `config_id` then `file`"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key: the same key returns the first request's job and run")),
    responses(
        (status = 202, description = "`{\"job_id\": \"job_N\", \"run_id\": \"<uuid>\"}`", body = serde_json::Value),
        (status = 400, description = "Bad config id, source or upload", body = super::openapi::ErrorBody),
        (status = 415, description = "Neither JSON nor multipart", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn import(
    State(state): State<AppState>,
    _user: CurrentUser,
    request: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let headers = request.headers().clone();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| format!("import:{}", k.trim()));
    let ct = content_type(&headers);
    if ct == "multipart/form-data" {
        let multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::Validation(vec![Detail::general(e.body_text())]))?;
        return import_multipart(state, multipart, key).await;
    }
    let bytes = Bytes::from_request(request, &())
        .await
        .map_err(|e| ApiError::Validation(vec![Detail::general(e.body_text())]))?;
    let body = json_object(&headers, &bytes)?;
    let mut details = Vec::new();
    for k in body.keys() {
        if !["config_id", "s3_uri", "source_uri"].contains(&k.as_str()) {
            details.push(Detail::field(k.as_str(), "Unexpected field"));
        }
    }
    if !details.is_empty() {
        return Err(ApiError::Validation(details));
    }
    let config = config_id(
        body.get("config_id")
            .and_then(Value::as_str)
            .or_else(|| body.get("config_id").map(|_| "")),
    )?;
    let s3 = body.get("s3_uri");
    let uri = body.get("source_uri");
    let raw = match (s3, uri) {
        (None, None) => {
            return Err(ApiError::Validation(vec![Detail::general(
                "Must provide either 's3_uri' or 'file'.",
            )]));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::Validation(vec![Detail::general(
                "Provide only one of 's3_uri' or 'source_uri', not both.",
            )]));
        }
        (Some(v), None) => {
            let s = v.as_str().unwrap_or_default();
            if !s.starts_with("s3://") || !matches!(Location::parse(s), Ok(Location::S3 { .. })) {
                return Err(ApiError::Validation(vec![Detail::field(
                    "s3_uri",
                    "Invalid S3 URI",
                )]));
            }
            s.to_owned()
        }
        (None, Some(v)) => {
            let s = v.as_str().unwrap_or_default();
            match Location::parse(s) {
                Ok(Location::Upload { .. }) | Err(_) => {
                    return Err(ApiError::Validation(vec![Detail::field(
                        "source_uri",
                        "Invalid source URI: use s3://bucket/key, file:///absolute/path or a path",
                    )]));
                }
                Ok(_) => s.trim().to_owned(),
            }
        }
    };
    start_import(&state, config, ImportSource::<NoUpload>::Uri(raw), key).await
}

async fn import_multipart(
    state: AppState,
    mut multipart: Multipart,
    key: Option<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut config = None;
    // The config id must come before the file: the file is streamed into the database as it arrives.
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::Validation(vec![Detail::general(e.body_text())]))?
    {
        match field.name().unwrap_or("") {
            "config_id" => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::Validation(vec![Detail::general(e.body_text())]))?;
                config = Some(config_id(Some(text.trim()))?);
            }
            "file" => {
                let Some(config) = config else {
                    return Err(ApiError::Validation(vec![Detail::field(
                        "config_id",
                        "This field is required (before the file part).",
                    )]));
                };
                let filename = field.file_name().unwrap_or("upload.csv").to_owned();
                let stream = field.map_err(std::io::Error::other);
                return start_import(
                    &state,
                    config,
                    ImportSource::Upload { filename, stream },
                    key,
                )
                .await;
            }
            other => {
                return Err(ApiError::Validation(vec![Detail::field(
                    other,
                    "Unexpected field",
                )]));
            }
        }
    }
    if config.is_none() {
        return Err(ApiError::Validation(vec![Detail::field(
            "config_id",
            "This field is required.",
        )]));
    }
    Err(ApiError::Validation(vec![Detail::general(
        "Must provide either 's3_uri' or 'file'.",
    )]))
}

/// Checks the config and starts the import.
async fn start_import<S>(
    state: &AppState,
    config: ConfigId,
    source: ImportSource<S>,
    key: Option<String>,
) -> ApiResult<(StatusCode, Json<Value>)>
where
    S: futures::Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    if idem_empi::get_config(state.engine.pool(), config)
        .await?
        .is_none()
    {
        return Err(ApiError::Validation(vec![Detail::field(
            "config_id",
            format!("Config {config} does not exist"),
        )]));
    }
    let started = idem_workflows::import::start_import(&state.engine, config, source, key)
        .await
        .map_err(|e| match e {
            idem_workflows::Error::Io { .. } => {
                ApiError::Validation(vec![Detail::field("file", e.to_string())])
            }
            other => ApiError::Internal(Box::new(other)),
        })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "job_id": started.job_id, "run_id": started.run_id })),
    ))
}

/// `GET /jobs/{id}` -> `{"job": {..., "run": {...}}}`.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "imports",
    params(("id" = String, Path, description = "`job_N`")),
    responses(
        (status = 200, description = "`{\"job\": {..., counts, \"run\": {...}}}`", body = serde_json::Value),
        (status = 400, description = "Malformed id", body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown job", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn read_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id: JobId = id.parse().map_err(|_| ApiError::InvalidId {
        field: "job_id",
        message: "Invalid Job ID",
    })?;
    let job = idem_empi::get_job(state.engine.pool(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let run = match job.run_id {
        Some(run_id) => state.engine.get_run(run_id).await?,
        None => None,
    };
    let mut value = serde_json::to_value(&job).map_err(|e| ApiError::Internal(Box::new(e)))?;
    value["run"] = serde_json::to_value(run).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Json(json!({ "job": value })))
}

/// `GET /data-sources` -> `{"data_sources": [{"name": ...}]}`.
#[utoipa::path(
    get,
    path = "/api/v1/data-sources",
    tag = "imports",
    responses(
        (status = 200, description = "`{\"data_sources\": [{\"name\": ...}]}`", body = serde_json::Value),
        (status = 400, description = "A query parameter was given", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn data_sources(
    State(state): State<AppState>,
    _headers: HeaderMap,
    RawQuery(raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    Query::parse(raw, &[])?;
    let names = idem_empi::data_sources(state.engine.pool()).await?;
    let sources: Vec<Value> = names
        .into_iter()
        .map(|name| json!({ "name": name }))
        .collect();
    Ok(Json(json!({ "data_sources": sources })))
}
