//! Integration tests of the HTTP API and the `idem` binary against a real PostgreSQL.
#![allow(
    unreachable_pub,
    missing_docs,
    reason = "a test binary: its items are not a public API"
)]

mod auth;
mod common;
mod events;
mod exports;
mod imports;
mod matches;
mod openapi;
mod person_edits;
mod persons;
mod plugins;
mod potential_matches;
mod review_fixture;
mod runs;
mod score;
mod users;
