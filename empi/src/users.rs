//! Users known from the identity provider: created on first authenticated request (or by
//! bootstrap), never deleted.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgExecutor;

use crate::error::Result;
use crate::ids::UserId;

/// A user's role; `None` on [`User::role`] means known but without access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including user management.
    Admin,
    /// Review and matching.
    Member,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct User {
    /// Its id (`u_N`).
    pub id: UserId,
    /// When it was first seen.
    pub created: DateTime<Utc>,
    /// Last change of email or role.
    pub updated: DateTime<Utc>,
    /// The identity provider's user id (the JWT `sub`).
    pub idp_user_id: String,
    /// The email the identity provider gave, if any.
    pub email: Option<String>,
    /// Its role; `None`: known but without access.
    pub role: Option<Role>,
}

/// Returns the user with this `sub`, creating it with `role_if_new` if it is new. An existing
/// user's email is refreshed when the identity provider gives one; its role never changes here.
pub async fn upsert_user(
    db: impl PgExecutor<'_>,
    idp_user_id: &str,
    email: Option<&str>,
    role_if_new: Option<Role>,
) -> Result<User> {
    Ok(sqlx::query_as::<_, User>(
        "INSERT INTO users (idp_user_id, email, role) VALUES ($1, $2, $3) \
         ON CONFLICT (idp_user_id) DO UPDATE \
             SET email = coalesce(EXCLUDED.email, users.email), \
                 updated = CASE WHEN EXCLUDED.email IS DISTINCT FROM users.email \
                                 AND EXCLUDED.email IS NOT NULL THEN now() ELSE users.updated END \
         RETURNING id, created, updated, idp_user_id, email, role",
    )
    .bind(idp_user_id)
    .bind(email)
    .bind(role_if_new)
    .fetch_one(db)
    .await?)
}
