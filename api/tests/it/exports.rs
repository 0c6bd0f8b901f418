//! Exports: streamed CSV with public ids, the estimate, durable export runs to a file (read back and
//! compared), and the reference's validation messages.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::common::{
    S3Server, WorkerProcess, database_url, send, send_body, send_json, with_potential_matches,
};

const PERSON_RECORDS_CSV: &str = "\
person_id,source_person_id,data_source,first_name,last_name,sex,race,birth_date,death_date,social_security_number,address,city,state,zip_code,county,phone
p_00000000-0000-4000-8000-000000000001,a1,ds1,John,Doe,,,1980-01-01,,,,,,,,
p_00000000-0000-4000-8000-000000000002,a2,ds2,Jon,Doe,,,1980-01-02,,,,,,,,
p_00000000-0000-4000-8000-000000000003,a3,ds3,Jane,Smith,,,1980-01-03,,,,,,,,
p_00000000-0000-4000-8000-000000000004,a4,ds4,Janet,Smith,,,1980-01-04,,,,,,,,
p_00000000-0000-4000-8000-000000000005,a5,ds5,Tom,Rom,,,1980-01-05,,,,,,,,
p_00000000-0000-4000-8000-000000000006,a6,ds6,Thom,Rom,,,1980-01-06,,,,,,,,
p_00000000-0000-4000-8000-000000000007,a7,ds7,Ann,Lee,,,1980-01-07,,,,,,,,
p_00000000-0000-4000-8000-000000000008,a8,ds8,Anne,Lee,,,1980-01-08,,,,,,,,
";

const POTENTIAL_MATCHES_CSV: &str = "\
group_id,person1_id,person1_first_name,person1_last_name,person1_birth_date,person1_data_source,person1_source_id,person2_id,person2_first_name,person2_last_name,person2_birth_date,person2_data_source,person2_source_id,match_probability
pm_1,p_00000000-0000-4000-8000-000000000001,John,Doe,1980-01-01,ds1,a1,p_00000000-0000-4000-8000-000000000002,Jon,Doe,1980-01-02,ds2,a2,0.95
pm_1,p_00000000-0000-4000-8000-000000000003,Jane,Smith,1980-01-03,ds3,a3,p_00000000-0000-4000-8000-000000000004,Janet,Smith,1980-01-04,ds4,a4,0.9
pm_2,p_00000000-0000-4000-8000-000000000005,Tom,Rom,1980-01-05,ds5,a5,p_00000000-0000-4000-8000-000000000006,Thom,Rom,1980-01-06,ds6,a6,0.8
";

