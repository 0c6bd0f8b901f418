//! Potential matches for the review API: the filtered, paginated list of pending groups and one group with
//! its scored pairs and the persons (with all their records) those pairs involve.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::ids::{ConfigId, PersonId, PersonRecordId, PotentialMatchId, PredictionResultId};
use crate::persons::{PersonRecord, records_of};
use crate::search::{Page, RecordFilter, begin_read, limit_offset};

/// A pending group in the list.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PotentialMatchSummary {
    /// Its id (`pm_N`).
    pub id: PotentialMatchId,
    /// The first name of the group's record with the lowest id.
    pub first_name: Option<String>,
    /// The last name of that record.
    pub last_name: Option<String>,
    /// The distinct data sources of the group's records, sorted.
    pub data_sources: Vec<String>,
    /// The best probability among the group's results.
    pub max_match_probability: f64,
}

/// A scored pair of a group.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PredictionResult {
    /// Its id (`prre_N`).
    pub id: PredictionResultId,
    /// When it was first put in a group.
    pub created: DateTime<Utc>,
    /// log2 of the pair's Bayes factor.
    pub match_weight: f64,
    /// The pair's match probability.
    pub match_probability: f64,
    /// The lower record id of the pair.
    pub person_record_l_id: PersonRecordId,
    /// The higher record id of the pair.
    pub person_record_r_id: PersonRecordId,
    /// The scorer's explanation: `match_key`, `gamma_<c>`, `bf_<c>`, `tf_<col>_l/_r`, `bf_tf_adj_<c>`.
    pub data: serde_json::Value,
    /// The config of the job that scored the pair.
    pub config_id: ConfigId,
}

/// A person of a group, with all its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPerson {
    /// Its public id.
    pub id: PersonId,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Its optimistic-concurrency version.
    pub version: i64,
    /// All its records (not only those the results name), in id order.
    pub records: Vec<PersonRecord>,
}

/// A pending group with its results and one page of its persons.
#[derive(Debug, Clone, PartialEq)]
pub struct PotentialMatch {
    /// Its id.
    pub id: PotentialMatchId,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Its optimistic-concurrency version (a manual match must quote it).
    pub version: i64,
    /// Every result of the group, best first.
    pub results: Vec<PredictionResult>,
    /// The requested page of the group's persons, ordered by uuid text.
    pub persons: Page<GroupPerson>,
}

/// One page of the pending groups with a record matching `filter`, in id order.
pub async fn list_potential_matches(
    db: &sqlx::PgPool,
    filter: &RecordFilter,
    page: u32,
    page_size: u32,
) -> Result<Page<PotentialMatchSummary>> {
    let (limit, offset) = limit_offset(page, page_size);
    let mut tx = begin_read(db).await?;
    let items = filter
        .bind_as(sqlx::query_as::<_, PotentialMatchSummary>(include_str!(
            "queries/potential_matches/page.sql"
        )))
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
    let total_count = filter
        .bind_scalar(sqlx::query_scalar::<_, i64>(include_str!(
            "queries/potential_matches/count.sql"
        )))
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Page { items, total_count })
}

#[derive(sqlx::FromRow)]
struct PersonRow {
    internal_id: i64,
    id: PersonId,
    created: DateTime<Utc>,
    version: i64,
}

/// The pending group with this id, its results and one page of its persons (`page_size` persons; `None`:
/// all of them); `None` if the group is unknown, matched or replaced. Everything is read in one
/// snapshot, so the version, results and persons agree even while a run or a reviewer changes them.
pub async fn get_potential_match(
    db: &sqlx::PgPool,
    id: PotentialMatchId,
    page: u32,
    page_size: Option<u32>,
) -> Result<Option<PotentialMatch>> {
    let mut tx = begin_read(db).await?;
    let group: Option<(DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT created, version FROM match_groups \
         WHERE id = $1 AND matched IS NULL AND deleted IS NULL",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((created, version)) = group else {
        return Ok(None);
    };
    let results = sqlx::query_as::<_, PredictionResult>(include_str!(
        "queries/potential_matches/results.sql"
    ))
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let (limit, offset) = match page_size {
        Some(size) => {
            let (l, o) = limit_offset(page, size);
            (Some(l), o)
        }
        None => (None, 0),
    };
    let rows =
        sqlx::query_as::<_, PersonRow>(include_str!("queries/potential_matches/persons.sql"))
            .bind(id)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await?;
    let total_count: i64 =
        sqlx::query_scalar(include_str!("queries/potential_matches/person_count.sql"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let internal: Vec<i64> = rows.iter().map(|r| r.internal_id).collect();
    let mut records = records_of(&mut *tx, &internal).await?;
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(|row| {
            let (mine, rest) = records.drain(..).partition(|r| r.person_id == row.id);
            records = rest;
            GroupPerson {
                id: row.id,
                created: row.created,
                version: row.version,
                records: mine,
            }
        })
        .collect();
    Ok(Some(PotentialMatch {
        id,
        created,
        version,
        results,
        persons: Page { items, total_count },
    }))
}
