//! `GET /potential-matches` and `GET /potential-matches/{id}`: the reference's shapes (linked records,
//! `fields`, metadata, persons paginated), each result explained per comparison, 400/404 for bad ids.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

use crate::common::{app, engine, send};
use crate::review_fixture::{self, P1, P2};

fn page(page: u32, page_size: u32, total: i64) -> Value {
    let pages = (total + i64::from(page_size) - 1) / i64::from(page_size);
    json!({"page": page, "page_size": page_size, "total_count": total, "total_pages": pages,
        "has_next": i64::from(page) < pages, "has_previous": page > 1,
        "next_page": if i64::from(page) < pages { Some(page + 1) } else { None },
        "previous_page": if page > 1 { Some(page - 1) } else { None }})
}

#[sqlx::test(migrations = false)]
async fn potential_matches_are_listed_with_linked_records(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = app(&engine).await;
    review_fixture::insert(&pool).await;

    // pm_2 is matched and pm_3 has no results: neither is listed. pm_1's records include pr_2, which no
    // result names but which shares P1 with pr_1.
    let pm1 = json!({"id": "pm_1", "first_name": "John", "last_name": "Smith", "data_sources": ["A", "B"],
        "max_match_probability": 0.9});
    let pm4 = json!({"id": "pm_4", "first_name": "John", "last_name": "Smyth", "data_sources": ["A", "B"],
        "max_match_probability": 0.6});
    let all = send(&app, "GET", "/api/v1/potential-matches").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        all.json,
        json!({"potential_matches": [pm1, pm4], "pagination": page(1, 50, 2)})
    );
    for (query, expected) in [
        ("first_name=jon", vec![&pm1]),
        ("last_name=brown", vec![&pm4]),
        ("first_name=john&data_source=B", vec![&pm1, &pm4]),
        ("first_name=alice&data_source=B", vec![]),
        ("person_id=p_a111", vec![&pm1]),
        ("source_person_id=T", vec![&pm4]),
        ("birth_date=1975", vec![&pm4]),
    ] {
        let found = send(&app, "GET", &format!("/api/v1/potential-matches?{query}")).await;
        assert_eq!(found.status, StatusCode::OK, "{query}");
        let n = expected.len() as i64;
        assert_eq!(
            found.json,
            json!({"potential_matches": expected, "pagination": page(1, 50, n)}),
            "{query}"
        );
    }
    let second = send(&app, "GET", "/api/v1/potential-matches?page=2&page_size=1").await;
    assert_eq!(
        second.json,
        json!({"potential_matches": [pm4], "pagination": page(2, 1, 2)})
    );
    let unknown = send(&app, "GET", "/api/v1/potential-matches?max=1").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.json["error"]["details"],
        json!([{"field": "max", "message": "Unexpected field"}])
    );
}

async fn etag(app: &axum::Router, uri: &str) -> (StatusCode, Option<String>) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let tag = response
        .headers()
        .get(header::ETAG)
        .map(|v| v.to_str().unwrap().to_owned());
    response.into_body().collect().await.unwrap();
    (status, tag)
}

