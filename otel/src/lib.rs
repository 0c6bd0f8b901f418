//! Telemetry for idem: the `tracing` subscriber, OpenTelemetry export over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the attribute names idem uses ([`semconv`]), and W3C `traceparent`
//! helpers so that a workflow run's steps join the trace of the request that started the run, whichever
//! process runs them and however much later.
//!
//! Spans always get real trace and span ids (an SDK tracer provider is installed even when nothing is
//! exported), so a stored traceparent is meaningful on every install.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub mod semconv;

/// Telemetry settings, read once by the binary (flags or the standard `OTEL_*` variables).
#[derive(Debug, Clone)]
pub struct OtelConfig {
    /// OTLP/HTTP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://127.0.0.1:4318`); `None` exports
    /// nothing.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported resource (`OTEL_SERVICE_NAME`).
    pub service_name: String,
    /// Log filter in `EnvFilter` syntax (`RUST_LOG`).
    pub log_filter: String,
}

/// Errors from setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OTLP exporter could not be built.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// The log filter does not parse.
    #[error("invalid log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// A global subscriber was already installed.
    #[error("a tracing subscriber is already installed: {0}")]
    Init(#[from] tracing_subscriber::util::TryInitError),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Flushes and shuts the tracer provider down when dropped (at the end of `main`).
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Flushes every finished span to the exporter now.
    pub fn flush(&self) {
        if let Err(error) = self.provider.force_flush() {
            tracing::warn!(%error, "Flushing spans failed.");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}

/// Installs the global subscriber (logs to stderr, spans to OTLP when configured) and the W3C trace-context
/// propagator.
pub fn init(config: &OtelConfig) -> Result<TelemetryGuard> {
    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(config.service_name.clone())
            .build(),
    );
    if let Some(endpoint) = &config.otlp_endpoint {
        // The exporter's HTTP client is reqwest with rustls and no bundled crypto provider (the workspace
        // avoids aws-lc): it needs the process-wide provider, ring, as sqlx and the S3 client use. Already
        // installed is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(traces_url(endpoint))
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    init_with_provider(builder.build(), &config.log_filter)
}

/// Installs the global subscriber with a given tracer provider (tests use one with an in-memory exporter).
pub fn init_with_provider(provider: SdkTracerProvider, log_filter: &str) -> Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer("idem");
    // The log filter applies to logs only: spans at INFO and above always reach OpenTelemetry, so a run's
    // traceparent exists (and traces are complete) whatever RUST_LOG says.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(EnvFilter::try_new(log_filter)?),
        )
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(LevelFilter::INFO),
        )
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

/// The OTLP/HTTP traces URL for a base endpoint, as the OTLP specification derives it from
/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// The W3C `traceparent` of `span`, if it belongs to a trace (it does whenever telemetry is initialised).
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the span that `traceparent` names. An unparsable value is ignored (the span
/// then starts a trace of its own) and logged.
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if let Err(error) = span.set_parent(context) {
        tracing::debug!(
            ?error,
            traceparent,
            "Cannot attach span to stored trace context."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_url_follows_the_otlp_rules() {
        assert_eq!(traces_url("http://h:4318"), "http://h:4318/v1/traces");
        assert_eq!(traces_url("http://h:4318/"), "http://h:4318/v1/traces");
        assert_eq!(
            traces_url("http://h:4318/v1/traces"),
            "http://h:4318/v1/traces"
        );
    }
}
