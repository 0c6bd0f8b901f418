//! Bulk writes: a write that is large relative to the tables it fills (the first import into an empty
//! index, a file as big as everything held) drops the tables' indexes (all but primary keys and the
//! indexes foreign keys reference) and the foreign keys between them, writes, then adds the unique and
//! foreign keys back, all in the writing transaction; the plain indexes are built after it commits.
//!
//! Building an index once from the finished table is several times cheaper than growing it one row at a
//! time (the trigram GIN indexes of `person_records` and the random keys of the unique hashes and
//! uuids most of all), and adding a foreign key checks every row in one join instead of one lookup per
//! written row. Nothing is weakened: the indexes and constraints are read from the catalog (so they
//! are exactly those of the migrations), every unique and foreign key is checked again over the whole
//! table before the transaction commits (a violation fails it with the constraint's name), and a
//! failure anywhere rolls back the drop with the rest. The price is availability: the transaction holds `ACCESS EXCLUSIVE` locks on the
//! tables until it commits, so readers of those tables (the review API) wait for the write to finish.
//! That is why only writes at least as large as the tables take this path (see [`worth_it`]).
//!
//! The plain indexes (neither unique nor a constraint's: no rule depends on them, only the speed of
//! reads) are not built in the writing transaction, where PostgreSQL would build them one after the
//! other on the one core that runs the transaction (at the first import of a million records they
//! were 13 s of the load's 34 s, the three trigram GIN indexes, which PostgreSQL 15 builds without
//! parallel workers, 7 s of it). The write records them in `deferred_indexes`, in its transaction,
//! and [`build_deferred_indexes`] builds them after it commits, each in its own transaction that
//! removes its row, on as many connections as the caller gives it. The import run builds a load's
//! beside its score step, for as long as the scoring lasts (GIN first: single-process builds, which
//! fit beside it on the other core), and the rest, with those of a bulk match step, in its finish step
//! on two connections, so a run ends with every index built. Until an index is built, the reads it
//! serves scan the table instead: they are slower, never wrong. A build that fails or is interrupted
//! rolls back and leaves its row, so the next call builds it (idempotent). Measured at the first
//! import of a million records: the load took 17-20 s instead of 34 s, for 3-7 s more in the score
//! step and 8-10 s of builds in the finish step (both cores are busy most of the run, so moving the
//! builds saves less than their time).

use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::error::Result;

/// `maintenance_work_mem` for the index builds (sorting the keys of a million rows in memory).
const BUILD_MEMORY: &str = "256MB";

/// Gives the rest of the transaction's index builds and key checks [`BUILD_MEMORY`].
async fn use_build_memory(tx: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT set_config('maintenance_work_mem', $1, true)")
        .bind(BUILD_MEMORY)
        .execute(tx)
        .await?;
    Ok(())
}

/// `work_mem` for the bulk transaction's sorts and hash joins over every written row (the default 4 MB
/// spills a million rows to disk in many batches).
const QUERY_MEMORY: &str = "256MB";

/// Whether writing `rows` rows into `table` should take the bulk path: when they are at least as many as
/// the rows it holds (PostgreSQL's estimate, kept by `VACUUM`, `ANALYZE` and index builds; a table
/// never analysed counts as empty). The estimate only chooses the path; both are correct.
pub(crate) async fn worth_it(tx: &mut PgConnection, table: &str, rows: i64) -> Result<bool> {
    let held: f32 = sqlx::query_scalar(
        "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = $1::text::regclass",
    )
    .bind(table)
    .fetch_one(&mut *tx)
    .await?;
    Ok(rows > 0 && rows as f64 >= f64::from(held))
}

/// Takes `ACCESS EXCLUSIVE` locks on `tables` (in the given order) before the transaction reads them,
/// so that it never has to upgrade a weaker lock it holds (two transactions upgrading deadlock), and
/// gives the transaction's queries the memory of [`QUERY_MEMORY`].
pub(crate) async fn lock(tx: &mut PgConnection, tables: &[&str]) -> Result<()> {
    sqlx::query("SELECT set_config('work_mem', $1, true)")
        .bind(QUERY_MEMORY)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        tables.join(", ")
    )))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The indexes, unique keys and internal foreign keys of some tables, dropped until [`Suspended::restore`].
#[must_use = "the indexes and foreign keys must be restored before the transaction commits"]
pub(crate) struct Suspended {
    /// `ADD CONSTRAINT .. UNIQUE` statements (and `CREATE UNIQUE INDEX`, should a table have one).
    indexes: Vec<String>,
    /// The plain indexes, left to [`build_deferred_indexes`]: (name, table, `CREATE INDEX` statement).
    deferred: Vec<(String, String, String)>,
    /// `ALTER TABLE .. ADD CONSTRAINT .. FOREIGN KEY` statements.
    foreign_keys: Vec<String>,
}

