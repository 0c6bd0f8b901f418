//! Helpers: an engine with the test workflows and running workers, waiting for a run's state, spans.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use idem_engine::{Engine, EngineConfig, RunDetail};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use sqlx::{ConnectOptions, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::workflows;

/// Workers that stop when this is dropped.
pub struct Running {
    pub engine: Engine,
    shutdown: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn test_config() -> EngineConfig {
    EngineConfig {
        workers: 2,
        lease: Duration::from_secs(2),
        poll_interval: Duration::from_millis(100),
        ..EngineConfig::default()
    }
}

/// Migrates the test database and returns an engine over it, without workers.
pub async fn engine(pool: &PgPool) -> Engine {
    telemetry();
    idem_migrations::migrate(pool)
        .await
        .expect("migrations apply");
    sqlx::raw_sql(workflows::TESTBED_SCHEMA)
        .execute(pool)
        .await
        .expect("testbed tables");
    Engine::new(pool.clone(), test_config(), workflows::all())
}

/// An engine with workers running in this process.
pub async fn running(pool: &PgPool) -> Running {
    let engine = engine(pool).await;
    let shutdown = CancellationToken::new();
    let workers = engine.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move { workers.run_workers(stop).await.expect("workers run") });
    Running { engine, shutdown }
}

/// Polls the run until `done` holds, or panics with its state after `timeout`.
#[track_caller]
pub fn wait_for<'a>(
    engine: &'a Engine,
    run_id: Uuid,
    timeout: Duration,
    done: impl Fn(&RunDetail) -> bool + 'a,
) -> impl std::future::Future<Output = RunDetail> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let deadline = Instant::now() + timeout;
        loop {
            let run = engine
                .get_run(run_id)
                .await
                .expect("run reads")
                .expect("run exists");
            if done(&run) {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "{caller}: run did not reach the expected state in {timeout:?}: {}",
                serde_json::to_string_pretty(&run).unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn status_is(status: &'static str) -> impl Fn(&RunDetail) -> bool {
    move |run| run.summary.status == status
}

/// Effects recorded by the test workflows for a run's step: (attempt, worker pid).
pub async fn effects(pool: &PgPool, run_id: Uuid, step: &str) -> Vec<(i32, i32)> {
    sqlx::query_as("SELECT attempt, worker_pid FROM testbed_effects WHERE run_id = $1 AND step = $2 ORDER BY at")
        .bind(run_id)
        .bind(step)
        .fetch_all(pool)
        .await
        .expect("effects read")
}

/// The URL of the test's database, for worker processes.
pub fn database_url(pool: &PgPool) -> String {
    pool.connect_options().to_url_lossy().to_string()
}

static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();

/// Installs (once per test binary) a global subscriber whose spans go to an in-memory exporter.
pub fn telemetry() -> &'static InMemorySpanExporter {
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        // Keep the guard alive for the whole test binary: dropping it would shut the provider down.
        std::mem::forget(
            idem_otel::init_with_provider(provider, "warn").expect("telemetry installs"),
        );
        exporter
    })
}

/// Finished spans of one trace.
pub fn spans_of_trace(trace_id: &str) -> Vec<SpanData> {
    telemetry()
        .get_finished_spans()
        .expect("spans read")
        .into_iter()
        .filter(|s| s.span_context.trace_id().to_string() == trace_id)
        .collect()
}

/// The (trace id, span id) of a W3C traceparent.
pub fn parse_traceparent(tp: &str) -> (String, String) {
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {tp}");
    (parts[1].to_owned(), parts[2].to_owned())
}

/// Spans received over OTLP/HTTP from other processes.
#[derive(Clone, Debug, Default)]
pub struct ReceivedSpans(pub Arc<Mutex<Vec<ReceivedSpan>>>);

#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub trace_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub worker: String,
}

/// Serves `POST /v1/traces` (OTLP/HTTP protobuf) on a loopback port; returns its base URL.
pub async fn otlp_receiver() -> (String, ReceivedSpans) {
    use axum::body::Bytes;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
    use prost::Message;

    let received = ReceivedSpans::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                let request =
                    ExportTraceServiceRequest::decode(body).expect("OTLP protobuf decodes");
                let mut spans = sink.0.lock().unwrap();
                for rs in request.resource_spans {
                    for ss in rs.scope_spans {
                        for span in ss.spans {
                            let worker = span
                                .attributes
                                .iter()
                                .find(|kv| kv.key == "idem.worker")
                                .and_then(|kv| {
                                    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                        Some(AnyValue::StringValue(s)) => Some(s.clone()),
                                        _ => None,
                                    }
                                })
                                .unwrap_or_default();
                            spans.push(ReceivedSpan {
                                trace_id: hex(&span.trace_id),
                                parent_span_id: hex(&span.parent_span_id),
                                name: span.name,
                                worker,
                            });
                        }
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver serves") });
    (format!("http://{addr}"), received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
