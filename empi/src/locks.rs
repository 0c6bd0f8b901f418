//! Advisory locks shared by the match step of an import run and the manual edits of reviewers.
//!
//! A run's match step takes [`MATCH_UPDATE`] exclusively (`pg_advisory_xact_lock`, blocking) for the
//! transaction that regroups potential matches and moves records. Manual edits (match, split,
//! merge) take it shared and non-blocking (`pg_try_advisory_xact_lock_shared`): while a run holds or
//! waits for it they fail at once (the API answers 409), so an edit never deadlocks with a run and
//! never waits behind one. Edits do not exclude each other through it; their row locks (group,
//! then persons, then records, in id order) and versions do that.

/// The key of the match-update advisory lock (the reference's lock 300).
pub const MATCH_UPDATE: i64 = 300;

/// The key of the lock that serialises the load steps of import runs, so that two runs loading at once
/// never both create a record for the same content hash.
pub const LOAD_RECORDS: i64 = 310;
