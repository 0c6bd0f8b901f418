//! Bearer-token authentication against an OpenID Connect provider: the token is read from the
//! configured header, its signature verified with the provider's key named by its `kid` (with that
//! key's algorithm), and its `iss`, `aud`, `exp` and `nbf` checked (`exp`, `iss` and `sub` are
//! required). Every failure is the reference's 401 "Invalid JWT"; the reason is logged at debug level.
//!
//! The audience: `aud` (a string or a list) must contain the configured audience. A token without
//! `aud` passes only if its `client_id` claim equals the audience: Cognito access tokens (what
//! oauth2-proxy forwards) carry `client_id` instead of `aud`, and the reference checks that claim.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, header};
use jsonwebtoken::{Validation, decode, decode_header};
use serde::Deserialize;

use super::jwks::{JwksError, KeySource, KeyStore};

/// How long a JWKS or discovery request may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// OIDC settings (built from `IDEM_OIDC_ISSUER`, `IDEM_JWKS_URL`, `IDEM_OIDC_AUDIENCE`,
/// `IDEM_AUTH_HEADER`, ... in `main`).
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer: tokens' `iss` must equal it; its discovery document gives the JWKS URL.
    pub issuer: String,
    /// The JWKS URL; `None`: found by discovery from the issuer.
    pub jwks_url: Option<String>,
    /// The audience tokens' `aud` must contain.
    pub audience: String,
    /// The header holding the token: `Authorization` (`Bearer <token>`) or e.g.
    /// `X-Forwarded-Access-Token` (the bare token, as oauth2-proxy sends it).
    pub header: HeaderName,
    /// A token with an unknown `kid` makes idem refetch the keys at most once per this.
    pub min_refresh: Duration,
    /// Cached keys are refetched on the first request after this.
    pub max_key_age: Duration,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

impl OidcConfig {
    /// Settings with the defaults: the `Authorization` header, refetch at most every 30 s, keys
    /// refreshed after 15 minutes, 30 s leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: None,
            audience: audience.into(),
            header: header::AUTHORIZATION,
            min_refresh: Duration::from_secs(30),
            max_key_age: Duration::from_secs(15 * 60),
            leeway: Duration::from_secs(30),
        }
    }
}

/// Why OIDC authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The keys could not be fetched.
    #[error(transparent)]
    Jwks(#[from] JwksError),
}

/// The claims idem reads from a verified token.
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    pub(crate) sub: String,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    client_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Claims {
    /// `aud` contains `audience`, or there is no `aud` and `client_id` is `audience`.
    fn is_for(&self, audience: &str) -> bool {
        match &self.aud {
            Some(Audience::One(aud)) => aud == audience,
            Some(Audience::Many(auds)) => auds.iter().any(|aud| aud == audience),
            None => self.client_id.as_deref() == Some(audience),
        }
    }
}

/// Why a request is not authenticated (both are 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// "Missing JWT".
    Missing,
    /// "Invalid JWT".
    Invalid,
}

/// A configured OIDC verifier.
#[derive(Debug)]
pub(crate) struct Oidc {
    config: OidcConfig,
    keys: KeyStore,
}

impl Oidc {
    pub(crate) fn new(config: OidcConfig) -> Result<Self, OidcError> {
        // reqwest is built without a bundled rustls provider; the process uses ring (as sqlx and the
        // S3 client). Installing twice is harmless: the first one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(OidcError::Client)?;
        let source = match &config.jwks_url {
            Some(url) => KeySource::Url(url.clone()),
            None => KeySource::Discovery {
                issuer: config.issuer.clone(),
            },
        };
        let keys = KeyStore::new(client, source, config.min_refresh, config.max_key_age);
        Ok(Self { config, keys })
    }

    pub(crate) fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Fetches the keys now; returns how many usable keys the provider publishes.
    pub(crate) async fn prefetch(&self) -> Result<usize, OidcError> {
        Ok(self.keys.prefetch().await?)
    }

    /// The token of a request: `Authorization: Bearer <token>`, or the whole value of another header.
    pub(crate) fn token<'a>(&self, headers: &'a HeaderMap) -> Result<&'a str, Rejection> {
        let value = headers
            .get(&self.config.header)
            .ok_or(Rejection::Missing)?
            .to_str()
            .map_err(|_| Rejection::Invalid)?
            .trim();
        if value.is_empty() {
            return Err(Rejection::Missing);
        }
        if self.config.header != header::AUTHORIZATION {
            return Ok(value);
        }
        if value.eq_ignore_ascii_case("bearer") {
            return Err(Rejection::Missing);
        }
        match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                let token = token.trim();
                if token.is_empty() {
                    Err(Rejection::Missing)
                } else {
                    Ok(token)
                }
            }
            _ => Err(Rejection::Invalid),
        }
    }

    /// Verifies a token and returns its claims.
    pub(crate) async fn verify(&self, token: &str) -> Result<Claims, Rejection> {
        let invalid = |reason: &dyn std::fmt::Display| {
            tracing::debug!(%reason, "Rejected a token.");
            Rejection::Invalid
        };
        // `alg: none` (and any algorithm jsonwebtoken does not know) fails here.
        let header = decode_header(token).map_err(|e| invalid(&e))?;
        let kid = header.kid.as_deref().ok_or_else(|| invalid(&"no kid"))?;
        let key = self
            .keys
            .key(kid)
            .await
            .ok_or_else(|| invalid(&format_args!("unknown kid {kid:?}")))?;
        // The key decides the algorithm: an HS256 token "signed" with a public key stops here.
        if header.alg != key.algorithm {
            return Err(invalid(&format_args!(
                "alg {:?} but the key is {:?}",
                header.alg, key.algorithm
            )));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.config.issuer]);
        // The audience is checked below: jsonwebtoken knows only `aud`, not `client_id`.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let data = decode::<Claims>(token, &key.decoding, &validation).map_err(|e| invalid(&e))?;
        if !data.claims.is_for(&self.config.audience) {
            return Err(invalid(&"not for this audience"));
        }
        if data.claims.sub.trim().is_empty() {
            return Err(invalid(&"empty sub"));
        }
        Ok(data.claims)
    }
}