/// Which indexes [`suspend`] drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Indexes {
    /// Every index but primary keys and those foreign keys reference: for tables filled from (nearly)
    /// empty, where building each index once is cheapest.
    All,
    /// The same but GIN indexes, which stay: for a batch of writes into a large table, which a GIN index
    /// takes cheaply through its pending list (measured on a million records: 0.7 s for 250k moved
    /// records in the three trigram indexes, against 6 s to build them again). B-tree indexes of a
    /// table that gets inserts are still built again (measured at the first import of a million
    /// records: keeping `person_actions`' made its 567k inserts take 5.2 s instead of 1.3 s, for 1.4 s
    /// of builds saved); those of an updated table only where the updates set one of their columns
    /// (see [`suspend_for`]).
    KeepGin,
}

/// What a bulk write does to one of the tables it suspends: whether it inserts rows, and which columns
/// its updates set. It decides which indexes and foreign keys [`suspend_for`] keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writes<'a> {
    /// The table.
    pub(crate) table: &'a str,
    /// Whether rows are inserted.
    pub(crate) inserts: bool,
    /// The columns that updates set.
    pub(crate) updates: &'a [&'a str],
}

/// Drops the indexes and unique constraints of `tables` that `indexes` says, and the foreign keys
/// among the tables (primary keys, indexes that foreign keys reference and foreign keys to other
/// tables stay and are checked as usual), for a write that may insert into every table. Call [`lock`]
/// first.
pub(crate) async fn suspend(
    tx: &mut PgConnection,
    tables: &[&str],
    indexes: Indexes,
) -> Result<Suspended> {
    let writes: Vec<Writes> = tables
        .iter()
        .map(|&table| Writes {
            table,
            inserts: true,
            updates: &[],
        })
        .collect();
    suspend_for(tx, indexes, &writes).await
}

