//! The identity provider's signing keys: found through OIDC discovery (or a configured JWKS URL),
//! fetched over HTTP, cached, and refetched when a token names a key idem does not know.
//!
//! Each key's algorithm comes from the key itself (its type, curve and `alg`), never from a token:
//! RSA keys verify RS256 (or the RS/PS algorithm the key declares), P-256 keys ES256, P-384 keys
//! ES384. Symmetric (`oct`) keys, encryption keys and keys without a `kid` are ignored, so a token
//! can never be verified with an HMAC over a public key.
//!
//! Refetching is rate limited: at most one JWKS request per `min_refresh` (30 s by default), however
//! many tokens with unknown `kid`s arrive, so forged tokens cannot make idem hammer the identity
//! provider. Keys older than `max_age` are refreshed on the next request; if that fails, the cached
//! keys stay in use (and the failure is logged).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// Why the keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The HTTP request failed or answered an error status.
    #[error("fetching {url}: {source}")]
    Http {
        /// The URL requested.
        url: String,
        /// What failed.
        #[source]
        source: reqwest::Error,
    },
    /// The discovery document names another issuer than the configured one.
    #[error("the discovery document at {url} is for issuer {found:?}, not {expected:?}")]
    IssuerMismatch {
        /// The discovery URL.
        url: String,
        /// The configured issuer.
        expected: String,
        /// The issuer the document names.
        found: String,
    },
}

/// A verification key and the one algorithm it verifies.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) algorithm: Algorithm,
    pub(crate) decoding: DecodingKey,
}

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Key>,
    /// When these keys were fetched; `None`: never.
    fetched: Option<Instant>,
}

#[derive(Default)]
struct RefreshState {
    /// The last fetch attempt, successful or not: the rate limit counts attempts.
    last_attempt: Option<Instant>,
    /// The JWKS URL found by discovery (or configured).
    jwks_url: Option<String>,
}

/// Where the JWKS is.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// `<issuer>/.well-known/openid-configuration` -> `jwks_uri`.
    Discovery { issuer: String },
    /// A configured JWKS URL.
    Url(String),
}

/// The cached keys of one identity provider.
pub(crate) struct KeyStore {
    client: reqwest::Client,
    source: KeySource,
    min_refresh: Duration,
    max_age: Duration,
    keys: RwLock<Arc<KeySet>>,
    /// Held while fetching: concurrent requests wait for one fetch instead of starting their own.
    refresh: tokio::sync::Mutex<RefreshState>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("source", &self.source)
            .field("min_refresh", &self.min_refresh)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct JwkSetDocument {
    keys: Vec<serde_json::Value>,
}

impl KeyStore {
    pub(crate) fn new(
        client: reqwest::Client,
        source: KeySource,
        min_refresh: Duration,
        max_age: Duration,
    ) -> Self {
        let jwks_url = match &source {
            KeySource::Url(url) => Some(url.clone()),
            KeySource::Discovery { .. } => None,
        };
        Self {
            client,
            source,
            min_refresh,
            max_age,
            keys: RwLock::default(),
            refresh: tokio::sync::Mutex::new(RefreshState {
                last_attempt: None,
                jwks_url,
            }),
        }
    }

    fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The key with this `kid`: from the cache, or after one (rate-limited) refetch.
    pub(crate) async fn key(&self, kid: &str) -> Option<Key> {
        let seen = self.current();
        if let Some(key) = seen.keys.get(kid)
            && seen.fetched.is_some_and(|at| at.elapsed() < self.max_age)
        {
            return Some(key.clone());
        }
        let mut refresh = self.refresh.lock().await;
        // Another request may have refreshed the keys while this one waited.
        let latest = self.current();
        if latest.fetched != seen.fetched
            && let Some(key) = latest.keys.get(kid)
        {
            return Some(key.clone());
        }
        let may_fetch = refresh
            .last_attempt
            .is_none_or(|at| at.elapsed() >= self.min_refresh);
        if may_fetch {
            refresh.last_attempt = Some(Instant::now());
            match self.fetch(&mut refresh).await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "Fetched the identity provider's keys.");
                    *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(KeySet {
                        keys,
                        fetched: Some(Instant::now()),
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "Could not fetch the identity provider's keys; keeping the cached ones.");
                }
            }
        } else {
            tracing::debug!(
                kid,
                "Unknown key id; the keys were fetched too recently to refetch."
            );
        }
        self.current().keys.get(kid).cloned()
    }

    /// Fetches the keys now (at start, to report a misconfiguration early).
    pub(crate) async fn prefetch(&self) -> Result<usize, JwksError> {
        let mut refresh = self.refresh.lock().await;
        refresh.last_attempt = Some(Instant::now());
        let keys = self.fetch(&mut refresh).await?;
        let count = keys.len();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(KeySet {
            keys,
            fetched: Some(Instant::now()),
        });
        Ok(count)
    }

    async fn fetch(&self, refresh: &mut RefreshState) -> Result<HashMap<String, Key>, JwksError> {
        let url = match (&refresh.jwks_url, &self.source) {
            (Some(url), _) => url.clone(),
            (None, KeySource::Url(url)) => url.clone(),
            (None, KeySource::Discovery { issuer }) => {
                let url = discovery_url(issuer);
                let document: Discovery = self.get_json(&url).await?;
                if document.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
                    return Err(JwksError::IssuerMismatch {
                        url,
                        expected: issuer.clone(),
                        found: document.issuer,
                    });
                }
                refresh.jwks_url = Some(document.jwks_uri.clone());
                document.jwks_uri
            }
        };
        let set: JwkSetDocument = self.get_json(&url).await?;
        Ok(parse_keys(set.keys))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, JwksError> {
        let http = |source| JwksError::Http {
            url: url.to_owned(),
            source,
        };
        self.client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(http)?
            .json()
            .await
            .map_err(http)
    }
}

fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The usable signing keys of a JWKS, by `kid`.
fn parse_keys(raw: Vec<serde_json::Value>) -> HashMap<String, Key> {
    let mut keys = HashMap::new();
    for value in raw {
        // Keys jsonwebtoken cannot parse (other key types) are skipped, not fatal: IdPs publish them.
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let Some(algorithm) = key_algorithm(&jwk) else {
            tracing::debug!(kid, "Ignoring a key idem does not verify with.");
            continue;
        };
        match DecodingKey::from_jwk(&jwk) {
            Ok(decoding) => {
                keys.insert(
                    kid,
                    Key {
                        algorithm,
                        decoding,
                    },
                );
            }
            Err(error) => tracing::warn!(kid, %error, "Ignoring a malformed key."),
        }
    }
    keys
}

/// The one algorithm a key verifies, from its type, curve and declared `alg`; `None` for keys idem
/// does not verify with (symmetric keys above all).
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let declared = jwk.common.key_algorithm;
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => match declared {
            None | Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
            Some(KeyAlgorithm::RS384) => Some(Algorithm::RS384),
            Some(KeyAlgorithm::RS512) => Some(Algorithm::RS512),
            Some(KeyAlgorithm::PS256) => Some(Algorithm::PS256),
            Some(KeyAlgorithm::PS384) => Some(Algorithm::PS384),
            Some(KeyAlgorithm::PS512) => Some(Algorithm::PS512),
            Some(_) => None,
        },
        AlgorithmParameters::EllipticCurve(ec) => match (&ec.curve, declared) {
            (EllipticCurve::P256, None | Some(KeyAlgorithm::ES256)) => Some(Algorithm::ES256),
            (EllipticCurve::P384, None | Some(KeyAlgorithm::ES384)) => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKey(_) | AlgorithmParameters::OctetKeyPair(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_encryption_and_kid_less_keys_are_ignored() {
        let keys = parse_keys(vec![
            serde_json::json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!({"kty": "weird", "kid": "w"}),
            serde_json::json!({"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "kid": "p", "alg": "PS256", "n": "AQAB", "e": "AQAB"}),
        ]);
        let mut kids: Vec<(&str, Algorithm)> = keys
            .iter()
            .map(|(k, v)| (k.as_str(), v.algorithm))
            .collect();
        kids.sort_by_key(|(k, _)| *k);
        assert_eq!(kids, vec![("p", Algorithm::PS256), ("r", Algorithm::RS256)]);
    }

    #[test]
    fn discovery_url_joins_without_double_slash() {
        assert_eq!(
            discovery_url("https://idp.example/realms/x/"),
            "https://idp.example/realms/x/.well-known/openid-configuration"
        );
    }
}
