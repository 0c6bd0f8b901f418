//! Integration tests of the HTTP API and the `idem` binary against a real PostgreSQL.
#![allow(
    unreachable_pub,
    missing_docs,
    reason = "a test binary: its items are not a public API"
)]

mod common;
mod imports;
mod plugins;
mod runs;
mod score;
