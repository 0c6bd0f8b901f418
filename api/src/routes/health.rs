//! `GET /api/v1/health-check`: public; 200 `{}` when the database answers.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/health-check", get(health_check))
}

/// Public: 200 `{}` when the database answers.
#[utoipa::path(
    get,
    path = "/api/v1/health-check",
    tag = "health",
    responses(
        (status = 200, description = "`{}`", body = serde_json::Value),
        (status = 500, description = "The database does not answer", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn health_check(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    sqlx::query("SELECT 1")
        .execute(state.engine.pool())
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Json(json!({})))
}
