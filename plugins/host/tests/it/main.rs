//! Integration tests of the plugin host against the example plugins, built by the tests.
#![allow(
    unreachable_pub,
    missing_docs,
    reason = "a test binary: its items are not a public API"
)]

mod calls;
mod common;
mod load;
mod scoring;
