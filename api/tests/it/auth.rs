//! OIDC authentication against a real identity provider stand-in: the test serves a discovery
//! document and a JWKS over HTTP on 127.0.0.1, with RSA and EC keys generated here, and mints tokens
//! with jsonwebtoken.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, Request, StatusCode, header};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use idem_api::AppState;
use idem_api::auth::{Auth, OidcConfig};
use idem_empi::Role;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

use crate::common::engine;

const AUDIENCE: &str = "idem-api";

/// A signing key and its public JWK.
struct TestKey {
    algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
    /// The public key in PEM, for the "HS256 signed with the public key" attack.
    public_pem: Option<String>,
}

fn rsa_key(kid: &'static str, declare_alg: bool) -> TestKey {
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
    let der = private.to_pkcs1_der().expect("PKCS#1");
    let encoding = EncodingKey::from_rsa_der(der.as_bytes());
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("JWK");
    jwk.common.key_id = Some(kid.to_owned());
    if !declare_alg {
        // The key's type alone must decide its algorithm.
        jwk.common.key_algorithm = None;
    }
    let public_pem = private
        .to_public_key()
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .expect("PEM");
    TestKey {
        algorithm: Algorithm::RS256,
        encoding,
        jwk,
        public_pem: Some(public_pem),
    }
}

fn ec_key(kid: &'static str) -> TestKey {
    use p256::pkcs8::EncodePrivateKey;
    let signing = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let der = signing.to_pkcs8_der().expect("PKCS#8");
    let encoding = EncodingKey::from_ec_der(der.as_bytes());
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).expect("JWK");
    jwk.common.key_id = Some(kid.to_owned());
    TestKey {
        algorithm: Algorithm::ES256,
        encoding,
        jwk,
        public_pem: None,
    }
}

/// Two RSA keys and one P-256 key, generated once per test binary (RSA generation is slow).
fn keys() -> &'static [TestKey; 3] {
    static KEYS: OnceLock<[TestKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            rsa_key("rsa-1", true),
            rsa_key("rsa-2", false),
            ec_key("ec-1"),
        ]
    })
}

/// The identity provider stand-in: discovery and JWKS over real HTTP, with a counter of JWKS fetches
/// (failed ones included).
struct Idp {
    issuer: String,
    jwks: Arc<Mutex<Value>>,
    jwks_fetches: Arc<AtomicUsize>,
}