/// As [`suspend`], for a write that does only what `writes` says, to the tables it names. An index is
/// dropped only when the write would change it row by row: when its table gets inserts, or updates
/// that set one of its columns (key, expression or predicate). Any other index of an updated table
/// stays: an update that sets none of its columns is made in place (HOT) when the page has room, which
/// the fillfactor of the tables that bulk regroupings update leaves (measured at the first import of a
/// million records, where 462k records and 462k persons change: 99.7% of both updates were HOT, and
/// keeping the five b-trees of `person_records` and three of `persons` that the updates leave alone
/// saved their 6 s of builds). A foreign key among the tables is dropped only when the write would
/// check it row by row: when its table gets inserts, or updates that set one of its columns. Any other
/// foreign key stays: none of its checks fires (PostgreSQL checks the referencing side on insert and on
/// an update that changes the key, and the referenced side only when a referenced key changes or its
/// row is deleted), while dropping it would cost a check of every row when it is added back. Keeping a
/// constraint is always correct; `writes` only has to be complete for the step to be fast.
pub(crate) async fn suspend_for(
    tx: &mut PgConnection,
    indexes: Indexes,
    writes: &[Writes<'_>],
) -> Result<Suspended> {
    let tables: Vec<&str> = writes.iter().map(|w| w.table).collect();
    let inserted: Vec<&str> = writes
        .iter()
        .filter(|w| w.inserts)
        .map(|w| w.table)
        .collect();
    let (updated_tables, updated_columns): (Vec<&str>, Vec<&str>) = writes
        .iter()
        .flat_map(|w| w.updates.iter().map(move |&c| (w.table, c)))
        .unzip();
    let indexes: Vec<(String, String, String, String, bool)> =
        sqlx::query_as(include_str!("queries/bulk/secondary_indexes.sql"))
            .bind(&tables)
            .bind(indexes == Indexes::All)
            .bind(&inserted)
            .bind(&updated_tables)
            .bind(&updated_columns)
            .fetch_all(&mut *tx)
            .await?;
    let foreign_keys: Vec<(String, String)> =
        sqlx::query_as(include_str!("queries/bulk/foreign_keys.sql"))
            .bind(&tables)
            .bind(&inserted)
            .bind(&updated_tables)
            .bind(&updated_columns)
            .fetch_all(&mut *tx)
            .await?;
    let drops = foreign_keys
        .iter()
        .map(|(drop, _)| drop)
        .chain(indexes.iter().map(|(drop, ..)| drop));
    for drop in drops {
        sqlx::raw_sql(AssertSqlSafe(drop.as_str()))
            .execute(&mut *tx)
            .await?;
    }
    let (deferred, indexes): (Vec<_>, Vec<_>) = indexes
        .into_iter()
        .partition(|(.., deferrable)| *deferrable);
    Ok(Suspended {
        indexes: indexes.into_iter().map(|(_, create, ..)| create).collect(),
        deferred: deferred
            .into_iter()
            .map(|(_, create, name, table, _)| (name, table, create))
            .collect(),
        foreign_keys: foreign_keys.into_iter().map(|(_, create)| create).collect(),
    })
}

impl Suspended {
    /// Adds the unique and foreign keys back, checking every row, and records the plain indexes in
    /// `deferred_indexes` for [`build_deferred_indexes`].
    pub(crate) async fn restore(self, tx: &mut PgConnection) -> Result<()> {
        use_build_memory(tx).await?;
        for statement in self.indexes.iter().chain(&self.foreign_keys) {
            sqlx::raw_sql(AssertSqlSafe(statement.as_str()))
                .execute(&mut *tx)
                .await?;
        }
        let (mut names, mut tables, mut definitions) = (Vec::new(), Vec::new(), Vec::new());
        for (name, table, definition) in self.deferred {
            names.push(name);
            tables.push(table);
            definitions.push(definition);
        }
        sqlx::query(
            "INSERT INTO deferred_indexes (name, table_name, definition) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&names)
        .bind(&tables)
        .bind(&definitions)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// How far [`build_deferred_indexes`] goes.
#[derive(Debug, Clone, Copy)]
pub enum BuildUntil<'a> {
    /// Until every index deferred before the call exists: an index that another caller is building
    /// is waited for (its row is locked), and built by this call should that build fail.
    AllBuilt,
    /// Until `stop` is set (or none is left): no build starts after that (one in progress is
    /// finished), and an index another caller is building is left to it. For building beside other
    /// work, as long as it lasts.
    Stopped(&'a AtomicBool),
}

/// Builds the indexes that bulk writes left in `deferred_indexes` (see the module's documentation),
/// on `connections` connections of `pool` at once, each index in its own transaction that removes its
/// row, as far as `until` says; returns how many this call built. The GIN indexes (the longest builds,
/// and those PostgreSQL builds without parallel workers) go first. A build waits for writers of its
/// table to commit (`CREATE INDEX` takes a `SHARE` lock; reads go on). An index that exists already
/// (made by hand under the same name) only has its row removed.
pub async fn build_deferred_indexes(
    pool: &PgPool,
    connections: usize,
    until: BuildUntil<'_>,
) -> Result<u64> {
    let builders = (0..connections.max(1)).map(|_| build_deferred_one_by_one(pool, until));
    Ok(futures::future::try_join_all(builders)
        .await?
        .into_iter()
        .sum())
}

/// One connection's share of [`build_deferred_indexes`]: the next index no one is building, else
/// (building them all) the next one someone is (once they are done with it, it is gone, unless their
/// build failed).
async fn build_deferred_one_by_one(pool: &PgPool, until: BuildUntil<'_>) -> Result<u64> {
    const NEXT: &str = "SELECT name, definition, to_regclass(name) IS NOT NULL FROM deferred_indexes \
                        ORDER BY definition LIKE '% USING gin %' DESC, deferred, name LIMIT 1 FOR UPDATE";
    let mut built = 0;
    loop {
        if let BuildUntil::Stopped(stop) = until
            && stop.load(Ordering::Acquire)
        {
            return Ok(built);
        }
        let mut tx = pool.begin().await?;
        let mut next: Option<(String, String, bool)> =
            sqlx::query_as(AssertSqlSafe(format!("{NEXT} SKIP LOCKED")))
                .fetch_optional(&mut *tx)
                .await?;
        if next.is_none() && matches!(until, BuildUntil::AllBuilt) {
            next = sqlx::query_as(NEXT).fetch_optional(&mut *tx).await?;
        }
        let Some((name, definition, exists)) = next else {
            tx.rollback().await?;
            if matches!(until, BuildUntil::Stopped(_)) {
                return Ok(built);
            }
            // None left, or the one waited for was built and another is being built (`LIMIT 1 FOR
            // UPDATE` returns no row when the row it waited for is deleted): wait for that one.
            let left: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deferred_indexes)")
                .fetch_one(pool)
                .await?;
            if left {
                continue;
            }
            return Ok(built);
        };
        if !exists {
            use_build_memory(&mut tx).await?;
            sqlx::raw_sql(AssertSqlSafe(definition))
                .execute(&mut *tx)
                .await?;
            built += 1;
        }
        sqlx::query("DELETE FROM deferred_indexes WHERE name = $1")
            .bind(&name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
}

/// Reserves `count` consecutive ids from the identity sequence of `table`'s `id` and returns the
/// block's offset, the first id less one (the k-th row written, from 1, gets `offset + k`):
/// one `nextval` and one `setval` instead of a `nextval` per inserted row (measured: 1.6 s of the 3.3 s
/// that numbering a million fresh records took with two calls per row). Only for a transaction that
/// holds `table` exclusively ([`lock`]): every other draw from the sequence is an insert into the
/// table, which waits for the lock, or a load's numbering of its fresh records (loads are serialised
/// by [`crate::locks::LOAD_RECORDS`]); so no other value is drawn in between, and ids still grow in
/// the order rows are written.
pub(crate) async fn reserve_id_block(
    tx: &mut PgConnection,
    table: &str,
    count: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT setval(s, nextval(s) + $2 - 1) - $2 \
         FROM (SELECT pg_get_serial_sequence($1, 'id')::regclass AS s) AS q",
    )
    .bind(table)
    .bind(count)
    .fetch_one(&mut *tx)
    .await?)
}
