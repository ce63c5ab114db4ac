"""The agent's exec server as a native program (`execserver.c`), built by the host's C compiler.

A bubblewrap episode starts one exec server in its jail, and CPython's start is most of what a
short episode costs: about 18 ms of CPU before the first command, where the native server needs
well under one. The program is built once per source and compiler into the user's cache and
read into memory once per arena process; each jail gets a copy through a file descriptor (so no
host path shows inside). Without a C compiler the Python server serves instead, with a warning.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("execserver.c")
JAIL_PATH = "/run/arena/exec-server"  # where a jail finds its copy
FLAGS = ("-O2", "-std=gnu11", "-Wall")
BUILD_TIMEOUT = 120.0


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "arena"


def compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


@functools.cache
def exec_server() -> bytes | None:
    """The built program, or None when it cannot be built here (`why_not()` says why)."""
    try:
        return _build()
    except (OSError, subprocess.SubprocessError, _BuildError):
        return None


def why_not() -> str:
    try:
        _build()
    except (OSError, subprocess.SubprocessError, _BuildError) as e:
        return str(e)
    return ""


class _BuildError(Exception):
    pass


def _build() -> bytes:
    cc = compiler()
    if cc is None:
        raise _BuildError("no C compiler (`apt-get install gcc libc6-dev`)")
    source = SOURCE.read_bytes()
    info = os.stat(shutil.which(cc) or cc)
    key = hashlib.sha256(source + json.dumps([cc, info.st_mtime_ns, info.st_size, FLAGS]).encode()).hexdigest()[:16]
    directory = cache_dir()
    path = directory / f"exec-server-{key}"
    if path.is_file():
        return path.read_bytes()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        built = Path(tmp) / "exec-server"
        done = subprocess.run([cc, *FLAGS, "-o", str(built), str(SOURCE)], capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT, cwd=tmp)  # fmt: skip
        if done.returncode != 0:
            raise _BuildError(f"{cc} cannot build {SOURCE.name}: {done.stderr.strip()[-500:]}")
        os.replace(built, path)  # whole or not at all, for processes building it at the same time
    return path.read_bytes()


def server_command(config: dict[str, Any]) -> tuple[list[str], bytes]:
    """How a jail starts its copy, and what to send it first: the config, whose length it is given."""
    data = json.dumps(config).encode()
    return [JAIL_PATH, str(len(data))], data
