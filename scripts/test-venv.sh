#!/usr/bin/env bash
# Creates (once) the Python venv the tests use to run ../shared/bench/score.py, and prints its python.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${IDEM_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/idem-test-venv}
if ! "$venv/bin/python" -c 'import numpy, pandas, scipy, moto' >/dev/null 2>&1; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q -r "$here/requirements-test.txt" >&2
fi
echo "$venv/bin/python"
