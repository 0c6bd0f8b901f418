//! The EMPI domain of idem and its PostgreSQL store.
//!
//! This crate owns what a person index *is*: source records and the persons they belong to,
//! potential matches, the events and actions that change identities, configs and users. Its store
//! functions run raw SQL over the schema of `migrations/sql/20261129110000_empi.sql`; queries with
//! a join live in `src/queries/<area>/<name>.sql`.
//!
//! * [`content_hash`]: the unambiguous dedup hash of a record's 15 source fields (the same bytes as
//!   the SQL function `record_content_hash`).
//! * Public ids (`p_<uuid>`, `pr_N`, `pm_N`, `cfg_N`, `job_N`, `u_N`, `prre_N`): [`PersonId`],
//!   [`PersonRecordId`], ... with their parsing rules ([`IdError`]).
//! * Store functions: configs ([`insert_config`], [`list_configs`], [`get_config`]) and
//!   [`data_sources`], users ([`upsert_user`], [`user_for_login`], [`list_users`], [`set_user_role`],
//!   [`bootstrap_admin`]); the review reads: persons ([`list_persons`], [`get_person`]), potential
//!   matches ([`list_potential_matches`], [`get_potential_match`]) and the audit trail
//!   ([`list_events`], [`person_history`]).
//! * Manual identity edits, each one audited transaction: [`match_person_records`] (a potential
//!   match), [`split_person`] and [`merge_persons`] (outside potential matches), failing with
//!   [`EditError`].
//! * Exports with public ids ([`export_rows`]) and their jobs ([`insert_export_job`]).

mod bulk;
mod configs;
mod edits;
mod error;
mod events;
mod exports;
mod hash;
mod ids;
mod import;
mod jobs;
pub mod locks;
mod matches;
mod person_edits;
mod persons;
mod potential_matches;
mod records;
mod regroup;
mod search;
mod users;

pub use bulk::{BuildUntil, build_deferred_indexes};
pub use configs::{Config, NewConfig, count_configs, get_config, insert_config, list_configs};
pub use edits::{CONCURRENT_RUN_MESSAGE, Comment, EditError, EditResult};
pub use error::{Error, Result};
pub use events::{
    EVENT_TYPES, EventFilter, EventSummary, HistoryEntry, MatchEvent, Performer, PersonAction,
    list_events, person_history,
};
pub use exports::{
    ExportJob, ExportKind, ExportRow, count_potential_match_pairs, export_rows, finish_export_job,
    get_export_job, insert_export_job,
};
pub use hash::{CONTENT_HASH_VERSION, ContentHash, RECORD_FIELDS, content_hash};
pub use ids::{
    ConfigId, IdError, IdErrorReason, IdKind, JobId, PersonId, PersonRecordId, PotentialMatchId,
    PredictionResultId, UserId, strip_known_prefix,
};
pub use import::{LoadOutcome, load_staged_records};
pub use jobs::{
    Job, JobCounts, finish_import_job, get_job, insert_import_job, job_of_run, set_job_plugins,
    set_job_run, set_job_source,
};
pub use matches::{
    ManualMatch, MatchOutcome, PersonUpdate, match_person_records, validate_updates,
};
pub use person_edits::{
    EditedPerson, Merge, MergeOutcome, Split, SplitOutcome, VersionedPerson, merge_persons,
    split_person,
};
pub use persons::{Person, PersonRecord, PersonSummary, get_person, list_persons};
pub use potential_matches::{
    GroupPerson, PotentialMatch, PotentialMatchSummary, PredictionResult, get_potential_match,
    list_potential_matches,
};
pub use records::data_sources;
pub use regroup::{
    CrosswalkPerson as RegroupPerson, CurrentResult, Pair, RecordMove, RegroupOutcome, Regrouping,
    StagedResults, Touched, apply_regrouping, job_matched, lock_for_bulk_regrouping,
    lock_match_update, staged_results, touched,
};
pub use search::{Page, RecordFilter};
pub use users::{
    AdminTarget, Bootstrap, Role, SetRole, User, bootstrap_admin, list_users, set_user_role,
    upsert_user, user_for_login,
};
