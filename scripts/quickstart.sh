#!/usr/bin/env bash
# Quick start on a fresh machine: makes sure PostgreSQL runs, builds idem, and runs its main job end to
# end: `idem demo` generates a synthetic person-records CSV (10,000 rows with realistic duplicates),
# imports and matches it as a durable run (progress per step), and prints what it found. With a CSV
# and a Splink settings file it imports and matches those instead.
#
#   scripts/quickstart.sh                      # idem demo
#   scripts/quickstart.sh CSV SETTINGS.json    # idem import CSV --config SETTINGS.json --wait
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-postgres.sh
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/idem}
cargo build --release --locked -p idem-api --bin idem
idem=target/release/idem

if [ $# -ge 2 ]; then
  "$idem" migrate
  "$idem" import "$1" --config "$2" --wait
else
  "$idem" demo --dir target/idem-demo
fi
