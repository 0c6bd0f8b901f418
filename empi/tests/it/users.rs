//! Users: created on first login without a role, roles set without ever losing the last admin (also
//! under concurrent demotions), and the first admin bootstrapped exactly once.

use idem_empi::{
    AdminTarget, Bootstrap, Role, SetRole, UserId, bootstrap_admin, list_users, set_user_role,
    upsert_user, user_for_login,
};
use sqlx::PgPool;

use crate::common::migrate;

#[sqlx::test(migrations = false)]
async fn login_creates_roleless_users_and_refreshes_their_email(pool: PgPool) {
    migrate(&pool).await;
    let first = user_for_login(&pool, "sub-1", Some("a@example.org"))
        .await
        .unwrap();
    assert_eq!(
        (first.role, first.email.as_deref()),
        (None, Some("a@example.org"))
    );
    let again = user_for_login(&pool, "sub-1", None).await.unwrap();
    assert_eq!(again, first, "no email in the token: nothing changes");
    set_user_role(&pool, first.id, Some(Role::Member))
        .await
        .unwrap();
    let moved = user_for_login(&pool, "sub-1", Some("b@example.org"))
        .await
        .unwrap();
    assert_eq!(
        (moved.id, moved.role, moved.email.as_deref()),
        (first.id, Some(Role::Member), Some("b@example.org"))
    );
    assert!(moved.updated >= first.updated);
    let (page, total) = list_users(&pool, 1, 10).await.unwrap();
    assert_eq!((page.len(), total), (1, 1));
    assert_eq!(
        set_user_role(&pool, UserId(999), None).await.unwrap(),
        SetRole::NotFound
    );
}

#[sqlx::test(migrations = false)]
async fn two_admins_demoting_each_other_leave_one_admin(pool: PgPool) {
    migrate(&pool).await;
    for round in 0..10 {
        sqlx::query("DELETE FROM users")
            .execute(&pool)
            .await
            .unwrap();
        let a = upsert_user(&pool, &format!("a{round}"), None, Some(Role::Admin))
            .await
            .unwrap();
        let b = upsert_user(&pool, &format!("b{round}"), None, Some(Role::Admin))
            .await
            .unwrap();
        let (ra, rb) = tokio::join!(
            set_user_role(&pool, a.id, Some(Role::Member)),
            set_user_role(&pool, b.id, None)
        );
        let outcomes = [ra.unwrap(), rb.unwrap()];
        let refused = outcomes
            .iter()
            .filter(|o| **o == SetRole::LastAdmin)
            .count();
        assert_eq!(refused, 1, "round {round}: {outcomes:?}");
        let (admins,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE role = 'admin'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(admins, 1, "round {round}");
    }
}

#[sqlx::test(migrations = false)]
async fn bootstrap_makes_one_first_admin(pool: PgPool) {
    migrate(&pool).await;
    user_for_login(&pool, "x", Some("same@example.org"))
        .await
        .unwrap();
    user_for_login(&pool, "y", Some("SAME@example.org"))
        .await
        .unwrap();
    let several = bootstrap_admin(&pool, AdminTarget::Email("same@example.org"))
        .await
        .unwrap();
    assert!(
        matches!(several, Bootstrap::SeveralUsersWithEmail(ref u) if u.len() == 2),
        "{several:?}"
    );
    assert_eq!(
        bootstrap_admin(&pool, AdminTarget::Email("nobody@example.org"))
            .await
            .unwrap(),
        Bootstrap::NoUserWithEmail
    );
    // Two bootstraps at once: one admin.
    let (first, second) = tokio::join!(
        bootstrap_admin(&pool, AdminTarget::Sub("p")),
        bootstrap_admin(&pool, AdminTarget::Sub("q"))
    );
    let outcomes = [first.unwrap(), second.unwrap()];
    let promoted: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Bootstrap::Promoted(user) => Some(user.idp_user_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(promoted.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Bootstrap::AlreadyBootstrapped(a) if a.len() == 1))
    );
    let (admins,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE role = 'admin'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(admins, 1);
}
