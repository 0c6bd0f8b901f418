#!/usr/bin/env bash
# The test command (README, .ci/run): checks formatting and lints, then runs every test against a real
# PostgreSQL (started if needed) with a fresh database per test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
export IDEM_TEST_PYTHON=${IDEM_TEST_PYTHON:-$(scripts/test-venv.sh)}
export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
