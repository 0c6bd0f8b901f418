//! Request helpers: `app(state).oneshot(req)` and JSON bodies.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use idem_api::AppState;
use idem_engine::{Engine, EngineConfig, StepContext, StepError, Workflow};
use idem_plugin_host::Plugins;
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
    ]
}

pub async fn engine(pool: &PgPool) -> Engine {
    engine_with(pool, workflows()).await
}

/// A migrated database and an engine running `workflows`.
pub async fn engine_with(pool: &PgPool, workflows: Vec<Workflow>) -> Engine {
    idem_migrations::migrate(pool)
        .await
        .expect("migrations apply");
    let config = EngineConfig {
        workers: 1,
        poll_interval: Duration::from_millis(100),
        ..EngineConfig::default()
    };
    Engine::new(pool.clone(), config, workflows)
}

pub async fn app(engine: &Engine) -> Router {
    app_with_plugins(engine, Plugins::builtins_only()).await
}

/// The app with these plugins' functions available to settings.
pub async fn app_with_plugins(engine: &Engine, plugins: Plugins) -> Router {
    let auth = idem_api::auth::Auth::disabled(engine.pool())
        .await
        .expect("local user");
    idem_api::app(AppState {
        engine: engine.clone(),
        auth,
        functions: plugins.registry(),
        plugins: Arc::new(plugins),
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

/// Reads run `id` until it has `status` (20 s deadline).
pub async fn poll_run(app: &Router, id: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let run = send(app, "GET", &format!("/api/v1/runs/{id}")).await.json["run"].clone();
        if run["status"] == status {
            return run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run never became {status}: {run}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
