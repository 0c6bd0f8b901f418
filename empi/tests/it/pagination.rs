//! Must-show 5: list pages run in SQL. With 100k persons (120k records) and 30k potential matches, the
//! plans of the exact page queries (`EXPLAIN (ANALYZE, FORMAT JSON)`, row counts only, never timings)
//! stop after the page: a Limit over an index walk, no node handling more than a few thousand rows, no sort
//! of all rows. The store functions return the same pages as a naive full sort.
#![allow(clippy::cast_possible_truncation, reason = "small test counts")]

use idem_empi::{RecordFilter, list_persons, list_potential_matches};
use serde_json::Value;
use sqlx::PgPool;

use crate::common::{job, migrate};

const PERSONS: i64 = 100_000;

/// 100k persons with one record each, a second record for every fifth person (names from the same
/// distribution), and 30k pending groups, each with one result between two persons' first records.
/// `ANALYZE` reads every row (its sample of 300 x the statistics target covers the table), so the
/// planner's estimates, and with them the plans asserted below, do not depend on a random sample.
async fn populate(pool: &PgPool) {
    let job = job(pool).await;
    let sql = format!(
        "INSERT INTO persons (uuid, created, updated, job_id, record_count)
             SELECT gen_random_uuid(), now(), now(), {job}, CASE WHEN g % 5 = 0 THEN 2 ELSE 1 END
             FROM generate_series(1::bigint, {PERSONS}) g ORDER BY g;
         INSERT INTO person_records (created, job_id, person_id, person_updated, sha256, data_source,
                 source_person_id, first_name, last_name, birth_date)
             SELECT now(), {job}, g, now(), sha256(int8send(g)), 'src' || (g % 3), 'S' || g,
                    initcap(substr(md5('f' || (g * 104729 % 300)), 1, 6)),
                    initcap(substr(md5('l' || (g * 7919 % 5000)), 1, 8)),
                    '19' || lpad((g % 100)::text, 2, '0') || '-01-01'
             FROM generate_series(1::bigint, {PERSONS}) g ORDER BY g;
         INSERT INTO person_records (created, job_id, person_id, person_updated, sha256, data_source,
                 source_person_id, first_name, last_name, birth_date)
             SELECT now(), {job}, g, now(), sha256(int8send(-g)), 'src' || (g % 3), 'T' || g,
                    initcap(substr(md5('f' || (g * 31 % 300)), 1, 6)),
                    initcap(substr(md5('l' || (g * 104723 % 5000)), 1, 8)), NULL
             FROM generate_series(5::bigint, {PERSONS}, 5) g ORDER BY g;
         INSERT INTO match_groups (uuid, created, updated, job_id)
             SELECT gen_random_uuid(), now(), now(), {job} FROM generate_series(1, 30000) k ORDER BY k;
         INSERT INTO prediction_results (created, job_id, match_group_id, match_group_updated, match_weight,
                 match_probability, person_record_l_id, person_record_r_id, data)
             SELECT now(), {job}, k, now(), 1.0, 0.5 + (k % 40) / 100.0, 2 * k - 1, 2 * k, '{{}}'
             FROM generate_series(1, 30000) k;
         SET default_statistics_target = 10000;
         ANALYZE;"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .expect("populate");
}

/// Every node of a JSON plan: (node type, index name, rows it produced over all loops).
fn nodes(plan: &Value, out: &mut Vec<(String, Option<String>, f64)>) {
    let rows =
        plan["Actual Rows"].as_f64().unwrap_or(0.0) * plan["Actual Loops"].as_f64().unwrap_or(1.0);
    out.push((
        plan["Node Type"].as_str().unwrap_or("").to_owned(),
        plan["Index Name"].as_str().map(str::to_owned),
        rows,
    ));
    for child in plan["Plans"].as_array().into_iter().flatten() {
        nodes(child, out);
    }
}

/// Runs `EXPLAIN (ANALYZE, FORMAT JSON)` of a page query with the filter's parameters, LIMIT and OFFSET.
async fn explain(
    pool: &PgPool,
    sql: &'static str,
    filter: &RecordFilter,
    limit: i64,
    offset: i64,
) -> Vec<(String, Option<String>, f64)> {
    let explain: &'static str =
        Box::leak(format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}").into_boxed_str());
    let contains = |v: &Option<String>| v.as_ref().map(|v| format!("%{v}%"));
    let plan: Value = sqlx::query_scalar(explain)
        .bind(contains(&filter.first_name))
        .bind(contains(&filter.last_name))
        .bind(contains(&filter.birth_date))
        .bind(filter.person_id.as_ref().map(|v| format!("{v}%")))
        .bind(filter.source_person_id.as_ref().map(|v| format!("{v}%")))
        .bind(filter.data_source.clone())
        .bind(!filter.is_empty())
        .bind(limit)
        .bind(offset)
        .fetch_one(pool)
        .await
        .expect("explain");
    let mut out = Vec::new();
    nodes(&plan[0]["Plan"], &mut out);
    out
}

#[track_caller]
fn assert_paged(plan: &[(String, Option<String>, f64)], max_rows: f64, index: &str) {
    eprintln!("plan via {index}: {plan:?}");
    assert!(
        plan.iter().any(|(t, _, _)| t == "Limit"),
        "no Limit: {plan:?}"
    );
    assert!(
        plan.iter().any(|(_, i, _)| i.as_deref() == Some(index)),
        "{index} not used: {plan:?}"
    );
    for (node, _, rows) in plan {
        assert!(*rows <= max_rows, "{node} handled {rows} rows: {plan:?}");
    }
}

#[sqlx::test(migrations = false)]
async fn list_pages_read_only_about_the_page(pool: PgPool) {
    migrate(&pool).await;
    populate(&pool).await;
    let none = RecordFilter::default();
    let persons_sql = include_str!("../../src/queries/persons/page.sql");
    let groups_sql = include_str!("../../src/queries/potential_matches/page.sql");

    // Persons, no filter: the walk over person_records_name_order reads about OFFSET + LIMIT records
    // (plus the second records among them), out of 120k.
    assert_paged(
        &explain(&pool, persons_sql, &none, 50, 0).await,
        1_000.0,
        "person_records_name_order",
    );
    assert_paged(
        &explain(&pool, persons_sql, &none, 50, 950).await,
        2_000.0,
        "person_records_name_order",
    );
    // A name filter goes through its trigram index and sorts only the matching persons.
    // Five letters of one of the 5000 last names.
    let part: String =
        sqlx::query_scalar("SELECT substr(last_name, 2, 5) FROM person_records WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    let smith = RecordFilter {
        last_name: Some(part.to_uppercase()),
        ..RecordFilter::default()
    };
    assert_paged(
        &explain(&pool, persons_sql, &smith, 50, 0).await,
        5_000.0,
        "person_records_last_name_trgm",
    );
    // Potential matches, no filter: groups in id order through match_groups_pending, 50 of 30k.
    assert_paged(
        &explain(&pool, groups_sql, &none, 50, 0).await,
        1_000.0,
        "match_groups_pending",
    );
    // Filtered: from the matching records to their groups; only those are sorted.
    assert_paged(
        &explain(&pool, groups_sql, &smith, 50, 0).await,
        5_000.0,
        "person_records_last_name_trgm",
    );

    // The pages are right: the same persons as a full sort in SQL, and the total over all pages.
    let page = list_persons(&pool, &none, 3, 50).await.expect("persons");
    assert_eq!(page.total_count, PERSONS);
    let expected: Vec<(uuid::Uuid, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT p.uuid, f.first_name, f.last_name FROM persons p
         JOIN LATERAL (SELECT * FROM person_records r WHERE r.person_id = p.id ORDER BY r.id LIMIT 1) f ON true
         ORDER BY f.last_name, f.first_name, f.id LIMIT 50 OFFSET 100",
    )
    .fetch_all(&pool)
    .await
    .expect("full sort");
    let got: Vec<(uuid::Uuid, Option<String>, Option<String>)> = page
        .items
        .iter()
        .map(|p| (p.id.0, p.first_name.clone(), p.last_name.clone()))
        .collect();
    assert_eq!(got, expected);
    let filtered = list_persons(&pool, &smith, 1, 1000)
        .await
        .expect("filtered");
    let matching: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT person_id) FROM person_records WHERE last_name ILIKE '%' || $1 || '%'",
    )
    .bind(&part)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(filtered.total_count, matching);
    assert_eq!(filtered.items.len() as i64, matching);
    let groups = list_potential_matches(&pool, &none, 2, 50)
        .await
        .expect("groups");
    assert_eq!(groups.total_count, 30_000);
    assert_eq!(groups.items.len(), 50);
    assert_eq!(groups.items[0].id.0, 51);
    // Filtered groups: the same set as the reference's definition evaluated naively.
    let filtered = list_potential_matches(&pool, &smith, 1, 1000)
        .await
        .expect("filtered groups");
    let expected: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT r.match_group_id FROM prediction_results r
         JOIN person_records x ON x.id IN (r.person_record_l_id, r.person_record_r_id)
         JOIN person_records m ON m.person_id = x.person_id
         WHERE m.last_name ILIKE '%' || $1 || '%' ORDER BY 1",
    )
    .bind(&part)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!expected.is_empty());
    assert_eq!(filtered.total_count, expected.len() as i64);
    assert_eq!(
        filtered.items.iter().map(|g| g.id.0).collect::<Vec<_>>(),
        expected
    );
}
