//! Matching configs: create (validated with the scorer's validator against the loaded functions),
//! list, read.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query as RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use idem_empi::{ConfigId, NewConfig};
use idem_matching::{Model, Schema};
use serde_json::{Value, json};

use super::body::{Fields, json_object};
use super::query::{Pagination, Query};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, Detail};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/config", post(create))
        .route("/configs", get(list))
        .route("/configs/{id}", get(read))
}

/// `POST /config` `{potential_match_threshold, auto_match_threshold, splink_settings}` ->
/// `{"config_id": "cfg_N"}`. Every problem is reported, settings problems with their JSON path under
/// `splink_settings`.
#[utoipa::path(
    post,
    path = "/api/v1/config",
    tag = "configs",
    request_body(content = serde_json::Value, description = "`{\"potential_match_threshold\", \"auto_match_threshold\", \"splink_settings\"}`"),
    responses(
        (status = 200, description = "`{\"config_id\": \"cfg_N\"}`", body = serde_json::Value),
        (status = 400, description = "Every problem, settings problems with their JSON path", body = super::openapi::ErrorBody),
        (status = 415, description = "Not JSON", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    _user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = json_object(&headers, &body)?;
    let mut fields = Fields::default();
    fields.only(
        &body,
        &[
            "potential_match_threshold",
            "auto_match_threshold",
            "splink_settings",
        ],
    );
    let potential = fields.probability(&body, "potential_match_threshold");
    let auto = fields.probability(&body, "auto_match_threshold");
    if let (Some(p), Some(a)) = (potential, auto)
        && a < p
    {
        fields.details.push(Detail::field(
            "auto_match_threshold",
            "Ensure this value is greater than or equal to potential_match_threshold.",
        ));
    }
    let settings = match body.get("splink_settings") {
        None | Some(Value::Null) => {
            fields
                .details
                .push(Detail::field("splink_settings", "This field is required."));
            None
        }
        Some(settings @ Value::Object(_)) => {
            if let Err(errors) = Model::from_json(
                &settings.to_string(),
                &Schema::person_record(),
                &state.functions,
            ) {
                for e in errors.errors() {
                    let field = if e.path.is_empty() {
                        "splink_settings".to_owned()
                    } else {
                        format!("splink_settings.{}", e.path)
                    };
                    fields.details.push(Detail::field(field, e.message.clone()));
                }
            }
            Some(settings.clone())
        }
        Some(_) => {
            fields.details.push(Detail::field(
                "splink_settings",
                "Invalid data. Expected a dictionary.",
            ));
            None
        }
    };
    fields.finish()?;
    let (Some(potential), Some(auto), Some(settings)) = (potential, auto, settings) else {
        unreachable!("finish() fails when a field is missing");
    };
    let config = idem_empi::insert_config(
        state.engine.pool(),
        &NewConfig {
            potential_match_threshold: potential,
            auto_match_threshold: auto,
            splink_settings: settings,
        },
    )
    .await?;
    tracing::info!(config_id = %config.id, "Config created.");
    Ok(Json(json!({ "config_id": config.id })))
}

#[utoipa::path(
    get,
    path = "/api/v1/configs",
    tag = "configs",
    params(
        ("page" = Option<u32>, Query, description = "1-based page (default 1)"),
        ("page_size" = Option<u32>, Query, description = "Configs per page, 1 to 1000 (default 50)"),
    ),
    responses(
        (status = 200, description = "`{\"configs\": [...], \"pagination\": {...}}`", body = serde_json::Value),
        (status = 400, description = "Unknown key or bad page", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let query = Query::parse(raw, &["page", "page_size"])?;
    let (page, page_size) = query.page()?;
    let offset = i64::from(page - 1) * i64::from(page_size);
    let configs =
        idem_empi::list_configs(state.engine.pool(), i64::from(page_size), offset).await?;
    let total = idem_empi::count_configs(state.engine.pool()).await?;
    Ok(Json(json!({
        "configs": configs,
        "pagination": Pagination::new(page, page_size, total),
    })))
}

#[utoipa::path(
    get,
    path = "/api/v1/configs/{id}",
    tag = "configs",
    params(("id" = String, Path, description = "`cfg_N`")),
    responses(
        (status = 200, description = "`{\"config\": {...}}`", body = serde_json::Value),
        (status = 400, description = "Malformed id", body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown config", body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id: ConfigId = id.parse().map_err(|_| ApiError::InvalidId {
        field: "config_id",
        message: "Invalid Config ID",
    })?;
    let config = idem_empi::get_config(state.engine.pool(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(json!({ "config": config })))
}