#[sqlx::test(migrations = false)]
async fn a_potential_match_is_read_with_explained_results(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = app(&engine).await;
    review_fixture::insert(&pool).await;

    let read = send(&app, "GET", "/api/v1/potential-matches/pm_1").await;
    assert_eq!(read.status, StatusCode::OK);
    let explained = json!({"match_key": "0", "comparisons": [
        {"comparison": "first_name", "gamma": 1, "level": "Exact match on first_name",
         "bayes_factor": 8.0, "match_weight": 3.0,
         "tf_adjustment": {"column": "first_name", "tf_l": 0.25, "tf_r": 0.25, "bayes_factor": 0.5,
                           "match_weight": -1.0}},
        {"comparison": "birth_date", "gamma": 0, "level": "All other comparisons",
         "bayes_factor": 0.25, "match_weight": -2.0, "tf_adjustment": null},
    ]});
    let results = json!([{"id": "prre_1", "created": "2025-01-02T03:04:05Z", "match_probability": 0.9,
        "match_weight": 3.17, "person_record_l_id": "pr_1", "person_record_r_id": "pr_3",
        "explanation": explained}]);
    let persons = json!([
        {"id": P1, "created": "2025-01-02T03:04:05Z", "version": 2, "records": [
            {"id": "pr_1", "person_id": P1, "first_name": "John", "last_name": "Smith", "data_source": "A",
             "social_security_number": "111-22-3333"},
            {"id": "pr_2", "person_id": P1, "first_name": "Jon", "last_name": "Smith", "data_source": "B",
             "social_security_number": null}]},
        {"id": P2, "created": "2025-01-02T03:04:05.250000Z", "version": 1, "records": [
            {"id": "pr_3", "person_id": P2, "first_name": "John", "last_name": "Smyth", "data_source": "B",
             "social_security_number": "111-22-3334"}]},
    ]);
    assert_eq!(
        read.json,
        json!({
            "potential_match": {"id": "pm_1", "created": "2025-01-02T03:04:05Z", "version": 3,
                "results": results, "persons": persons},
            "pagination": page(1, 50, 2),
            "metadata": {"fields_requested": "id,first_name,last_name,data_source,social_security_number",
                "response_size_optimized": true, "memory_optimized": true, "pagination_enabled": true},
        })
    );
    assert_eq!(
        etag(&app, "/api/v1/potential-matches/pm_1").await,
        (StatusCode::OK, Some("\"pm_1_v3\"".to_owned()))
    );

    // `fields` (trimmed; `person_uuid` accepted, never output), no metadata, a page of one person; other
    // keys are ignored as the reference does.
    let narrow = send(
        &app,
        "GET",
        "/api/v1/potential-matches/pm_1?fields=birth_date,%20person_uuid,matched_or_reviewed\
         &include_metadata=false&page=2&page_size=1&other=x",
    )
    .await;
    assert_eq!(narrow.status, StatusCode::OK);
    assert_eq!(
        narrow.json,
        json!({"potential_match": {"id": "pm_1", "created": "2025-01-02T03:04:05Z", "version": 3,
            "results": results,
            "persons": [{"id": P2, "created": "2025-01-02T03:04:05.250000Z", "version": 1, "records": [
                {"id": "pr_3", "person_id": P2, "birth_date": "1980-01-02", "matched_or_reviewed": null}]}]}})
    );

    // A result scored with a config that no longer compiles: comparisons from the data, no labels.
    let fallback = send(&app, "GET", "/api/v1/potential-matches/pm_4?fields=id").await;
    assert_eq!(
        fallback.json["potential_match"]["results"][0]["explanation"],
        json!({"match_key": "1", "comparisons": [
            {"comparison": "birth_date", "gamma": null, "level": null, "bayes_factor": 4.0,
             "match_weight": 2.0, "tf_adjustment": null},
            {"comparison": "first_name", "gamma": null, "level": null, "bayes_factor": 2.0,
             "match_weight": 1.0, "tf_adjustment": null},
        ]})
    );

    // Unknown fields and bad booleans are 400 (the reference answers 500).
    let bad_field = send(
        &app,
        "GET",
        "/api/v1/potential-matches/pm_1?fields=id,nope,",
    )
    .await;
    assert_eq!(bad_field.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_field.json,
        json!({"error": {"code": "validation_failed", "message": "Validation failed", "details": [
            {"field": "fields", "message": "Unknown field \"nope\"."},
            {"field": "fields", "message": "Unknown field \"\"."}]}})
    );
    let bad_bool = send(
        &app,
        "GET",
        "/api/v1/potential-matches/pm_1?include_metadata=maybe",
    )
    .await;
    assert_eq!(
        bad_bool.json["error"]["details"],
        json!([{"field": "include_metadata", "message": "Must be a valid boolean."}])
    );

    // A matched group (pm_2) and an unknown id are 404; malformed ids 400.
    for id in ["pm_2", "pm_999"] {
        let missing = send(&app, "GET", &format!("/api/v1/potential-matches/{id}")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(missing.json["error"]["message"], "Resource not found");
    }
    for id in ["789", "x_789", "pm_abc", "pm_0", "p_1"] {
        let invalid = send(&app, "GET", &format!("/api/v1/potential-matches/{id}")).await;
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{id}");
        assert_eq!(
            invalid.json,
            json!({"error": {"code": "invalid_id", "message": "Invalid PotentialMatch ID",
                "details": [{"field": "potential_match_id", "message": "Invalid PotentialMatch ID"}]}})
        );
    }
}
