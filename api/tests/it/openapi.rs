//! The OpenAPI document at `/api/v1/schema` lists every route the router serves, and the Swagger UI page
//! at `/api/v1/docs` loads with its (vendored) assets.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::common::{app, engine};

/// Every route the router serves but the document and the docs page themselves. A new route goes here and
/// in `api/src/routes/openapi.rs`.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/health-check"),
    ("get", "/api/v1/runs"),
    ("get", "/api/v1/runs/{id}"),
    ("post", "/api/v1/runs/{id}/resume"),
    ("post", "/api/v1/runs/{id}/cancel"),
    ("get", "/api/v1/persons"),
    ("get", "/api/v1/persons/{id}"),
    ("get", "/api/v1/persons/{id}/history"),
    ("get", "/api/v1/potential-matches"),
    ("get", "/api/v1/potential-matches/{id}"),
    ("get", "/api/v1/match-events"),
    ("post", "/api/v1/config"),
    ("get", "/api/v1/configs"),
    ("get", "/api/v1/configs/{id}"),
    ("post", "/api/v1/person-records/import"),
    ("get", "/api/v1/jobs/{id}"),
    ("get", "/api/v1/data-sources"),
    ("get", "/api/v1/plugins"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users/{id}"),
    ("post", "/api/v1/matches"),
    ("post", "/api/v1/persons/{id}/split"),
    ("post", "/api/v1/persons/merge"),
    ("post", "/api/v1/person-records/export"),
    ("post", "/api/v1/potential-matches/export"),
];

async fn fetch(app: &Router, method: &str, uri: &str) -> (StatusCode, HeaderMap, Bytes) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

#[sqlx::test(migrations = false)]
async fn the_schema_lists_every_route_and_the_docs_page_loads(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = app(&engine).await;

    let (status, headers, body) = fetch(&app, "GET", "/api/v1/schema").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let doc: serde_json::Value = serde_json::from_slice(&body).expect("the schema is JSON");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "idem");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, expected);
    // Protected routes name the bearer scheme; the health check does not.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        serde_json::json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    );
    assert_eq!(
        doc["paths"]["/api/v1/persons"]["get"]["security"],
        serde_json::json!([{"bearer": []}])
    );
    assert!(doc["paths"]["/api/v1/health-check"]["get"]["security"].is_null());
    // Response types are in the components.
    for schema in [
        "PersonList",
        "PersonDetail",
        "PotentialMatchDetail",
        "ExplanationView",
        "EventList",
        "PersonHistory",
        "Pagination",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }

    // The router serves each listed route: a method it does not take is a 405 there, while an unserved
    // path is the fallback's 404.
    for (method, path) in ROUTES {
        let uri = path.replace("{id}", "x");
        let other = if *method == "get" { "DELETE" } else { "PUT" };
        let (status, _, _) = fetch(&app, other, &uri).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    let (status, _, _) = fetch(&app, "DELETE", "/api/v1/no-such-route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The docs page: a redirect to the slash form, HTML that points at the schema, and its assets.
    let (status, headers, _) = fetch(&app, "GET", "/api/v1/docs").await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(headers[header::LOCATION], "/api/v1/docs/");
    let (status, headers, body) = fetch(&app, "GET", "/api/v1/docs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js"] {
        assert!(html.contains(asset), "{asset} not referenced");
        let (status, _, body) = fetch(&app, "GET", &format!("/api/v1/docs/{asset}")).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(body.len() > 10_000, "{asset} is {} bytes", body.len());
    }
    let (status, _, body) = fetch(&app, "GET", "/api/v1/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("/api/v1/schema"));
}
