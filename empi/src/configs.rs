//! Matching configs: immutable, append-only; each import job points at one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgExecutor;

use crate::error::{Error, Result};
use crate::ids::ConfigId;

/// A stored config.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Config {
    /// Its id (`cfg_N`).
    pub id: ConfigId,
    /// When it was stored.
    pub created: DateTime<Utc>,
    /// Pairs scoring above this (strictly) are kept as potential matches.
    pub potential_match_threshold: f64,
    /// Pairs scoring above this (strictly) are merged automatically.
    pub auto_match_threshold: f64,
    /// The validated Splink settings, defaults filled in.
    pub splink_settings: serde_json::Value,
}

/// A config to store. Validate the settings with the scorer's validator first.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConfig {
    /// Pairs scoring above this (strictly) are kept as potential matches.
    pub potential_match_threshold: f64,
    /// Pairs scoring above this (strictly) are merged automatically.
    pub auto_match_threshold: f64,
    /// The validated Splink settings.
    pub splink_settings: serde_json::Value,
}

impl NewConfig {
    /// Checks the thresholds: both in [0, 1] and `auto >= potential` (the table's CHECKs).
    pub fn validate(&self) -> Result<()> {
        let in_range = |t: f64| (0.0..=1.0).contains(&t);
        if !in_range(self.potential_match_threshold) {
            return Err(Error::InvalidConfig(
                "potential_match_threshold must be between 0 and 1",
            ));
        }
        if !in_range(self.auto_match_threshold) {
            return Err(Error::InvalidConfig(
                "auto_match_threshold must be between 0 and 1",
            ));
        }
        if self.auto_match_threshold < self.potential_match_threshold {
            return Err(Error::InvalidConfig(
                "auto_match_threshold must be greater than or equal to potential_match_threshold",
            ));
        }
        Ok(())
    }
}

/// The columns of [`Config`], spliced into static query strings with `concat!`.
macro_rules! config_columns {
    () => {
        "id, created, potential_match_threshold, auto_match_threshold, splink_settings"
    };
}

/// Validates and stores a config, returning it with its id.
pub async fn insert_config(db: impl PgExecutor<'_>, config: &NewConfig) -> Result<Config> {
    config.validate()?;
    const SQL: &str = concat!(
        "INSERT INTO configs (potential_match_threshold, auto_match_threshold, splink_settings) ",
        "VALUES ($1, $2, $3) RETURNING ",
        config_columns!()
    );
    let stored = sqlx::query_as::<_, Config>(SQL)
        .bind(config.potential_match_threshold)
        .bind(config.auto_match_threshold)
        .bind(&config.splink_settings)
        .fetch_one(db)
        .await?;
    Ok(stored)
}

/// One config, or `None` if there is none with this id.
pub async fn get_config(db: impl PgExecutor<'_>, id: ConfigId) -> Result<Option<Config>> {
    const SQL: &str = concat!("SELECT ", config_columns!(), " FROM configs WHERE id = $1");
    Ok(sqlx::query_as::<_, Config>(SQL)
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// Configs in id order, `limit` of them after skipping `offset`.
pub async fn list_configs(db: impl PgExecutor<'_>, limit: i64, offset: i64) -> Result<Vec<Config>> {
    const SQL: &str = concat!(
        "SELECT ",
        config_columns!(),
        " FROM configs ORDER BY id LIMIT $1 OFFSET $2"
    );
    Ok(sqlx::query_as::<_, Config>(SQL)
        .bind(limit)
        .bind(offset)
        .fetch_all(db)
        .await?)
}

/// How many configs there are.
pub async fn count_configs(db: impl PgExecutor<'_>) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM configs")
        .fetch_one(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_validated() {
        let config = |potential, auto| NewConfig {
            potential_match_threshold: potential,
            auto_match_threshold: auto,
            splink_settings: serde_json::json!({}),
        };
        assert!(config(0.5, 0.95).validate().is_ok());
        assert!(config(0.5, 0.5).validate().is_ok());
        assert!(config(0.0, 1.0).validate().is_ok());
        for (p, a) in [
            (0.9, 0.5),
            (-0.1, 0.5),
            (0.5, 1.5),
            (f64::NAN, 0.5),
            (0.5, f64::NAN),
        ] {
            assert!(
                matches!(config(p, a).validate(), Err(Error::InvalidConfig(_))),
                "{p} {a}"
            );
        }
    }
}
