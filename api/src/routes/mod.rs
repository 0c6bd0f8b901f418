//! The router: every route under `/api/v1`, the reference's 404 body for unknown URLs, `Cache-Control:
//! no-store` on every response, one log line per 5xx, and a span per request named after its matched route.

mod body;
mod configs;
mod events;
mod explain;
mod exports;
mod format;
mod health;
mod imports;
mod matches;
mod openapi;
mod persons;
mod plugins;
mod potential_matches;
mod query;
mod runs;
mod users;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tracing::Instrument;

use crate::AppState;
use crate::error::{ApiError, InternalErrorText};

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    // Everything but the health check needs an authenticated user.
    let protected = Router::new()
        .merge(runs::routes())
        .merge(matches::routes())
        .merge(exports::routes())
        .merge(configs::routes())
        .merge(imports::routes())
        .merge(persons::routes())
        .merge(potential_matches::routes())
        .merge(events::routes())
        .merge(users::routes())
        .merge(plugins::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ));
    let api = Router::new().merge(health::routes()).merge(protected);
    Router::new()
        .nest("/api/v1", api)
        .merge(openapi::routes())
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(log_server_errors))
        .layer(middleware::from_fn(no_store))
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

async fn request_span(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{} {route}", request.method()),
        http.request.method = %request.method(),
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

/// Patient data must not sit in shared caches.
async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Logs each 5xx once, with the error text the client does not see.
pub async fn log_server_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.status().is_server_error() {
        let error = response
            .extensions()
            .get::<InternalErrorText>()
            .map(|e| e.0.as_str())
            .unwrap_or("");
        tracing::error!(%method, %uri, status = response.status().as_u16(), error, "Request failed.");
    }
    response
}
