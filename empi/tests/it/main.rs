//! Integration tests of the EMPI store against a real PostgreSQL (a fresh database per test).
#![allow(
    unreachable_pub,
    missing_docs,
    reason = "a test binary: its items are not a public API"
)]

mod bulk;
mod common;
mod configs;
mod hash;
mod pagination;
mod schema;
mod users;
