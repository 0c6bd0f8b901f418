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

/// Sends a JSON body.
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

/// A path under `../shared`.
pub fn shared(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(path)
}

/// The URL of the test's database, for worker processes.
pub fn database_url(pool: &PgPool) -> String {
    use sqlx::ConnectOptions;
    pool.connect_options().to_url_lossy().to_string()
}

/// An engine with the EMPI workflows (built-in functions, no plugins), migrations applied.
pub async fn empi_engine(pool: &PgPool) -> Engine {
    empi_engine_with(pool, &Plugins::builtins_only()).await
}

/// An engine with the EMPI workflows scoring with `plugins`' functions, migrations applied.
pub async fn empi_engine_with(pool: &PgPool, plugins: &Plugins) -> Engine {
    idem_migrations::migrate(pool)
        .await
        .expect("migrations apply");
    let workflows = idem_workflows::workflows(idem_workflows::Services {
        storage: idem_workflows::storage::Storage::new(Default::default()),
        functions: plugins.registry(),
        plugins: plugins.manifest(),
    });
    let config = EngineConfig {
        workers: 2,
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(100),
        ..EngineConfig::default()
    };
    Engine::new(pool.clone(), config, workflows)
}

/// Workers in this process that stop when dropped.
pub struct Workers(tokio_util::sync::CancellationToken);

impl Drop for Workers {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

pub fn spawn_workers(engine: &Engine) -> Workers {
    let token = tokio_util::sync::CancellationToken::new();
    let (engine, stop) = (engine.clone(), token.clone());
    tokio::spawn(async move { engine.run_workers(stop).await.expect("workers run") });
    Workers(token)
}

/// Creates a config over the API and returns its id.
pub async fn create_config(app: &Router, settings: &Value, potential: f64, auto: f64) -> String {
    let created = send_json(
        app,
        "POST",
        "/api/v1/config",
        &serde_json::json!({"potential_match_threshold": potential, "auto_match_threshold": auto,
                            "splink_settings": settings}),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.json);
    created.json["config_id"].as_str().unwrap().to_owned()
}

/// Starts an import of `source` over the API; returns (job id, run id).
pub async fn start_import(app: &Router, config: &str, key: &str, source: &str) -> (String, String) {
    let started = send_json(
        app,
        "POST",
        "/api/v1/person-records/import",
        &serde_json::json!({"config_id": config, key: source}),
    )
    .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
    (
        started.json["job_id"].as_str().unwrap().to_owned(),
        started.json["run_id"].as_str().unwrap().to_owned(),
    )
}

/// Polls the job until its run has finished (succeeded, failed or cancelled); returns the job.
pub async fn wait_job(app: &Router, job: &str, timeout: Duration) -> Value {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let got = send(app, "GET", &format!("/api/v1/jobs/{job}")).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.json);
        let status = got.json["job"]["status"].as_str().unwrap_or("").to_owned();
        if ["succeeded", "failed", "cancelled"].contains(&status.as_str()) {
            return got.json["job"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {job} did not finish: {}",
            got.json
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The Python of the test venv (`IDEM_TEST_PYTHON`, set by scripts/test.sh), else `python3`.
pub fn python() -> String {
    std::env::var("IDEM_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// A real S3-compatible server (moto, from the test venv) on a free port, stopped when dropped.
pub struct S3Server {
    child: std::process::Child,
    pub endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    pub async fn start() -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let python = python();
        let bin = std::path::Path::new(&python).with_file_name("moto_server");
        let child = std::process::Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} failed ({e}); scripts/test.sh sets IDEM_TEST_PYTHON to a venv with moto",
                    bin.display()
                )
            });
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// The environment a worker process needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("IDEM_S3_FORCE_PATH_STYLE", "true".into()),
        ]
    }

    /// A client with static test credentials.
    pub fn client(&self) -> aws_sdk_s3::Client {
        use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        let client = self.client();
        let _ = client.create_bucket().bucket(bucket).send().await;
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("put_object");
    }
}

/// An `idem worker` process on the test database, killed when dropped.
pub struct WorkerProcess(pub std::process::Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl WorkerProcess {
    pub fn start(database_url: &str, env: &[(&'static str, String)]) -> WorkerProcess {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_idem"))
            .arg("worker")
            .env("DATABASE_URL", database_url)
            .env("IDEM_LEASE_SECONDS", "2")
            .env("IDEM_WORKERS", "2")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .spawn()
            .expect("idem worker starts");
        WorkerProcess(child)
    }
}

/// A database with the potential-match fixture (`fixtures/potential_matches.sql`) and the local user.
pub async fn with_potential_matches(pool: &PgPool) -> (Engine, Router) {
    let engine = empi_engine(pool).await;
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
