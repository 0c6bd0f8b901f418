//! The review API's test data, inserted with SQL into a fresh database (after `common::app`, so that the
//! local user is `u_1` and the reviewer `u_2`).
//!
//! * cfg_1 (a real model: first_name with a TF adjustment, birth_date) -> job_1; cfg_2 (settings that do not
//!   compile) -> job_2.
//! * Persons: P1 {pr_1 John Smith A, pr_2 Jon Smith B}, P2 {pr_3 John Smyth B}, P3 {pr_4 Alice Brown A},
//!   P4 deleted (its record pr_2 was moved to P1 by a manual match).
//! * Groups: pm_1 pending {prre_1 (pr_1, pr_3) 0.9, job_1}; pm_2 matched {prre_2 (pr_2, pr_4)}; pm_3 pending
//!   without results; pm_4 pending {prre_3 (pr_3, pr_4) 0.6, job_2}.
//! * Events: 1 new-ids (job_1) adding every record; 2 manual-match by u_2 moving pr_2 from P4 to P1 and
//!   reviewing pr_1, resolving pm_2.

use sqlx::PgPool;

pub const P1: &str = "p_a1111111-1111-4111-8111-111111111111";
pub const P2: &str = "p_b2222222-2222-4222-8222-222222222222";
pub const P3: &str = "p_c3333333-3333-4333-8333-333333333333";
pub const P4: &str = "p_d4444444-4444-4444-8444-444444444444";

pub const SETTINGS: &str = r#"{
  "link_type": "dedupe_only",
  "probability_two_random_records_match": 0.01,
  "blocking_rules_to_generate_predictions": [{"blocking_rule": "l.last_name = r.last_name"}],
  "comparisons": [
    {"output_column_name": "first_name", "comparison_levels": [
      {"sql_condition": "\"first_name_l\" IS NULL OR \"first_name_r\" IS NULL", "label_for_charts": "first_name is NULL", "is_null_level": true},
      {"sql_condition": "\"first_name_l\" = \"first_name_r\"", "label_for_charts": "Exact match on first_name",
       "m_probability": 0.9, "u_probability": 0.01, "tf_adjustment_column": "first_name", "tf_adjustment_weight": 1.0},
      {"sql_condition": "ELSE", "label_for_charts": "All other comparisons", "m_probability": 0.1, "u_probability": 0.99}
    ]},
    {"output_column_name": "birth_date", "comparison_levels": [
      {"sql_condition": "\"birth_date_l\" IS NULL OR \"birth_date_r\" IS NULL", "label_for_charts": "birth_date is NULL", "is_null_level": true},
      {"sql_condition": "\"birth_date_l\" = \"birth_date_r\"", "label_for_charts": "Exact match on birth_date",
       "m_probability": 0.8, "u_probability": 0.02},
      {"sql_condition": "ELSE", "label_for_charts": "All other comparisons", "m_probability": 0.2, "u_probability": 0.98}
    ]}
  ]
}"#;

const FIXTURE: &str = r#"
INSERT INTO users (idp_user_id, email, role) VALUES ('reviewer', 'reviewer@example.org', 'member');
INSERT INTO configs (potential_match_threshold, auto_match_threshold, splink_settings)
    VALUES (0.5, 0.95, $settings$SETTINGS$settings$::jsonb), (0.5, 0.95, '{"comparisons": "not a list"}');
INSERT INTO jobs (config_id, status) VALUES (1, 'succeeded'), (2, 'succeeded');
INSERT INTO persons (uuid, created, updated, job_id, version, deleted, record_count) VALUES
    ('a1111111-1111-4111-8111-111111111111', '2025-01-02 03:04:05+00', '2025-02-03 04:05:06.5+00', 1, 2, NULL, 2),
    ('b2222222-2222-4222-8222-222222222222', '2025-01-02 03:04:05.25+00', '2025-01-02 03:04:05+00', 1, 1, NULL, 1),
    ('c3333333-3333-4333-8333-333333333333', '2025-01-02 03:04:05+00', '2025-01-02 03:04:05+00', 1, 1, NULL, 1),
    ('d4444444-4444-4444-8444-444444444444', '2025-01-02 03:04:05+00', '2025-02-03 04:05:06.5+00', 1, 2,
     '2025-02-03 04:05:06.5+00', 0);
