//! Who is calling: the [`Auth`] mode, the middleware that authenticates every request but the
//! health check, and the [`CurrentUser`] extractor handlers use to know (and audit) the caller.
//!
//! In [`Auth::Oidc`] mode a request carries a bearer JWT from the organisation's OpenID Connect
//! provider (module `oidc`: validation; module `jwks`: the provider's keys). Users are identified by the
//! token's `sub`; a user is created, without a role, on its first authenticated request and gets 403
//! until an admin gives it a role (`POST /api/v1/users/{id}`; the first admin comes from
//! `idem bootstrap`). Roles are read from the database on every request, so a change applies at once.
//!
//! `IDEM_AUTH=disabled` is for local demos only: every request acts as the built-in admin user
//! `idem-local`, and the binary says so loudly at start.

mod jwks;
mod oidc;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idem_empi::{Role, UserId};

pub use self::jwks::JwksError;
use self::oidc::{Oidc, Rejection};
pub use self::oidc::{OidcConfig, OidcError};
use crate::AppState;
use crate::error::ApiError;

/// The `sub` of the user every request acts as when authentication is disabled.
pub const LOCAL_USER_SUB: &str = "idem-local";

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No authentication (local demos only): every request is [`LOCAL_USER_SUB`], an admin.
    Disabled {
        /// The local user, created at start.
        user: CurrentUser,
    },
    /// Bearer JWTs from an OpenID Connect provider, verified against its published keys.
    Oidc(Arc<OidcAuth>),
}

/// The OIDC verifier behind [`Auth::Oidc`].
#[derive(Debug)]
pub struct OidcAuth {
    oidc: Oidc,
}

impl OidcAuth {
    /// The settings it verifies with.
    pub fn config(&self) -> &OidcConfig {
        self.oidc.config()
    }

    /// Fetches the provider's keys now (`main` does at start, to report a misconfiguration early;
    /// without it the first request fetches them). Returns how many usable signing keys there are.
    pub async fn prefetch(&self) -> Result<usize, OidcError> {
        self.oidc.prefetch().await
    }

    async fn authenticate(
        &self,
        pool: &sqlx::PgPool,
        headers: &axum::http::HeaderMap,
    ) -> Result<CurrentUser, ApiError> {
        let rejected = |rejection| match rejection {
            Rejection::Missing => ApiError::Unauthorized("Missing JWT"),
            Rejection::Invalid => ApiError::Unauthorized("Invalid JWT"),
        };
        let token = self.oidc.token(headers).map_err(rejected)?;
        let claims = self.oidc.verify(token).await.map_err(rejected)?;
        let user = idem_empi::user_for_login(pool, &claims.sub, claims.email.as_deref())
            .await
            .map_err(|e| ApiError::Internal(Box::new(e)))?;
        Ok(CurrentUser {
            id: user.id,
            sub: user.idp_user_id,
            role: user.role,
        })
    }
}

impl Auth {
    /// Disabled authentication: creates (or finds) the local admin user.
    pub async fn disabled(pool: &sqlx::PgPool) -> Result<Self, idem_empi::Error> {
        let user = idem_empi::upsert_user(pool, LOCAL_USER_SUB, None, Some(Role::Admin)).await?;
        Ok(Self::Disabled {
            user: CurrentUser {
                id: user.id,
                sub: user.idp_user_id,
                role: user.role,
            },
        })
    }

    /// OIDC authentication (no network yet: keys are fetched on first use or by
    /// [`OidcAuth::prefetch`]).
    pub fn oidc(config: OidcConfig) -> Result<Self, OidcError> {
        Ok(Self::Oidc(Arc::new(OidcAuth {
            oidc: Oidc::new(config)?,
        })))
    }
}

/// The authenticated caller, put in the request's extensions by [`authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    /// The user's id (`u_N`): actions and notes are recorded under it.
    pub id: UserId,
    /// The identity provider's user id.
    pub sub: String,
    /// Its role; `None`: known but without access.
    pub role: Option<Role>,
}

impl CurrentUser {
    /// 403 unless the user is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Some(Role::Admin) => Ok(()),
            _ => Err(ApiError::Forbidden),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or(ApiError::Unauthorized("Missing JWT"))
    }
}

/// Authenticates the request and stores its [`CurrentUser`]: 401 without a valid token, 403 for a
/// user without a role.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = match &state.auth {
        Auth::Disabled { user } => user.clone(),
        Auth::Oidc(oidc) => {
            match oidc
                .authenticate(state.engine.pool(), request.headers())
                .await
            {
                Ok(user) => user,
                Err(error) => return error.into_response(),
            }
        }
    };
    if user.role.is_none() {
        return ApiError::Forbidden.into_response();
    }
    request.extensions_mut().insert(user);
    next.run(request).await
}
