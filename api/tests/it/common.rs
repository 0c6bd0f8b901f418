//! Request helpers: `app(state).oneshot(req)` and JSON bodies.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use idem_api::AppState;
use idem_engine::{Engine, EngineConfig, StepContext, StepError, Workflow};
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

/// `echo`: one step returning its input; `refuse`: one step failing permanently.
pub fn workflows() -> Vec<Workflow> {
    vec![
        Workflow::new("echo", 1).step("echo", |_ctx: StepContext, v: Value| async move { Ok(v) }),
        Workflow::new("refuse", 1).step("refuse", |_ctx: StepContext, _v: Value| async move {
            Err::<Value, _>(StepError::permanent(std::io::Error::other("refused")))
        }),
        idem_workflows::export::workflow(),
    ]
}

pub async fn engine(pool: &PgPool) -> Engine {
    idem_migrations::migrate(pool)
        .await
        .expect("migrations apply");
    let config = EngineConfig {
        workers: 1,
        poll_interval: Duration::from_millis(100),
        ..EngineConfig::default()
    };
    Engine::new(pool.clone(), config, workflows())
}

pub async fn app(engine: &Engine) -> Router {
    let auth = idem_api::auth::Auth::disabled(engine.pool())
        .await
        .expect("local user");
    idem_api::app(AppState {
        engine: engine.clone(),
        auth,
        functions: std::sync::Arc::new(idem_matching::FunctionRegistry::with_builtins()),
    })
}

pub struct Response {
    pub status: StatusCode,
    pub json: Value,
}

pub async fn send(app: &Router, method: &str, uri: &str) -> Response {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let cache = response.headers().get(header::CACHE_CONTROL).cloned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    assert_eq!(
        cache.as_ref().map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{method} {uri}"
    );
    Response { status, json }
}

/// Sends `body` as `application/json`.
pub async fn send_json(app: &Router, method: &str, uri: &str, body: &Value) -> Response {
    send_body(app, method, uri, "application/json", body.to_string()).await
}

/// Sends a body with the given content type.
pub async fn send_body(
    app: &Router,
    method: &str,
    uri: &str,
    content_type: &str,
    body: String,
) -> Response {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    Response { status, json }
}

/// A database with the potential-match fixture (`fixtures/potential_matches.sql`) and the local user.
pub async fn with_potential_matches(pool: &PgPool) -> (Engine, Router) {
    let engine = engine(pool).await;
    sqlx::raw_sql(include_str!("fixtures/potential_matches.sql"))
        .execute(pool)
        .await
        .expect("fixture loads");
    let app = app(&engine).await;
    (engine, app)
}

/// The public id of fixture person `n`.
pub fn p(n: u8) -> String {
    format!("p_00000000-0000-4000-8000-00000000000{n}")
}
