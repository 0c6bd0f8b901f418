//! Person records: read access that is not tied to a person or a potential match.

use sqlx::PgExecutor;

use crate::error::Result;

/// The distinct data sources of all records, sorted.
pub async fn data_sources(db: impl PgExecutor<'_>) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar(include_str!("queries/records/data_sources.sql"))
            .fetch_all(db)
            .await?,
    )
}