INSERT INTO person_records (created, job_id, person_id, person_updated, matched_or_reviewed, sha256, data_source,
        source_person_id, first_name, last_name, sex, birth_date, social_security_number, city)
    SELECT '2025-01-02 03:04:05.123456+00', 1, v.person_id, v.person_updated::timestamptz,
           v.matched_or_reviewed::timestamptz, sha256(convert_to(v.source_person_id, 'UTF8')), v.data_source,
           v.source_person_id, v.first_name, v.last_name, v.sex, v.birth_date, v.ssn, v.city
    FROM (VALUES
        (1, 1, '2025-01-02 03:04:05.123456+00', '2025-02-03 04:05:06.5+00', 'A', 'S1', 'John', 'Smith', 'M', '1980-01-01', '111-22-3333', 'Boston'),
        (2, 1, '2025-02-03 04:05:06.5+00', '2025-02-03 04:05:06+00', 'B', 'S2', 'Jon', 'Smith', 'M', '1980-01-01', NULL, NULL),
        (3, 2, '2025-01-02 03:04:05.123456+00', NULL, 'B', 'S3', 'John', 'Smyth', 'M', '1980-01-02', '111-22-3334', NULL),
        (4, 3, '2025-01-02 03:04:05.123456+00', NULL, 'A', 'T4', 'Alice', 'Brown', 'F', '1975-05-05', NULL, NULL)
    ) AS v (n, person_id, person_updated, matched_or_reviewed, data_source, source_person_id, first_name, last_name,
            sex, birth_date, ssn, city)
    ORDER BY v.n;
INSERT INTO match_groups (uuid, created, updated, deleted, job_id, version, matched) VALUES
    (gen_random_uuid(), '2025-01-02 03:04:05+00', '2025-01-02 03:04:05+00', NULL, 1, 3, NULL),
    (gen_random_uuid(), '2025-01-02 03:04:05+00', '2025-02-03 04:05:06.5+00', NULL, 1, 2, '2025-02-03 04:05:06.5+00'),
    (gen_random_uuid(), '2025-01-02 03:04:05+00', '2025-01-02 03:04:05+00', NULL, 1, 1, NULL),
    (gen_random_uuid(), '2025-01-03 00:00:00+00', '2025-01-03 00:00:00+00', NULL, 2, 1, NULL);
INSERT INTO prediction_results (created, job_id, match_group_id, match_group_updated, match_weight,
        match_probability, person_record_l_id, person_record_r_id, data) VALUES
    ('2025-01-02 03:04:05+00', 1, 1, '2025-01-02 03:04:05+00', 3.17, 0.9, 1, 3,
     '{"match_key": "0", "gamma_first_name": 1, "bf_first_name": 8.0, "tf_first_name_l": 0.25,
       "tf_first_name_r": 0.25, "bf_tf_adj_first_name": 0.5, "gamma_birth_date": 0, "bf_birth_date": 0.25}'),
    ('2025-01-02 03:04:05+00', 1, 2, '2025-01-02 03:04:05+00', 1.0, 0.7, 2, 4,
     '{"match_key": "0", "gamma_first_name": 0, "bf_first_name": 0.125, "gamma_birth_date": 0, "bf_birth_date": 0.25}'),
    ('2025-01-03 00:00:00+00', 2, 4, '2025-01-03 00:00:00+00', 0.58, 0.6, 3, 4,
     '{"match_key": "1", "bf_first_name": 2.0, "bf_tf_adj_first_name": 1.0, "bf_birth_date": 4.0}');
INSERT INTO match_events (created, job_id, type) VALUES
    ('2025-01-02 03:04:05+00', 1, 'new-ids'),
    ('2025-02-03 04:05:06.5+00', NULL, 'manual-match');
INSERT INTO person_actions (match_event_id, match_group_id, person_id, person_record_id, type, performed_by_id) VALUES
    (1, NULL, 1, 1, 'add-record', NULL),
    (1, NULL, 4, 2, 'add-record', NULL),
    (1, NULL, 2, 3, 'add-record', NULL),
    (1, NULL, 3, 4, 'add-record', NULL),
    (2, 2, 4, 2, 'remove-record', 2),
    (2, 2, 1, 2, 'add-record', 2),
    (2, 2, 1, 1, 'review', 2);
INSERT INTO match_group_actions (match_event_id, match_group_id, prediction_result_id, type, performed_by_id)
    VALUES (2, 2, NULL, 'match', 2);
"#;

/// Inserts the fixture.
pub async fn insert(pool: &PgPool) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(FIXTURE.replace("SETTINGS", SETTINGS)))
        .execute(pool)
        .await
        .expect("review fixture");
}