/// POSTs a JSON body; returns status, content type, content disposition and the body as text.
async fn post_text(app: &Router, uri: &str, body: &Value) -> (StatusCode, String, String, String) {
    let request = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (status, content_type, disposition) = (
        response.status(),
        header(header::CONTENT_TYPE),
        header(header::CONTENT_DISPOSITION),
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        disposition,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

async fn poll_run(app: &Router, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let run = send(app, "GET", &format!("/api/v1/runs/{id}")).await.json["run"].clone();
        if run["status"] == "succeeded" {
            return run;
        }
        assert!(
            run["status"] != "failed" && std::time::Instant::now() < deadline,
            "run did not succeed: {run}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn small_exports_stream_csv_with_public_ids(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    let (status, content_type, disposition, csv) =
        post_text(&app, "/api/v1/person-records/export", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert_eq!(
        disposition,
        "attachment; filename=\"person-record-export.csv\""
    );
    assert_eq!(csv, PERSON_RECORDS_CSV);

    // Only pending groups (pm_3 is matched, pm_4 replaced), by group then probability.
    let (status, _, disposition, csv) = post_text(
        &app,
        "/api/v1/potential-matches/export",
        &json!({"s3_uri": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        disposition.starts_with("attachment; filename=\"potential_matches_export_")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    assert_eq!(csv, POTENTIAL_MATCHES_CSV);

    let estimate = send_json(
        &app,
        "POST",
        "/api/v1/potential-matches/export",
        &json!({"estimate": true, "s3_uri": "s3://ignored/when-estimating.csv"}),
    )
    .await;
    assert_eq!(
        (estimate.status, estimate.json),
        (
            StatusCode::OK,
            json!({"estimated_count": 3, "message": "Estimated 3 potential match pairs to export"})
        )
    );

    // A matched group leaves the export.
    let matched = send_json(
        &app,
        "POST",
        "/api/v1/matches",
        &json!({"potential_match_id": "pm_2", "potential_match_version": 1, "person_updates": []}),
    )
    .await;
    assert_eq!(matched.status, StatusCode::OK);
    let (_, _, _, csv) = post_text(&app, "/api/v1/potential-matches/export", &json!({})).await;
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(!csv.contains("pm_2"));
}

#[sqlx::test(migrations = false)]
async fn export_runs_write_files_that_read_back_equal(pool: PgPool) {
    let (engine, app) = with_potential_matches(&pool).await;
    let shutdown = CancellationToken::new();
    let workers = tokio::spawn({
        let engine = engine.clone();
        let stop = shutdown.clone();
        async move { engine.run_workers(stop).await }
    });
    let dir = std::env::temp_dir().join(format!("idem-export-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();

    let cases = [
        (
            "/api/v1/potential-matches/export",
            dir.join("pairs.csv").display().to_string(),
            "potential-matches",
            POTENTIAL_MATCHES_CSV,
            3,
        ),
        (
            "/api/v1/person-records/export",
            format!("file://{}", dir.join("crosswalk.csv").display()),
            "person-records",
            PERSON_RECORDS_CSV,
            8,
        ),
    ];
    for (job, (uri, sink, kind, expected, rows)) in (2..).zip(cases) {
        let started = send_json(
            &app,
            "POST",
            uri,
            &json!({"uri": sink, "config_id": "cfg_1"}),
        )
        .await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
        let run_id = started.json["run_id"].as_str().unwrap().to_owned();
        assert_eq!(
            started.json,
            json!({"job_id": format!("job_{job}"), "run_id": run_id, "status": "running",
                "message": format!("Export job job_{job} created for export to {sink}")})
        );
        let run = poll_run(&app, &run_id).await;
        assert_eq!(run["workflow"], "export");
        assert_eq!(
            run["output"],
            json!({"job_id": format!("job_{job}"), "kind": kind, "uri": sink, "rows": rows})
        );
        let path = sink.strip_prefix("file://").unwrap_or(&sink);
        assert_eq!(std::fs::read_to_string(path).unwrap(), expected);
        let stored: (String, String, Option<String>, i64) = sqlx::query_as(
            "SELECT job_type, status, source_uri, config_id FROM jobs WHERE id = $1",
        )
        .bind(job)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            stored,
            (
                format!("export-{kind}"),
                "succeeded".into(),
                Some(sink.clone()),
                1
            )
        );
        let read = send(&app, "GET", &format!("/api/v1/jobs/job_{job}")).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.json);
        assert_eq!(
            (&read.json["job"]["job_type"], &read.json["job"]["status"]),
            (&json!(format!("export-{kind}")), &json!("succeeded"))
        );
    }
    // No partial file is left next to the exports.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["crosswalk.csv", "pairs.csv"]);
    shutdown.cancel();
    workers.await.unwrap().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[sqlx::test(migrations = false)]
async fn export_requests_are_validated(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    let detail = |field: &str, message: &str| {
        json!({"error": {"code": "validation_failed", "message": "Validation failed",
            "details": [{"field": field, "message": message}]}})
    };
    let cases = [
        (
            "/api/v1/person-records/export",
            json!({"s3_uri": "s3//bucket/key"}),
            detail("s3_uri", "Invalid S3 URI"),
        ),
        (
            "/api/v1/person-records/export",
            json!({"s3_uri": "s3://bucket"}),
            detail("s3_uri", "Invalid S3 URI"),
        ),
        (
            "/api/v1/person-records/export",
            json!({"s3_uri": ""}),
            detail("s3_uri", "This field may not be blank."),
        ),
        (
            "/api/v1/potential-matches/export",
            json!({"s3_uri": "invalid-uri"}),
            detail("s3_uri", "S3 URI must start with 's3://'"),
        ),
        (
            "/api/v1/potential-matches/export",
            json!({"uri": "relative.csv"}),
            detail(
                "uri",
                "Invalid URI (use s3://bucket/key, file:///path or an absolute path)",
            ),
        ),
        (
            "/api/v1/potential-matches/export",
            json!({"uri": "/tmp/x.csv", "config_id": "cfg_99"}),
            detail("config_id", "Config does not exist"),
        ),
        (
            "/api/v1/potential-matches/export",
            json!({"estimate": "yes"}),
            detail("estimate", "Must be a valid boolean."),
        ),
        (
            "/api/v1/person-records/export",
            json!({"file": "x"}),
            detail("file", "Unexpected field"),
        ),
    ];
    for (uri, body, expected) in cases {
        let r = send_json(&app, "POST", uri, &body).await;
        assert_eq!(
            (r.status, r.json),
            (StatusCode::BAD_REQUEST, expected),
            "{body}"
        );
    }
    let form = send_body(
        &app,
        "POST",
        "/api/v1/person-records/export",
        "multipart/form-data",
        "x".into(),
    )
    .await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1, "no export job was created");
}

/// Reads an S3 object as text.
async fn get_object(s3: &S3Server, bucket: &str, key: &str) -> String {
    let object = s3
        .client()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {e:?}"));
    let bytes = object.body.collect().await.unwrap().into_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Exports to `s3://idem-test/<key>` through a worker process; returns the run's output and the
/// object read back.
async fn export_to_s3(app: &Router, s3: &S3Server, uri: &str, key: &str) -> (Value, String) {
    let sink = format!("s3://idem-test/{key}");
    let started = send_json(app, "POST", uri, &json!({"s3_uri": sink})).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
    assert_eq!(
        started.json["message"],
        format!(
            "Export job {} created for S3 export to {sink}",
            started.json["job_id"].as_str().unwrap()
        )
    );
    let run = poll_run(app, started.json["run_id"].as_str().unwrap()).await;
    (
        run["output"].clone(),
        get_object(s3, "idem-test", key).await,
    )
}

/// Must-show 6 on any database: the potential-match export written to S3 by a durable run reads back
/// equal to the CSV streamed from the same data, with one row per pair of a pending potential match,
/// public ids, and each pair's persons as they are now. `s3` must have the bucket `idem-test` and a
/// worker process with its environment.
pub async fn assert_potential_match_export_round_trips(app: &Router, s3: &S3Server, pool: &PgPool) {
    let (output, object) = export_to_s3(
        app,
        s3,
        "/api/v1/potential-matches/export",
        "out/potential_matches.csv",
    )
    .await;
    let (status, _, _, streamed) =
        post_text(app, "/api/v1/potential-matches/export", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        object == streamed,
        "the S3 object differs from the streamed CSV"
    );
    let pairs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM prediction_results r JOIN match_groups g ON g.id = r.match_group_id \
         WHERE g.matched IS NULL AND g.deleted IS NULL",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(output["rows"], pairs);
    // Read back as CSV: row for row, the pending pairs with their records' current persons.
    type Pair = (String, String, String, String, String, String);
    let mut expected: Vec<Pair> = sqlx::query_as(
        "SELECT 'pm_' || g.id, 'p_' || pl.uuid, l.source_person_id, 'p_' || pr.uuid, \
                rr.source_person_id, r.match_probability::text \
         FROM prediction_results r JOIN match_groups g ON g.id = r.match_group_id \
         JOIN person_records l ON l.id = r.person_record_l_id JOIN persons pl ON pl.id = l.person_id \
         JOIN person_records rr ON rr.id = r.person_record_r_id JOIN persons pr ON pr.id = rr.person_id \
         WHERE g.matched IS NULL AND g.deleted IS NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut reader = csv::Reader::from_reader(object.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        idem_empi::ExportKind::PotentialMatches.header()
    );
    let mut read: Vec<Pair> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let f = |i: usize| r[i].to_owned();
            (f(0), f(1), f(6), f(7), f(12), f(13))
        })
        .collect();
    assert_eq!(read.len() as i64, pairs);
    expected.sort();
    read.sort();
    assert!(
        read == expected,
        "the exported pairs differ from the database"
    );
}

#[sqlx::test(migrations = false)]
async fn export_runs_write_to_s3_and_read_back_equal(pool: PgPool) {
    let (_engine, app) = with_potential_matches(&pool).await;
    let s3 = S3Server::start().await;
    s3.put("idem-test", "placeholder", Vec::new()).await;
    let _worker = WorkerProcess::start(&database_url(&pool), &s3.env());

    let (output, crosswalk) = export_to_s3(
        &app,
        &s3,
        "/api/v1/person-records/export",
        "out/crosswalk.csv",
    )
    .await;
    assert_eq!(output["rows"], 8);
    assert_eq!(crosswalk, PERSON_RECORDS_CSV);
    let (output, pairs) = export_to_s3(
        &app,
        &s3,
        "/api/v1/potential-matches/export",
        "out/pairs.csv",
    )
    .await;
    assert_eq!(output["rows"], 3);
    assert_eq!(pairs, POTENTIAL_MATCHES_CSV);
    assert_potential_match_export_round_trips(&app, &s3, &pool).await;

    // A missing bucket fails the run with the reason; the job is not marked succeeded.
    let started = send_json(
        &app,
        "POST",
        "/api/v1/person-records/export",
        &json!({"s3_uri": "s3://no-such-bucket/x.csv"}),
    )
    .await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    let run_id = started.json["run_id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let run = loop {
        let run = send(&app, "GET", &format!("/api/v1/runs/{run_id}"))
            .await
            .json["run"]
            .clone();
        if run["status"] == "failed" {
            break run;
        }
        assert!(std::time::Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("s3://no-such-bucket/x.csv"),
        "{run}"
    );
}
