//! The search filters of the person and potential-match lists (reference-behaviour.md §2.1) and the page
//! shape of list queries.
//!
//! All given filters must hold on the same record. They are bound as SQL parameters `$1..$7` of the list
//! queries (`queries/persons/*.sql`, `queries/potential_matches/*.sql`): six patterns (NULL when the filter
//! is absent) and a flag saying whether any filter is given, so that PostgreSQL's custom plan for a request
//! drops the conditions of absent filters.

use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::{QueryAs, QueryScalar};

/// Filters over a person's (or a potential match's) records. `None`: no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Case-insensitive substring of the first name (`%` and `_` act as wildcards, as in the reference).
    pub first_name: Option<String>,
    /// Case-insensitive substring of the last name.
    pub last_name: Option<String>,
    /// Case-insensitive substring of the birth date (stored as text).
    pub birth_date: Option<String>,
    /// Prefix of the person's uuid; a `p_` (or any known id prefix) and leading `%` are removed.
    pub person_id: Option<String>,
    /// Prefix of the source person id; leading `%` are removed.
    pub source_person_id: Option<String>,
    /// Exact data source.
    pub data_source: Option<String>,
}

impl RecordFilter {
    /// Whether no filter is given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The six patterns in parameter order: first_name, last_name, birth_date (`%v%`), person uuid prefix,
    /// source person id prefix (`v%`), data source (exact).
    fn patterns(&self) -> [Option<String>; 6] {
        let contains = |v: &Option<String>| v.as_ref().map(|v| format!("%{v}%"));
        let prefix = |v: &str| format!("{}%", v.trim_start_matches('%'));
        [
            contains(&self.first_name),
            contains(&self.last_name),
            contains(&self.birth_date),
            self.person_id
                .as_deref()
                .map(|v| prefix(crate::ids::strip_known_prefix(v))),
            self.source_person_id.as_deref().map(prefix),
            self.data_source.clone(),
        ]
    }

    /// Binds `$1..$7` of a list query.
    pub(crate) fn bind_as<'q, O>(
        &self,
        mut query: QueryAs<'q, Postgres, O, PgArguments>,
    ) -> QueryAs<'q, Postgres, O, PgArguments> {
        for p in self.patterns() {
            query = query.bind(p);
        }
        query.bind(!self.is_empty())
    }

    /// Binds `$1..$7` of a count query.
    pub(crate) fn bind_scalar<'q, O>(
        &self,
        mut query: QueryScalar<'q, Postgres, O, PgArguments>,
    ) -> QueryScalar<'q, Postgres, O, PgArguments> {
        for p in self.patterns() {
            query = query.bind(p);
        }
        query.bind(!self.is_empty())
    }
}

/// One page of a list and the number of items over all pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of the page, in list order.
    pub items: Vec<T>,
    /// How many items the whole list has.
    pub total_count: i64,
}

/// `LIMIT` and `OFFSET` of a 1-based page.
pub(crate) fn limit_offset(page: u32, page_size: u32) -> (i64, i64) {
    let limit = i64::from(page_size.max(1));
    (limit, i64::from(page.max(1) - 1) * limit)
}

/// Starts a read-only REPEATABLE READ transaction, so that a page, its total and the details read with it
/// come from one snapshot, and plans every statement with its parameters' values: a generic plan (which
/// PostgreSQL may switch to after five executions of a prepared statement) could not drop the conditions
/// of absent filters nor use the trigram indexes for the given ones.
pub(crate) async fn begin_read(
    db: &sqlx::PgPool,
) -> crate::Result<sqlx::Transaction<'static, Postgres>> {
    let mut tx = db.begin().await?;
    sqlx::raw_sql(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
         SET LOCAL plan_cache_mode = force_custom_plan",
    )
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}
