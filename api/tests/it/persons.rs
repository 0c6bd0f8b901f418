//! `GET /persons` and `GET /persons/{id}`: the reference's shapes, its filters (on one record), its
//! pagination, and 400/404 for malformed and unknown ids.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::{app, engine, send};
use crate::review_fixture::{self, P1, P2, P3};

fn pagination(page: u32, page_size: u32, total: i64) -> Value {
    let pages = (total + i64::from(page_size) - 1) / i64::from(page_size);
    json!({"page": page, "page_size": page_size, "total_count": total, "total_pages": pages,
        "has_next": i64::from(page) < pages, "has_previous": page > 1,
        "next_page": if i64::from(page) < pages { Some(page + 1) } else { None },
        "previous_page": if page > 1 { Some(page - 1) } else { None }})
}

#[sqlx::test(migrations = false)]
async fn persons_are_listed_filtered_and_paginated_as_the_reference(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = app(&engine).await;
    let empty = send(&app, "GET", "/api/v1/persons").await;
    assert_eq!(
        (empty.status, empty.json),
        (
            StatusCode::OK,
            json!({"persons": [], "pagination": pagination(1, 50, 0)})
        )
    );
    review_fixture::insert(&pool).await;

    // By (last_name, first_name) of the first record; the deleted P4 is not listed.
    let all = send(&app, "GET", "/api/v1/persons").await;
    assert_eq!(all.status, StatusCode::OK);
    let brown =
        json!({"id": P3, "first_name": "Alice", "last_name": "Brown", "data_sources": ["A"]});
    let smith =
        json!({"id": P1, "first_name": "John", "last_name": "Smith", "data_sources": ["A", "B"]});
    let smyth =
        json!({"id": P2, "first_name": "John", "last_name": "Smyth", "data_sources": ["B"]});
    assert_eq!(
        all.json,
        json!({"persons": [brown, smith, smyth], "pagination": pagination(1, 50, 3)})
    );

    // Filters hold on one record; the names shown are the first record's.
    for (query, expected) in [
        ("first_name=jon", vec![&smith]),
        ("first_name=JOHN", vec![&smith, &smyth]),
        ("last_name=sm", vec![&smith, &smyth]),
        ("birth_date=1980-01-0", vec![&smith, &smyth]),
        ("data_source=B", vec![&smith, &smyth]),
        ("data_source=b", vec![]),
        ("person_id=p_b222", vec![&smyth]),
        ("person_id=%25c333", vec![&brown]),
        ("person_id=B222", vec![]),
        ("source_person_id=S", vec![&smith, &smyth]),
        ("source_person_id=T4", vec![&brown]),
        ("first_name=Jon&data_source=A", vec![]),
        ("first_name=Jon&data_source=B&last_name=smith", vec![&smith]),
        ("first_name=J_n", vec![&smith]),
    ] {
        let found = send(&app, "GET", &format!("/api/v1/persons?{query}")).await;
        assert_eq!(found.status, StatusCode::OK, "{query}");
        let n = expected.len() as i64;
        assert_eq!(
            found.json,
            json!({"persons": expected, "pagination": pagination(1, 50, n)}),
            "{query}"
        );
    }

    // Pages: page 2 of size 2, and past the end.
    let page2 = send(&app, "GET", "/api/v1/persons?page=2&page_size=2").await;
    assert_eq!(
        page2.json,
        json!({"persons": [smyth], "pagination": pagination(2, 2, 3)})
    );
    let past = send(&app, "GET", "/api/v1/persons?page=5&page_size=2").await;
    assert_eq!(
        past.json,
        json!({"persons": [], "pagination": pagination(5, 2, 3)})
    );

    // Unknown and blank keys, bad pages.
    let unknown = send(&app, "GET", "/api/v1/persons?nickname=x").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.json,
        json!({"error": {"code": "validation_failed", "message": "Validation failed",
            "details": [{"field": "nickname", "message": "Unexpected field"}]}})
    );
    let blank = send(&app, "GET", "/api/v1/persons?first_name=").await;
    assert_eq!(
        blank.json["error"]["details"],
        json!([{"field": "first_name", "message": "This field may not be blank."}])
    );
    let big = send(&app, "GET", "/api/v1/persons?page_size=1001").await;
    assert_eq!(big.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = false)]
async fn a_person_is_read_with_every_record(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = app(&engine).await;
    review_fixture::insert(&pool).await;

    let read = send(&app, "GET", &format!("/api/v1/persons/{P1}")).await;
    assert_eq!(read.status, StatusCode::OK);
    let record = |id: &str,
                  person_updated: &str,
                  matched: Value,
                  source: &str,
                  spid: &str,
                  first: &str,
                  ssn: Value,
                  city: Value| {
        json!({"id": id, "person_id": P1, "created": "2025-01-02T03:04:05.123456+00:00",
            "person_updated": person_updated, "matched_or_reviewed": matched, "data_source": source,
            "source_person_id": spid, "first_name": first, "last_name": "Smith", "sex": "M", "race": null,
            "birth_date": "1980-01-01", "death_date": null, "social_security_number": ssn,
            "address": null, "city": city, "state": null, "zip_code": null, "county": null, "phone": null})
    };
    assert_eq!(
        read.json,
        json!({"person": {"id": P1, "created": "2025-01-02T03:04:05Z", "version": 2, "records": [
            record("pr_1", "2025-01-02T03:04:05.123456+00:00", json!("2025-02-03T04:05:06.5+00:00"),
                "A", "S1", "John", json!("111-22-3333"), json!("Boston")),
            record("pr_2", "2025-02-03T04:05:06.500000+00:00", json!("2025-02-03T04:05:06+00:00"),
                "B", "S2", "Jon", Value::Null, Value::Null),
        ]}})
    );
    let micro = send(&app, "GET", &format!("/api/v1/persons/{P2}")).await;
    assert_eq!(
        micro.json["person"]["created"],
        "2025-01-02T03:04:05.250000Z"
    );

    // The deleted P4 and an unknown uuid are 404; malformed ids 400; query keys 400.
    let not_found = json!({"error": {"code": "not_found", "message": "Resource not found"}});
    for id in [review_fixture::P4, "p_e5555555-5555-4555-8555-555555555555"] {
        let missing = send(&app, "GET", &format!("/api/v1/persons/{id}")).await;
        assert_eq!(
            (missing.status, &missing.json),
            (StatusCode::NOT_FOUND, &not_found)
        );
    }
    for id in [
        "789",
        "x_a1111111-1111-4111-8111-111111111111",
        "p_a1111111-1111-1111-8111-111111111111",
        "p_zz",
        "pr_1",
    ] {
        let invalid = send(&app, "GET", &format!("/api/v1/persons/{id}")).await;
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{id}");
        assert_eq!(
            invalid.json,
            json!({"error": {"code": "invalid_id", "message": "Invalid Person ID",
                "details": [{"field": "person_id", "message": "Invalid Person ID"}]}})
        );
    }
    let keyed = send(&app, "GET", &format!("/api/v1/persons/{P1}?x=1")).await;
    assert_eq!(keyed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        keyed.json["error"]["details"],
        json!([{"field": "x", "message": "Unexpected field"}])
    );
}