impl Idp {
    async fn start(published: &[&TestKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}/realms/test", listener.local_addr().unwrap());
        let jwks = Arc::new(Mutex::new(Value::Null));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
        let (served, count) = (jwks.clone(), jwks_fetches.clone());
        let app = Router::new()
            .route(
                "/realms/test/.well-known/openid-configuration",
                get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/realms/test/jwks",
                get(move || async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    match served.lock().unwrap().clone() {
                        Value::Null => Err(StatusCode::SERVICE_UNAVAILABLE),
                        jwks => Ok(axum::Json(jwks)),
                    }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let idp = Self {
            issuer,
            jwks,
            jwks_fetches,
        };
        idp.publish(published);
        idp
    }

    /// Replaces the published keys (a key rotation).
    fn publish(&self, keys: &[&TestKey]) {
        let mut set = JwkSet {
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
        };
        // Keys idem must ignore: a symmetric key under a known kid's neighbour.
        set.keys.push(
            serde_json::from_value(json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"})).unwrap(),
        );
        *self.jwks.lock().unwrap() = serde_json::to_value(set).unwrap();
    }

    /// The JWKS endpoint answers 503 from now on.
    fn go_down(&self) {
        *self.jwks.lock().unwrap() = Value::Null;
    }

    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    fn config(&self) -> OidcConfig {
        OidcConfig::new(self.issuer.clone(), AUDIENCE)
    }

    /// Claims valid for this issuer and audience for the next 5 minutes.
    fn claims(&self, sub: &str) -> Value {
        let now = get_current_timestamp();
        json!({"iss": self.issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300,
            "email": format!("{sub}@example.org")})
    }
}

fn mint(key: &TestKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &key.encoding).expect("token")
}

fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

async fn oidc_app(pool: &PgPool, config: OidcConfig) -> Router {
    let engine = engine(pool).await;
    idem_api::app(AppState {
        engine,
        auth: Auth::oidc(config).expect("OIDC auth"),
        functions: Arc::new(idem_matching::FunctionRegistry::with_builtins()),
        plugins: Arc::new(idem_plugin_host::Plugins::builtins_only()),
    })
}

pub struct Reply {
    pub status: StatusCode,
    pub json: Value,
    pub www_authenticate: Option<String>,
}

pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let www_authenticate = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Reply {
        status,
        json,
        www_authenticate,
    }
}

async fn get_with_token(app: &Router, uri: &str, token: &str) -> Reply {
    call(
        app,
        "GET",
        uri,
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await
}

#[track_caller]
fn assert_unauthorized(reply: &Reply, message: &str, case: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{case}: {}",
        reply.json
    );
    assert_eq!(
        reply.json,
        json!({"error": {"code": "unauthorized", "message": message}}),
        "{case}"
    );
    assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"), "{case}");
}

#[sqlx::test(migrations = false)]
async fn bad_tokens_are_401_and_good_ones_identify_the_user(pool: PgPool) {
    let [rsa1, rsa2, ec1] = keys();
    let idp = Idp::start(&[rsa1, ec1]).await;
    let app = oidc_app(&pool, idp.config()).await;
    let good = idp.claims("alice");

    // No token.
    let none = call(&app, "GET", "/api/v1/runs", &[], None).await;
    assert_unauthorized(&none, "Missing JWT", "no header");
    let empty = call(
        &app,
        "GET",
        "/api/v1/runs",
        &[("authorization", "Bearer ")],
        None,
    )
    .await;
    assert_unauthorized(&empty, "Missing JWT", "empty bearer");
    // Authentication runs before routing to methods: a POST-only route without a token is 401.
    let post_only = call(&app, "GET", "/api/v1/users/u_1", &[], None).await;
    assert_eq!(post_only.status, StatusCode::UNAUTHORIZED);
    // The plugin list is protected like every resource.
    let plugins = call(&app, "GET", "/api/v1/plugins", &[], None).await;
    assert_unauthorized(&plugins, "Missing JWT", "plugins without a token");

    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".to_owned());
        let secret = EncodingKey::from_secret(rsa1.public_pem.as_ref().unwrap().as_bytes());
        encode(&header, &good, &secret).unwrap()
    };
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"}).to_string()),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let now = get_current_timestamp();
    let rejected = [
        ("garbage", "not.a.jwt".to_owned()),
        (
            "bad signature (signed by another key)",
            mint(rsa2, "rsa-1", &good),
        ),
        ("tampered payload", {
            let token = mint(rsa1, "rsa-1", &good);
            let parts: Vec<&str> = token.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(with(&good, json!({"sub": "mallory"})).to_string());
            format!("{}.{forged}.{}", parts[0], parts[2])
        }),
        (
            "expired beyond the leeway",
            mint(rsa1, "rsa-1", &with(&good, json!({"exp": now - 120}))),
        ),
        (
            "not yet valid",
            mint(rsa1, "rsa-1", &with(&good, json!({"nbf": now + 600}))),
        ),
        (
            "wrong iss",
            mint(
                rsa1,
                "rsa-1",
                &with(&good, json!({"iss": "https://evil.example"})),
            ),
        ),
        (
            "no iss",
            mint(rsa1, "rsa-1", &with(&good, json!({"iss": null}))),
        ),
        (
            "wrong aud",
            mint(
                rsa1,
                "rsa-1",
                &with(&good, json!({"aud": "another-client"})),
            ),
        ),
        (
            "no aud",
            mint(rsa1, "rsa-1", &with(&good, json!({"aud": null}))),
        ),
        (
            "aud list without idem",
            mint(rsa1, "rsa-1", &with(&good, json!({"aud": ["a", "b"]}))),
        ),
        (
            "aud given, client_id is not looked at",
            mint(
                rsa1,
                "rsa-1",
                &with(&good, json!({"aud": "account", "client_id": AUDIENCE})),
            ),
        ),
        (
            "no aud, another client_id",
            mint(
                rsa1,
                "rsa-1",
                &with(&good, json!({"aud": null, "client_id": "other"})),
            ),
        ),
        (
            "no exp",
            mint(rsa1, "rsa-1", &with(&good, json!({"exp": null}))),
        ),
        (
            "no sub",
            mint(rsa1, "rsa-1", &with(&good, json!({"sub": null}))),
        ),
        ("alg none", alg_none),
        ("HS256 signed with the public key", hs256_with_public_key),
        ("HS256 under the published symmetric key's kid", {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("hmac".to_owned());
            encode(&header, &good, &EncodingKey::from_secret(b"secret")).unwrap()
        }),
        (
            "ES256 token under an RSA key's kid",
            mint(ec1, "rsa-1", &good),
        ),
        ("unknown kid", mint(rsa2, "rsa-2", &good)),
        (
            "no kid",
            encode(&Header::new(Algorithm::RS256), &good, &rsa1.encoding).unwrap(),
        ),
    ];
    for (case, token) in &rejected {
        let reply = get_with_token(&app, "/api/v1/runs", token).await;
        assert_unauthorized(&reply, "Invalid JWT", case);
    }
    let basic = call(
        &app,
        "GET",
        "/api/v1/runs",
        &[("authorization", "Basic YWxpY2U6eA==")],
        None,
    )
    .await;
    assert_unauthorized(&basic, "Invalid JWT", "basic auth");
    // Nobody was created by a rejected token.
    let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0);

    // A valid token of a new user: the user is created without a role, hence 403.
    let alice = mint(rsa1, "rsa-1", &good);
    let first = get_with_token(&app, "/api/v1/runs", &alice).await;
    assert_eq!(first.status, StatusCode::FORBIDDEN);
    assert_eq!(
        first.json,
        json!({"error": {"code": "forbidden", "message": "You do not have permission to perform this action."}})
    );
    let (id, email, role): (i64, Option<String>, Option<String>) =
        sqlx::query_as("SELECT id, email, role FROM users WHERE idp_user_id = 'alice'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((email.as_deref(), role), (Some("alice@example.org"), None));
    // Within the leeway, an expired token still passes (clock skew).
    let skewed = mint(rsa1, "rsa-1", &with(&good, json!({"exp": now - 5})));
    assert_eq!(
        get_with_token(&app, "/api/v1/runs", &skewed).await.status,
        StatusCode::FORBIDDEN
    );

    // Given a role, the same user is in, with RS256 and with an ES256 key.
    sqlx::query("UPDATE users SET role = 'member' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let ok = get_with_token(&app, "/api/v1/runs", &alice).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    let ec = get_with_token(&app, "/api/v1/runs", &mint(ec1, "ec-1", &good)).await;
    assert_eq!(ec.status, StatusCode::OK, "{}", ec.json);
    // `aud` as a list, and a Cognito-style access token: no `aud`, `client_id` is the audience.
    let list = with(&good, json!({"aud": ["account", AUDIENCE]}));
    let listed = get_with_token(&app, "/api/v1/runs", &mint(rsa1, "rsa-1", &list)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.json);
    let cognito = with(&good, json!({"aud": null, "client_id": AUDIENCE}));
    let access = get_with_token(&app, "/api/v1/runs", &mint(rsa1, "rsa-1", &cognito)).await;
    assert_eq!(access.status, StatusCode::OK, "{}", access.json);
    // A member is refused the admin routes.
    let users = get_with_token(&app, "/api/v1/users", &alice).await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
    let promote = call(
        &app,
        "POST",
        "/api/v1/users/u_1",
        &[("authorization", &format!("Bearer {alice}"))],
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(promote.status, StatusCode::FORBIDDEN);
    // An admin may; the role change applies to the next request at once.
    sqlx::query("UPDATE users SET role = 'admin' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let listed = get_with_token(&app, "/api/v1/users", &alice).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(
        listed.json["users"],
        json!([{"id": format!("u_{id}"), "email": "alice@example.org", "role": "admin"}])
    );
    // The health check needs no token.
    let health = call(&app, "GET", "/api/v1/health-check", &[], None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(idp.fetches() >= 1);
}

#[sqlx::test(migrations = false)]
async fn rotated_keys_are_fetched_and_refetching_is_rate_limited(pool: PgPool) {
    let [rsa1, rsa2, _] = keys();
    let idp = Idp::start(&[rsa1]).await;

    // Refetch allowed at every unknown kid (min_refresh 0).
    let mut eager = idp.config();
    eager.min_refresh = Duration::ZERO;
    let app = oidc_app(&pool, eager).await;
    idem_empi::upsert_user(&pool, "bob", None, Some(Role::Member))
        .await
        .unwrap();
    let claims = idp.claims("bob");
    let old = mint(rsa1, "rsa-1", &claims);
    assert_eq!(
        get_with_token(&app, "/api/v1/runs", &old).await.status,
        StatusCode::OK
    );
    assert_eq!(idp.fetches(), 1);
    // The provider rotates to a new key with a new kid: one refetch, and the new token is accepted.
    idp.publish(&[rsa2]);
    let new = mint(rsa2, "rsa-2", &claims);
    let rotated = get_with_token(&app, "/api/v1/runs", &new).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.json);
    assert_eq!(idp.fetches(), 2);
    // The retired key is gone with the refetch.
    assert_unauthorized(
        &get_with_token(&app, "/api/v1/runs", &old).await,
        "Invalid JWT",
        "retired key",
    );
    // Known kids are served from the cache.
    assert_eq!(
        get_with_token(&app, "/api/v1/runs", &new).await.status,
        StatusCode::OK
    );
    assert_eq!(
        idp.fetches(),
        3,
        "the retired kid refetched once, the cached one did not"
    );

    // With a rate limit, unknown kids do not refetch again and again (an hour here, so the test
    // does not depend on how fast it runs; the default is 30 s).
    let idp = Idp::start(&[rsa1]).await;
    let mut limited = idp.config();
    limited.min_refresh = Duration::from_secs(3600);
    let app = oidc_app(&pool, limited).await;
    let claims = idp.claims("bob");
    assert_eq!(
        get_with_token(&app, "/api/v1/runs", &mint(rsa1, "rsa-1", &claims))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(idp.fetches(), 1);
    idp.publish(&[rsa2]);
    for _ in 0..3 {
        let reply = get_with_token(&app, "/api/v1/runs", &mint(rsa2, "rsa-2", &claims)).await;
        assert_unauthorized(&reply, "Invalid JWT", "rate-limited unknown kid");
    }
    assert_eq!(idp.fetches(), 1, "no refetch within the rate limit");
}

#[sqlx::test(migrations = false)]
async fn a_configured_header_and_jwks_url_are_used(pool: PgPool) {
    let [rsa1, _, _] = keys();
    let idp = Idp::start(&[rsa1]).await;
    let mut config = idp.config();
    // No discovery: the JWKS URL is given (and the issuer is still checked).
    config.jwks_url = Some(format!("{}/jwks", idp.issuer));
    config.header = HeaderName::from_static("x-forwarded-access-token");
    let app = oidc_app(&pool, config).await;
    idem_empi::upsert_user(&pool, "carol", None, Some(Role::Member))
        .await
        .unwrap();
    let token = mint(rsa1, "rsa-1", &idp.claims("carol"));
    // oauth2-proxy sends the bare token.
    let ok = call(
        &app,
        "GET",
        "/api/v1/runs",
        &[("X-Forwarded-Access-Token", &token)],
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    // The Authorization header is not looked at.
    let other = call(
        &app,
        "GET",
        "/api/v1/runs",
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await;
    assert_unauthorized(&other, "Missing JWT", "token in another header");
    let wrong_iss = mint(
        rsa1,
        "rsa-1",
        &with(
            &idp.claims("carol"),
            json!({"iss": "http://127.0.0.1:1/realms/x"}),
        ),
    );
    let reply = call(
        &app,
        "GET",
        "/api/v1/runs",
        &[("X-Forwarded-Access-Token", &wrong_iss)],
        None,
    )
    .await;
    assert_unauthorized(&reply, "Invalid JWT", "wrong iss with a JWKS URL");
}

#[sqlx::test(migrations = false)]
async fn a_provider_outage_keeps_the_cached_keys(pool: PgPool) {
    let [rsa1, rsa2, _] = keys();
    let idp = Idp::start(&[rsa1]).await;
    idp.go_down();
    // Keys expire at once and may be refetched at every request: every request tries the provider.
    let mut config = idp.config();
    config.min_refresh = Duration::ZERO;
    config.max_key_age = Duration::ZERO;
    let app = oidc_app(&pool, config).await;
    idem_empi::upsert_user(&pool, "heidi", None, Some(Role::Member))
        .await
        .unwrap();
    let token = mint(rsa1, "rsa-1", &idp.claims("heidi"));
    // Never fetched: nothing to verify with.
    let down = get_with_token(&app, "/api/v1/runs", &token).await;
    assert_unauthorized(&down, "Invalid JWT", "provider down before the first fetch");
    assert_eq!(idp.fetches(), 1);
    idp.publish(&[rsa1]);
    assert_eq!(
        get_with_token(&app, "/api/v1/runs", &token).await.status,
        StatusCode::OK
    );
    assert_eq!(idp.fetches(), 2);
    // The provider goes down: the refresh fails, the cached key still verifies.
    idp.go_down();
    let cached = get_with_token(&app, "/api/v1/runs", &token).await;
    assert_eq!(cached.status, StatusCode::OK, "{}", cached.json);
    assert_eq!(idp.fetches(), 3);
    // But a key it never saw is not accepted.
    let unknown = get_with_token(
        &app,
        "/api/v1/runs",
        &mint(rsa2, "rsa-2", &idp.claims("heidi")),
    )
    .await;
    assert_unauthorized(
        &unknown,
        "Invalid JWT",
        "unknown kid while the provider is down",
    );
}
