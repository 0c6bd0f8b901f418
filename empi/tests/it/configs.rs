//! Config store round trip and data sources.

use idem_empi::{
    ConfigId, Error, NewConfig, count_configs, data_sources, get_config, insert_config,
    list_configs,
};
use serde_json::json;
use sqlx::PgPool;

use crate::common::{job, migrate, person, record};

#[sqlx::test(migrations = false)]
async fn configs_round_trip(pool: PgPool) {
    migrate(&pool).await;
    assert!(list_configs(&pool, 10, 0).await.expect("list").is_empty());
    let settings = json!({"probability_two_random_records_match": 0.0001, "comparisons": []});
    let first = insert_config(
        &pool,
        &NewConfig {
            potential_match_threshold: 0.5,
            auto_match_threshold: 0.95,
            splink_settings: settings.clone(),
        },
    )
    .await
    .expect("insert");
    assert_eq!(first.potential_match_threshold, 0.5);
    assert_eq!(first.auto_match_threshold, 0.95);
    assert_eq!(first.splink_settings, settings);
    let public = first.id.to_string();
    assert!(public.starts_with("cfg_"), "{public}");
    assert_eq!(public.parse::<ConfigId>(), Ok(first.id));
    let body = serde_json::to_value(&first).expect("serialize");
    assert_eq!(body["id"], json!(public));

    let second = insert_config(
        &pool,
        &NewConfig {
            potential_match_threshold: 0.0,
            auto_match_threshold: 1.0,
            splink_settings: json!({}),
        },
    )
    .await
    .expect("insert");
    assert!(second.id > first.id);

    assert_eq!(
        get_config(&pool, first.id).await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(
        get_config(&pool, ConfigId(second.id.0 + 100))
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        list_configs(&pool, 10, 0).await.expect("list"),
        [first.clone(), second.clone()]
    );
    assert_eq!(list_configs(&pool, 1, 1).await.expect("list"), [second]);
    assert_eq!(count_configs(&pool).await.expect("count"), 2);

    let refused = insert_config(
        &pool,
        &NewConfig {
            potential_match_threshold: 0.9,
            auto_match_threshold: 0.5,
            splink_settings: json!({}),
        },
    )
    .await;
    assert!(
        matches!(refused, Err(Error::InvalidConfig(_))),
        "{refused:?}"
    );
    assert_eq!(count_configs(&pool).await.expect("count"), 2);
}

#[sqlx::test(migrations = false)]
async fn data_sources_are_distinct_and_sorted(pool: PgPool) {
    migrate(&pool).await;
    assert!(data_sources(&pool).await.expect("query").is_empty());
    let job = job(&pool).await;
    for (i, source) in ["ds-b", "ds-a", "ds-b", "ds-c", "ds-a"].iter().enumerate() {
        let p = person(&pool, job, 1).await;
        record(&pool, job, p, source, &format!("id-{i}"))
            .await
            .expect("record");
    }
    assert_eq!(
        data_sources(&pool).await.expect("query"),
        ["ds-a", "ds-b", "ds-c"]
    );
}
