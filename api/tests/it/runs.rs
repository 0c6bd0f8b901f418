//! Health check, unknown URLs, and the runs endpoints.

use std::time::Duration;

use axum::http::StatusCode;
use idem_engine::StartOptions;
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::common::{app, engine, send};

#[sqlx::test(migrations = false)]
async fn health_check_and_unknown_urls(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = app(&engine).await;
    let ok = send(&app, "GET", "/api/v1/health-check").await;
    assert_eq!((ok.status, ok.json), (StatusCode::OK, json!({})));
    let missing = send(&app, "GET", "/api/v1/nothing-here").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json,
        json!({"error": {"code": "not_found", "message": "Resource not found"}})
    );
}

/// The pools of the `idem` binary run without JIT compilation (see `idem_migrations::connect`).
#[sqlx::test(migrations = false)]
async fn the_binarys_connections_compile_no_queries(pool: PgPool) {
    let ours = idem_migrations::connect(&crate::common::database_url(&pool), 1)
        .await
        .expect("connect");
    let jit: String = sqlx::query_scalar("SHOW jit")
        .fetch_one(&ours)
        .await
        .expect("show");
    assert_eq!(jit, "off");
    // The test pool has the server's default: the setting is the connection's.
    let default: String = sqlx::query_scalar("SELECT boot_val FROM pg_settings WHERE name = 'jit'")
        .fetch_one(&pool)
        .await
        .expect("boot value");
    assert_eq!(default, "on");
}

#[sqlx::test(migrations = false)]
async fn runs_can_be_listed_read_resumed_and_cancelled(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = app(&engine).await;

    // Not started by workers yet: pending, cancellable.
    let pending = engine
        .start("echo", &json!({"x": 1}), StartOptions::default())
        .await
        .unwrap();
    let read = send(&app, "GET", &format!("/api/v1/runs/{}", pending.run_id)).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json["run"]["status"], "pending");
    assert_eq!(read.json["run"]["workflow"], "echo");
    assert_eq!(read.json["run"]["input"], json!({"x": 1}));
    assert_eq!(read.json["run"]["steps"][0]["name"], "echo");
    assert_eq!(read.json["run"]["steps"][0]["status"], "queued");
    let cancelled = send(
        &app,
        "POST",
        &format!("/api/v1/runs/{}/cancel", pending.run_id),
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.json["run"]["status"], "cancelled");
    assert_eq!(cancelled.json["run"]["steps"][0]["status"], "cancelled");
    let again = send(
        &app,
        "POST",
        &format!("/api/v1/runs/{}/cancel", pending.run_id),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json["error"]["code"], "conflict");

    // Resume the cancelled run and let a worker finish it; a succeeded run cannot be resumed.
    let shutdown = CancellationToken::new();
    let workers = engine.clone();
    let stop = shutdown.clone();
    let handle = tokio::spawn(async move { workers.run_workers(stop).await });
    let resumed = send(
        &app,
        "POST",
        &format!("/api/v1/runs/{}/resume", pending.run_id),
    )
    .await;
    assert_eq!(resumed.status, StatusCode::OK);
    let run = poll(&app, &pending.run_id.to_string(), "succeeded").await;
    assert_eq!(run["output"], json!({"x": 1}));
    let refused = send(
        &app,
        "POST",
        &format!("/api/v1/runs/{}/resume", pending.run_id),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        refused.json["error"]["message"],
        format!("Cannot resume run {}: it is succeeded", pending.run_id)
    );

    let failing = engine
        .start("refuse", &json!({}), StartOptions::default())
        .await
        .unwrap();
    let run = poll(&app, &failing.run_id.to_string(), "failed").await;
    assert_eq!(run["error"], "step 'refuse' failed: refused");
    assert_eq!(run["steps"][0]["attempt_list"][0]["status"], "failed");
    shutdown.cancel();
    handle.await.unwrap().unwrap();

    // Listing with filters and the reference's pagination object.
    let list = send(&app, "GET", "/api/v1/runs?workflow=echo&page_size=1").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["runs"].as_array().unwrap().len(), 1);
    assert_eq!(list.json["runs"][0]["id"], pending.run_id.to_string());
    assert_eq!(
        list.json["pagination"],
        json!({"page": 1, "page_size": 1, "total_count": 1, "total_pages": 1, "has_next": false,
               "has_previous": false, "next_page": null, "previous_page": null})
    );
    let failed = send(&app, "GET", "/api/v1/runs?status=failed").await;
    assert_eq!(failed.json["pagination"]["total_count"], 1);
    assert_eq!(failed.json["runs"][0]["workflow"], "refuse");
    let bad = send(&app, "GET", "/api/v1/runs?status=done&colour=red").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json,
        json!({"error": {"code": "validation_failed", "message": "Validation failed",
                         "details": [{"field": "colour", "message": "Unexpected field"}]}})
    );

    // Ids.
    let unknown = send(
        &app,
        "GET",
        &format!("/api/v1/runs/{}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let unknown = send(
        &app,
        "POST",
        &format!("/api/v1/runs/{}/resume", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = send(&app, "GET", "/api/v1/runs/not-a-uuid").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.json,
        json!({"error": {"code": "invalid_id", "message": "Invalid Run ID",
                         "details": [{"field": "run_id", "message": "Invalid Run ID"}]}})
    );
}

async fn poll(app: &axum::Router, id: &str, status: &str) -> serde_json::Value {
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
