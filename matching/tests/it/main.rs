//! Integration tests of idem-matching: parity with Splink 4.0.9's output, settings validation,
//! and the `score_csv` entry point.

mod common;
mod parity;
mod score_csv;
mod validation;
