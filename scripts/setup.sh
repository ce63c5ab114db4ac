#!/usr/bin/env bash
# Sets up Autonomy Arena on a Debian machine: Debian packages (bubblewrap, Docker, debootstrap,
# Python tools used inside sandboxes), the Docker daemon, a virtual environment in .venv, and the
# sandbox images (built locally from a debootstrap rootfs; no registry needed).
# Safe to run again: each step is skipped when already done.
#   scripts/setup.sh [--no-images]
set -euo pipefail
cd "$(dirname "$0")/.."

images=1
for arg in "$@"; do
  case "$arg" in
    --no-images) images=0 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# chromium: the HTML report's tests open it headless (Playwright drives Debian's build; none is downloaded).
# mount, e2fsprogs: the sandboxes' own capped file systems.
# gcc, libc6-dev: build bwrap jails' native programs (arena/sandbox/execserver.c, jailstart.c);
# musl-tools: link them statically against musl, which starts ten times faster than glibc here.
packages=(bubblewrap docker.io debootstrap python3 python3-venv python3-pytest util-linux procps chromium mount
          e2fsprogs gcc libc6-dev musl-tools)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  say "starting the Docker daemon"
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    as_root systemctl start docker
  else
    as_root sh -c 'nohup dockerd >/var/log/arena-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/arena-dockerd.log" >&2; exit 1; }
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($python --version)"
  $python -m venv .venv
fi
if ! .venv/bin/python -c "import arena, pytest, mcp, playwright" 2>/dev/null || [ pyproject.toml -nt .venv/.installed ]; then
  say "installing the arena into .venv"
  # pip's own chatter goes to a log, shown only when the install fails.
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e '.[dev,ray]'; } \
      >.venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    echo "installing into .venv failed (log above, also in .venv/pip.log)" >&2
    exit 1
  fi
  touch .venv/.installed
fi

if [ "$images" = 1 ]; then
  say "building sandbox images (skipped when up to date)"
  .venv/bin/arena images
fi
say "ready: .venv/bin/arena --help"
