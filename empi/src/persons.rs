//! Persons for the review API: the filtered, paginated list and one person with all its records.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::error::Result;
use crate::ids::{PersonId, PersonRecordId};
use crate::search::{Page, RecordFilter, begin_read, limit_offset};

/// A person in the list: the names of its first record and its data sources.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PersonSummary {
    /// Its public id.
    pub id: PersonId,
    /// The first name of its first record (lowest record id).
    pub first_name: Option<String>,
    /// The last name of its first record.
    pub last_name: Option<String>,
    /// The distinct data sources of its records, sorted.
    pub data_sources: Vec<String>,
}

/// A source record with its current person.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PersonRecord {
    /// Its id (`pr_N`).
    pub id: PersonRecordId,
    /// The person it belongs to now.
    pub person_id: PersonId,
    /// When it was loaded (the time of its job's `new-ids` event).
    pub created: DateTime<Utc>,
    /// Last time it moved to another person (or its load time).
    pub person_updated: DateTime<Utc>,
    /// When a match or a review last involved it.
    pub matched_or_reviewed: Option<DateTime<Utc>>,
    /// Where it comes from.
    pub data_source: String,
    /// Its id in the source.
    pub source_person_id: String,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub first_name: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub last_name: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub sex: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub race: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub birth_date: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub death_date: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub social_security_number: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub address: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub city: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub state: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub zip_code: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub county: Option<String>,
    #[allow(missing_docs, reason = "source fields, named as the CSV columns")]
    pub phone: Option<String>,
}

/// A live person with every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Its public id.
    pub id: PersonId,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Its optimistic-concurrency version.
    pub version: i64,
    /// Its records, in id order (never empty: a person without records is deleted).
    pub records: Vec<PersonRecord>,
}

/// One page of the persons that have a record matching `filter`, ordered by the last and first name of
/// their first record (NULLs last).
pub async fn list_persons(
    db: &sqlx::PgPool,
    filter: &RecordFilter,
    page: u32,
    page_size: u32,
) -> Result<Page<PersonSummary>> {
    let (limit, offset) = limit_offset(page, page_size);
    let mut tx = begin_read(db).await?;
    let items = filter
        .bind_as(sqlx::query_as::<_, PersonSummary>(include_str!(
            "queries/persons/page.sql"
        )))
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
    let total_count = filter
        .bind_scalar(sqlx::query_scalar::<_, i64>(include_str!(
            "queries/persons/count.sql"
        )))
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Page { items, total_count })
}

/// The live person with this id and all its records; `None` if it is unknown or deleted.
pub async fn get_person(db: &sqlx::PgPool, id: PersonId) -> Result<Option<Person>> {
    // One snapshot: the person's version and its records must agree.
    let mut tx = begin_read(db).await?;
    let row: Option<(i64, DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT id, created, version FROM persons WHERE uuid = $1 AND deleted IS NULL",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((internal, created, version)) = row else {
        return Ok(None);
    };
    let records = records_of(&mut *tx, &[internal]).await?;
    tx.commit().await?;
    if records.is_empty() {
        return Ok(None);
    }
    Ok(Some(Person {
        id,
        created,
        version,
        records,
    }))
}

/// Every record of the persons with these internal ids, in record id order.
pub(crate) async fn records_of(
    db: impl PgExecutor<'_>,
    persons: &[i64],
) -> Result<Vec<PersonRecord>> {
    Ok(
        sqlx::query_as::<_, PersonRecord>(include_str!("queries/persons/records.sql"))
            .bind(persons)
            .fetch_all(db)
            .await?,
    )
}
