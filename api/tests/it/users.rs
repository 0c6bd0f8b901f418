//! The users endpoints' shapes, `idem bootstrap`, and how `idem serve` starts with each auth setting.

use axum::http::StatusCode;
use idem_empi::Role;
use serde_json::json;
use sqlx::PgPool;

use crate::auth::call;
use crate::common::engine;

#[sqlx::test(migrations = false)]
async fn users_endpoints_have_the_reference_shapes(pool: PgPool) {
    let engine = engine(&pool).await;
    let app = crate::common::app(&engine).await; // auth disabled: the local admin is u_1
    let member =
        idem_empi::upsert_user(&pool, "dave", Some("dave@example.org"), Some(Role::Member))
            .await
            .unwrap();
    let newcomer = idem_empi::upsert_user(&pool, "erin", None, None)
        .await
        .unwrap();
    assert_eq!(
        (member.id.to_string(), newcomer.id.to_string()),
        ("u_2".to_owned(), "u_3".to_owned())
    );

    let list = call(&app, "GET", "/api/v1/users", &[], None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.json,
        json!({
            "users": [
                {"id": "u_1", "email": "", "role": "admin"},
                {"id": "u_2", "email": "dave@example.org", "role": "member"},
                {"id": "u_3", "email": "", "role": null}
            ],
            "pagination": {"page": 1, "page_size": 50, "total_count": 3, "total_pages": 1,
                "has_next": false, "has_previous": false, "next_page": null, "previous_page": null}
        })
    );
    let page = call(&app, "GET", "/api/v1/users?page=2&page_size=2", &[], None).await;
    assert_eq!(
        page.json["users"],
        json!([{"id": "u_3", "email": "", "role": null}])
    );
    assert_eq!(page.json["pagination"]["previous_page"], 1);
    let bad_query = call(&app, "GET", "/api/v1/users?role=admin", &[], None).await;
    assert_eq!(
        (bad_query.status, bad_query.json),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "validation_failed", "message": "Validation failed",
            "details": [{"field": "role", "message": "Unexpected field"}]}})
        )
    );

    // Set a role: the path wins over a body user_id.
    let set = call(
        &app,
        "POST",
        "/api/v1/users/u_3",
        &[],
        Some(json!({"role": "member", "user_id": "u_2"})),
    )
    .await;
    assert_eq!(
        (set.status, set.json),
        (StatusCode::OK, json!({"user": {"id": "u_3"}}))
    );
    let none = call(
        &app,
        "POST",
        "/api/v1/users/u_2",
        &[],
        Some(json!({"role": null})),
    )
    .await;
    assert_eq!(
        (none.status, none.json),
        (StatusCode::OK, json!({"user": {"id": "u_2"}}))
    );
    let roles: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT idp_user_id, role FROM users ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        roles,
        vec![
            ("idem-local".to_owned(), Some("admin".to_owned())),
            ("dave".to_owned(), None),
            ("erin".to_owned(), Some("member".to_owned()))
        ]
    );

    let cases = [
        (
            "/api/v1/users/7",
            json!({"role": "admin"}),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_id", "message": "Invalid User ID",
                "details": [{"field": "user_id", "message": "Invalid User ID"}]}}),
        ),
        (
            "/api/v1/users/pm_2",
            json!({"role": "admin"}),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_id", "message": "Invalid User ID",
                "details": [{"field": "user_id", "message": "Invalid User ID"}]}}),
        ),
        (
            "/api/v1/users/u_2",
            json!({}),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "validation_failed", "message": "Validation failed",
                "details": [{"field": "role", "message": "This field is required."}]}}),
        ),
        (
            "/api/v1/users/u_2",
            json!({"role": "owner"}),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "validation_failed", "message": "Validation failed",
                "details": [{"field": "role", "message": "\"owner\" is not a valid choice."}]}}),
        ),
        (
            "/api/v1/users/u_99",
            json!({"role": "member"}),
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "not_found", "message": "Resource not found"}}),
        ),
        (
            "/api/v1/users/u_1",
            json!({"role": "member"}),
            StatusCode::CONFLICT,
            json!({"error": {"code": "conflict", "message": "u_1 is the last admin: make another user admin first."}}),
        ),
    ];
    for (uri, body, status, expected) in cases {
        let reply = call(&app, "POST", uri, &[], Some(body.clone())).await;
        assert_eq!(
            (reply.status, reply.json),
            (status, expected),
            "{uri} {body}"
        );
    }
    // With a second admin, the first may step down.
    call(
        &app,
        "POST",
        "/api/v1/users/u_3",
        &[],
        Some(json!({"role": "admin"})),
    )
    .await;
    let down = call(
        &app,
        "POST",
        "/api/v1/users/u_1",
        &[],
        Some(json!({"role": "member"})),
    )
    .await;
    assert_eq!(down.status, StatusCode::OK);
    let last = call(
        &app,
        "POST",
        "/api/v1/users/u_3",
        &[],
        Some(json!({"role": null})),
    )
    .await;
    assert_eq!(last.status, StatusCode::CONFLICT);
}

fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').expect("a database URL");
    format!(
        "{server}/{}",
        pool.connect_options()
            .get_database()
            .expect("a database name")
    )
}

fn idem(pool: &PgPool, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idem"))
        .args(args)
        .env("DATABASE_URL", database_url(pool))
        .env("RUST_LOG", "info")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("idem runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[sqlx::test(migrations = false)]
async fn bootstrap_makes_the_first_admin_once(pool: PgPool) {
    idem_migrations::migrate(&pool).await.unwrap();
    let role = |sub: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (Option<String>,)>("SELECT role FROM users WHERE idp_user_id = $1")
                .bind(sub)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .map(|r| r.0)
        }
    };
    // Exactly one of the two flags.
    assert!(!idem(&pool, &["bootstrap"]).0);
    assert!(
        !idem(
            &pool,
            &["bootstrap", "--admin-sub", "a", "--admin-email", "b@x"]
        )
        .0
    );
    // By email: only users who signed in are known by email.
    let (ok, text) = idem(&pool, &["bootstrap", "--admin-email", "Frank@Example.org"]);
    assert!(!ok);
    assert!(
        text.contains("Unable to find a user with email Frank@Example.org"),
        "{text}"
    );
    idem_empi::user_for_login(&pool, "frank", Some("frank@example.org"))
        .await
        .unwrap();
    let (ok, text) = idem(&pool, &["bootstrap", "--admin-email", "Frank@Example.org"]);
    assert!(ok, "{text}");
    assert_eq!(role("frank").await, Some(Some("admin".to_owned())));
    // Once there is an admin, bootstrap changes nothing (and succeeds, as the reference's).
    let (ok, text) = idem(&pool, &["bootstrap", "--admin-sub", "grace"]);
    assert!(ok, "{text}");
    assert!(text.contains("Already bootstrapped"), "{text}");
    assert_eq!(role("grace").await, None);
    // By sub on a fresh index: the user need not have signed in.
    sqlx::query("UPDATE users SET role = NULL")
        .execute(&pool)
        .await
        .unwrap();
    let (ok, text) = idem(&pool, &["bootstrap", "--admin-sub", "grace"]);
    assert!(ok, "{text}");
    assert_eq!(role("grace").await, Some(Some("admin".to_owned())));
}

#[sqlx::test(migrations = false)]
async fn serve_refuses_oidc_without_issuer_or_audience(pool: PgPool) {
    let run = |envs: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_idem"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url(&pool));
        for var in [
            "IDEM_AUTH",
            "IDEM_OIDC_ISSUER",
            "IDEM_OIDC_AUDIENCE",
            "IDEM_JWKS_URL",
            "IDEM_AUTH_HEADER",
        ] {
            command.env_remove(var);
        }
        command.envs(envs.iter().copied());
        let out = command.output().expect("idem runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, text) = run(&[]);
    assert!(!ok);
    assert!(
        text.contains("IDEM_AUTH=oidc needs IDEM_OIDC_ISSUER"),
        "{text}"
    );
    let (ok, text) = run(&[
        ("IDEM_OIDC_ISSUER", "https://idp.example"),
        ("IDEM_JWKS_URL", "https://idp.example/jwks"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("IDEM_AUTH=oidc needs IDEM_OIDC_AUDIENCE"),
        "{text}"
    );
    let (ok, text) = run(&[("IDEM_AUTH", "sometimes")]);
    assert!(!ok);
    assert!(text.contains("sometimes"), "{text}");
}

#[sqlx::test(migrations = false)]
async fn disabled_auth_is_announced_loudly_at_start(pool: PgPool) {
    use std::io::BufRead;
    idem_migrations::migrate(&pool).await.unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_idem"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", database_url(&pool))
        .env("IDEM_AUTH", "disabled")
        .env("RUST_LOG", "info")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("idem starts");
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut warned = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        warned |= line.contains("WARN") && line.contains("AUTHENTICATION IS DISABLED");
        let serving = line.contains("Serving the API.");
        seen.push(line);
        if serving {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(warned, "{}", seen.join("\n"));
}
