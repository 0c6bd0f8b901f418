#!/usr/bin/env bash
# Quick start on a fresh machine: makes sure PostgreSQL runs, builds idem, creates and migrates its
# database, and matches a person-records CSV (default: the 40,000-record FEBRL sample next to this
# repository) with a Splink model, printing what it found.
#
#   scripts/quickstart.sh [CSV] [SETTINGS.json]
set -euo pipefail
cd "$(dirname "$0")/.."
csv=${1:-../shared/data/febrl/febrl_clean.csv}
settings=${2:-../shared/data/febrl/febrl_model.json}
out=target/quickstart
mkdir -p "$out"

scripts/ensure-postgres.sh
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/idem}
cargo build --release --locked -p idem-api
idem=target/release/idem

"$idem" migrate
"$idem" score "$csv" "$settings" --out "$out/pairs.csv" --explain

pairs=$(($(wc -l < "$out/pairs.csv") - 1))
auto=$(awk -F, 'NR > 1 && $4 > 0.95 { n++ } END { print n + 0 }' "$out/pairs.csv")
review=$(awk -F, 'NR > 1 && $4 > 0.5 && $4 <= 0.95 { n++ } END { print n + 0 }' "$out/pairs.csv")
cat <<MSG

Matched $csv with $settings:
  candidate pairs scored:              $pairs  ($out/pairs.csv, with per-comparison explain columns)
  pairs above 0.95 (auto-match):       $auto
  pairs in (0.5, 0.95] (for review):   $review

Next: start the API and workers with 'IDEM_AUTH=disabled $idem' (DATABASE_URL=$DATABASE_URL; a local try
without authentication: set IDEM_OIDC_ISSUER and IDEM_OIDC_AUDIENCE instead for real use), then
  curl -s http://127.0.0.1:8080/api/v1/health-check
  curl -s http://127.0.0.1:8080/api/v1/runs
MSG
