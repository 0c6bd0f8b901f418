//! Users known from the identity provider: created on first authenticated request (or by
//! bootstrap), never deleted.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};

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

/// The columns of [`User`], for `concat!` (sqlx takes only static SQL).
macro_rules! user_columns {
    () => {
        "id, created, updated, idp_user_id, email, role"
    };
}

/// The user a verified token's `sub` names, created without a role on its first request. One read
/// when nothing changed; a write only for a new user or a new email, so authenticating a request does
/// not update a row every time.
pub async fn user_for_login(pool: &PgPool, idp_user_id: &str, email: Option<&str>) -> Result<User> {
    let known = sqlx::query_as::<_, User>(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE idp_user_id = $1"
    ))
    .bind(idp_user_id)
    .fetch_optional(pool)
    .await?;
    match known {
        Some(user) if email.is_none() || user.email.as_deref() == email => Ok(user),
        _ => upsert_user(pool, idp_user_id, email, None).await,
    }
}

/// One page of users, ordered by id, and the total count.
pub async fn list_users(pool: &PgPool, page: u32, page_size: u32) -> Result<(Vec<User>, i64)> {
    let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
    let users = sqlx::query_as::<_, User>(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users ORDER BY id LIMIT $1 OFFSET $2"
    ))
    .bind(i64::from(page_size))
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let (total,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await?;
    Ok((users, total))
}

/// What [`set_user_role`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SetRole {
    /// The role was set.
    Updated(User),
    /// No user has this id.
    NotFound,
    /// Refused: the user is the last admin and the new role is not admin (nobody could manage users
    /// any more; the reference allows it).
    LastAdmin,
}

/// Sets a user's role, refusing to leave the index without an admin.
///
/// The admin rows are locked first (`FOR UPDATE`), so two admins demoting each other at the same time
/// serialise: the second sees the first's change and is refused as the last admin.
pub async fn set_user_role(pool: &PgPool, id: UserId, role: Option<Role>) -> Result<SetRole> {
    let mut tx = pool.begin().await?;
    let admins: Vec<(UserId,)> =
        sqlx::query_as("SELECT id FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE")
            .fetch_all(&mut *tx)
            .await?;
    let is_admin = admins.iter().any(|(admin,)| *admin == id);
    if is_admin && admins.len() == 1 && role != Some(Role::Admin) {
        return Ok(SetRole::LastAdmin);
    }
    let updated = sqlx::query_as::<_, User>(concat!(
        "UPDATE users SET role = $2, updated = now() WHERE id = $1 RETURNING ",
        user_columns!()
    ))
    .bind(id)
    .bind(role)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(updated.map_or(SetRole::NotFound, SetRole::Updated))
}

/// Who `idem bootstrap` makes the first admin.
#[derive(Debug, Clone, Copy)]
pub enum AdminTarget<'a> {
    /// The identity provider's user id (the JWT `sub`): the user is created if it never signed in.
    Sub(&'a str),
    /// The email of a user who has signed in at least once (idem learns emails from tokens only).
    Email(&'a str),
}

/// What [`bootstrap_admin`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Bootstrap {
    /// There already is an admin (these): nothing changed.
    AlreadyBootstrapped(Vec<User>),
    /// This user is now the admin.
    Promoted(User),
    /// No known user has this email (case-insensitive): they have not signed in yet.
    NoUserWithEmail,
    /// Several users have this email: nothing changed, bootstrap by `sub` instead.
    SeveralUsersWithEmail(Vec<User>),
}

/// Makes the first admin, unless there already is one (as the reference's `bootstrap`). The users
/// table is locked for the transaction so two concurrent bootstraps cannot make two admins.
pub async fn bootstrap_admin(pool: &PgPool, target: AdminTarget<'_>) -> Result<Bootstrap> {
    let mut tx = pool.begin().await?;
    sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let admins = sqlx::query_as::<_, User>(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE role = 'admin' ORDER BY id"
    ))
    .fetch_all(&mut *tx)
    .await?;
    if !admins.is_empty() {
        return Ok(Bootstrap::AlreadyBootstrapped(admins));
    }
    let user = match target {
        AdminTarget::Sub(sub) => upsert_user(&mut *tx, sub, None, None).await?,
        AdminTarget::Email(email) => {
            let mut found = sqlx::query_as::<_, User>(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE lower(email) = lower($1) ORDER BY id"
            ))
            .bind(email)
            .fetch_all(&mut *tx)
            .await?;
            match found.len() {
                0 => return Ok(Bootstrap::NoUserWithEmail),
                1 => found.remove(0),
                _ => return Ok(Bootstrap::SeveralUsersWithEmail(found)),
            }
        }
    };
    let admin = sqlx::query_as::<_, User>(concat!(
        "UPDATE users SET role = 'admin', updated = now() WHERE id = $1 RETURNING ",
        user_columns!()
    ))
    .bind(user.id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Bootstrap::Promoted(admin))
}
