#!/usr/bin/env bash
# Runs the whole test suite from a fresh checkout: sets up what it needs (scripts/setup.sh),
# checks style with ruff, then runs pytest. Docker and bubblewrap tests run too; with CI=true
# a missing engine or bwrap fails the suite instead of skipping.
#   scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "==> ruff"
.venv/bin/ruff check .
echo "==> pytest"
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=10 "$@"
