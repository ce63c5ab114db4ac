"""Native programs for bubblewrap jails, built by the host's C compiler: the agent's exec server
(`execserver.c`) and what starts a jail (`jailstart.c`).

A bubblewrap episode starts one jail and one exec server in it, and CPython's start was most of
what a short episode cost: about 18 ms of CPU before the first command, where the native server
needs well under one; the shell and `setpriv` that started each jail cost 4 ms more. Each program
is built once per source and compiler into the user's cache. The exec server is read into memory
once per arena process and each jail gets a copy through a file descriptor (so no host path shows
inside). Without a C compiler the Python server, a shell and `setpriv` serve instead, with a
warning.

Where musl's compiler wrapper is installed (Debian's `musl-tools`), both are linked statically
against musl: glibc's start (the dynamic loader, and its probe of the CPU's features and caches
through `cpuid`, an instruction that traps to the hypervisor on a virtual machine) took 1.2 ms of
CPU per program started there, a musl program 0.1 ms. `$CC` chooses another compiler.
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

HERE = Path(__file__).parent
JAIL_PATH = "/run/arena/exec-server"  # where a jail finds its copy of the exec server
FLAGS = ("-O2", "-std=gnu11", "-Wall")
BUILD_TIMEOUT = 120.0


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "arena"


def compiler() -> tuple[str, tuple[str, ...]] | None:
    """The C compiler and its flags: `$CC`, else musl's (static), else the system's."""
    if os.environ.get("CC"):
        return os.environ["CC"], FLAGS
    if shutil.which("musl-gcc"):
        return "musl-gcc", (*FLAGS, "-static")
    cc = shutil.which("cc") or shutil.which("gcc")
    return (cc, FLAGS) if cc else None


@functools.cache
def exec_server() -> bytes | None:
    """The exec server (`execserver.c`), or None when it cannot be built here (`why_not`)."""
    built = _outcome("execserver")
    return built.read_bytes() if isinstance(built, Path) else None


def jailstart() -> str | None:
    """The host program that starts a jail (`jailstart.c`), or None when it cannot be built here."""
    built = _outcome("jailstart")
    return str(built) if isinstance(built, Path) else None


def why_not(name: str = "execserver") -> str:
    """Why `name` cannot be built here ("" if it can)."""
    built = _outcome(name)
    return "" if isinstance(built, Path) else built


class _BuildError(Exception):
    pass


@functools.cache  # one build (or one failed try) per process
def _outcome(name: str) -> Path | str:
    """The built program's path, or what stopped its build."""
    try:
        return _build(name)
    except (OSError, subprocess.SubprocessError, _BuildError) as e:
        return str(e)


def _build(name: str) -> Path:
    """`name`.c built once per source and compiler into the cache: only this user may write there,
    since the arena runs what it finds (as root, in the case of jailstart)."""
    chosen = compiler()
    if chosen is None:
        raise _BuildError("no C compiler (`apt-get install gcc libc6-dev`, and `musl-tools` for faster starts)")
    cc, flags = chosen
    source = HERE / f"{name}.c"
    code = source.read_bytes()
    info = os.stat(shutil.which(cc) or cc)
    key = hashlib.sha256(code + json.dumps([cc, info.st_mtime_ns, info.st_size, flags]).encode()).hexdigest()[:16]
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _check_private(directory)
    path = directory / f"{name}-{key}"
    if path.is_file():
        _check_private(path)
        return path
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        built = Path(tmp) / name
        done = subprocess.run([cc, *flags, "-o", str(built), str(source)], capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT, cwd=tmp)  # fmt: skip
        if done.returncode != 0:
            raise _BuildError(f"{cc} cannot build {source.name}: {done.stderr.strip()[-500:]}")
        os.replace(built, path)  # whole or not at all, for processes building it at the same time
    return path


def _check_private(path: Path) -> None:
    info = path.stat()
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise _BuildError(f"{path} is writable by others than this user: remove it, or set XDG_CACHE_HOME")


def server_command(config: dict[str, Any]) -> tuple[list[str], bytes]:
    """How a jail starts its copy, and what to send it first: the config, whose length it is given."""
    data = json.dumps(config).encode()
    return [JAIL_PATH, str(len(data))], data
