#!/usr/bin/env bash
# Runs the whole test suite from a fresh checkout: sets up what it needs (scripts/setup.sh),
# checks style with ruff, then runs pytest. Docker, bubblewrap, Chromium, Ray and the real-model
# tests run too; with CI=true a missing part fails the suite instead of skipping.
#   scripts/test.sh [pytest args]
# A whole run (no arguments) starts the real-model check (a llama.cpp build the first time, then a
# few episodes against a real small model: minutes of one core) beside the suite, on the second
# core; its test waits for it and checks its output.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ $# -eq 0 ]; then
  real_log=$(mktemp -t arena-real-model.XXXXXX.log)
  ( status=0; scripts/real_model_check.sh >"$real_log" 2>&1 || status=$?; echo "real_model_check exit=$status" >>"$real_log" ) &
  real_pid=$!
  trap 'kill "$real_pid" 2>/dev/null || true' EXIT
  export ARENA_REAL_MODEL_LOG="$real_log"
fi
echo "==> ruff"
.venv/bin/ruff check .
echo "==> pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
