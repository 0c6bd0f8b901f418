//! Who is calling: the [`Auth`] mode, the middleware that authenticates every request but the
//! health check, and the [`CurrentUser`] extractor handlers use to know (and audit) the caller.
//!
//! `IDEM_AUTH=disabled` is for local demos only: every request acts as the built-in admin user
//! `idem-local`, and the binary says so loudly at start.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idem_empi::{Role, UserId};

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

/// Authenticates the request and stores its [`CurrentUser`]; a user without a role gets 403.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = match &state.auth {
        Auth::Disabled { user } => user.clone(),
    };
    if user.role.is_none() {
        return ApiError::Forbidden.into_response();
    }
    request.extensions_mut().insert(user);
    next.run(request).await
}
