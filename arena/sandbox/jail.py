"""Starting bubblewrap jails so that nothing of the arena shows inside them.

- bwrap gets its options through `--args FD` and a clean environment: the jail's PID 1 is bwrap
  itself, and its /proc/1/cmdline and /proc/1/environ are readable from inside.
- Files made for the jail (passwd, group, hosts) come in through `--ro-bind-data`, not as bind
  mounts of host files, whose host paths /proc/self/mountinfo would show.
- Of the host's /etc only an allow-list of what programs need is bound (as root, copied once into
  a tmpfs that each jail binds whole: `etc_view`); the arena's own code is masked wherever it lies
  under a bound path.
- As root, the jail runs as an unprivileged host uid of its own and joins its cgroups before
  bwrap starts, so every process in it is counted from the first (`jailstart.c`; without a C
  compiler, a shell and `setpriv`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import json
import os
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from arena.errors import SandboxError
from arena.processes import start_process, which
from arena.sandbox import etc_view, native

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MERGED_USR = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
# What programs read from /etc: the dynamic linker, alternatives (awk, editor, ...), name service
# switch, time zone, TLS roots, shells' and Python's system config, MIME and magic databases.
ETC_ALLOW = (
    "alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "localtime",
    "timezone", "ssl", "ca-certificates", "ca-certificates.conf", "pki", "crypto-policies",
    "python3*", "bash.bashrc", "profile", "inputrc", "magic", "magic.mime", "mime.types", "mailcap",
    "protocols", "services", "gai.conf", "host.conf", "debian_version", "os-release", "lsb-release",
    "terminfo", "shells", "perl", "gitconfig", "xml",
)  # fmt: skip
ETC_HIDE = ("/etc/ssl/private",)  # inside an allowed directory, but not for anyone's eyes
JOIN_CGROUPS = 'unset PWD OLDPWD; while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift; exec "$@"'
CGROUP_JOIN_FAILED = 125
INFO_TIMEOUT = 30.0


def tools_missing(root_needs: bool) -> list[str]:
    needed = ["bwrap"] + (["setpriv"] if root_needs else [])
    return [tool for tool in needed if which(tool) is None]


def system_options(etc: Path | None = None) -> list[str]:
    """The host's /usr read-only (keeping merged-/usr symlinks as symlinks) and the /etc allow-list:
    bound entry by entry, or as one read-only bind of `etc` (an `etc_view`)."""
    if etc is not None:
        return [*_usr_options(), "--ro-bind", str(etc), "/etc"]
    return [*_usr_options(), *_etc_options()]


@functools.cache  # looked up once per process, not once per jail
def _usr_options() -> tuple[str, ...]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in MERGED_USR:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    return tuple(args)


@functools.cache
def _etc_options() -> tuple[str, ...]:
    args = ["--dir", "/etc"]
    for path in etc_view.allowed_entries(ETC_ALLOW):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--ro-bind", path, path]
    for path in ETC_HIDE:
        if os.path.isdir(path):
            args += ["--tmpfs", path]
    return tuple(args)


def etc(files: dict[str, bytes]) -> Path | None:
    """The /etc view with `files` written in it, for `system_options` (None: bind entry by entry)."""
    return etc_view.view(etc_view.allowed_entries(ETC_ALLOW), ETC_HIDE, files)


def arena_code_dirs() -> list[str]:
    """Where the arena's own code lives: its packages, and the checkout they came from."""
    return list(_arena_code_dirs())


@functools.cache
def _arena_code_dirs() -> tuple[str, ...]:
    dirs: set[str] = set()
    for name in ("arena", "arena.environments", "arena.agents"):
        with contextlib.suppress(ImportError, ValueError):
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.submodule_search_locations:
                dirs |= {os.path.realpath(p) for p in spec.submodule_search_locations}
    checkouts = {os.path.dirname(d) for d in dirs if os.path.exists(os.path.join(os.path.dirname(d), "pyproject.toml"))}
    return tuple(sorted(dirs | checkouts))


def mask_options(bound: Iterable[str], keep: Sequence[str] = ()) -> list[str]:
    """Empty tmpfs over the arena's code wherever it lies under a bound path (an install under
    /usr/local, a checkout under a readable path), except paths in `keep`."""
    return list(_mask_options(tuple(bound), tuple(keep), tuple(arena_code_dirs())))


@functools.cache  # the same for every jail of a kind: resolving the paths was a visible share of a start
def _mask_options(bound: tuple[str, ...], keep: tuple[str, ...], code_dirs: tuple[str, ...]) -> tuple[str, ...]:
    args = []
    roots = [os.path.realpath(p) for p in bound]
    for code in code_dirs:
        under = any(code == r or code.startswith(r.rstrip("/") + "/") for r in roots)
        kept = any(k == code or k.startswith(code + "/") for k in keep)
        if under and not kept:
            args += ["--tmpfs", code]
    return tuple(args)


def _tool(name: str) -> str:
    """The program's path, or its bare name if it is not on PATH."""
    return which(name) or name


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)  # no MFD_CLOEXEC: the child inherits it through pass_fds
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@dataclass
class Jail:
    """A running bwrap: `process` is bwrap on the host, `init_pid` the jail's PID 1 (host pid)."""

    process: asyncio.subprocess.Process
    info: asyncio.Future[dict]
    _bwrap_killed: bool = False

    @property
    def init_pid(self) -> int | None:
        if self.info.done() and not self.info.cancelled() and self.info.exception() is None:
            pid = self.info.result().get("child-pid")
            return int(pid) if pid else None
        return None

    def kill(self) -> None:
        """End every process in the jail: PID 1 of a PID namespace takes all the others with it.
        bwrap on the host follows once they are gone; before PID 1 is known, bwrap is killed."""
        if self.process.returncode is not None:  # all gone, and PID 1's number may be another's now
            return
        if self.init_pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.init_pid, signal.SIGKILL)
        else:
            self._kill_bwrap()

    def _kill_bwrap(self) -> None:
        self._bwrap_killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.process.pid, signal.SIGKILL)

    async def wait(self, timeout: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self._kill_bwrap()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 1.0)
        self.info.cancel()

    @property
    def emptied(self) -> bool:
        """Whether every process of the jail is gone: bwrap exited by itself, which it does only
        after its PID 1, and PID 1 of a PID namespace exits only once all the others have. A bwrap
        ended by a signal (ours, or the OOM killer's in the jail's cgroup) proves nothing."""
        code = self.process.returncode
        return self.init_pid is not None and code is not None and code >= 0 and not self._bwrap_killed


async def spawn(
    options: list[str],
    command: list[str],
    *,
    files: dict[str, bytes] | None = None,
    programs: dict[str, bytes] | None = None,
    uid: int | None = None,
    cgroup_procs: Sequence[Path] = (),
    stdin: int = asyncio.subprocess.PIPE,
    stdout: int = asyncio.subprocess.PIPE,
    stderr: int = asyncio.subprocess.PIPE,
    pass_fds: Sequence[int] = (),
) -> Jail:
    """Start `bwrap OPTIONS -- COMMAND` with the options, and `files` (jail path -> content) and
    `programs` (likewise, executable), passed through file descriptors; as host uid `uid` if
    given; inside `cgroup_procs`."""
    fds: list[int] = []
    info_r, info_w = os.pipe()
    try:
        data_args: list[str] = []
        for perms, given in (("0644", files), ("0555", programs)):
            for dest, content in (given or {}).items():
                fd = _memfd("arena-file", content)
                fds.append(fd)
                data_args += ["--perms", perms, "--ro-bind-data", str(fd), dest]
        # The files go after every other mount (a tmpfs mounted later would hide them), but before
        # `--remount-ro /`, after which nothing can be made.
        at = next((i for i in range(len(options) - 1) if options[i : i + 2] == ["--remount-ro", "/"]), len(options))
        all_options = [*options[:at], *data_args, *options[at:], "--info-fd", str(info_w)]
        args_fd = _memfd("arena-args", b"".join(a.encode() + b"\0" for a in all_options))
        fds.append(args_fd)
        argv = [_tool("bwrap"), "--args", str(args_fd), "--", *command]
        start = native.jailstart() if uid is not None or cgroup_procs else None
        if start is not None:
            joins = [arg for procs in cgroup_procs for arg in ("--cgroup", str(procs))]
            argv = [start, *joins, *(["--uid", str(uid)] if uid is not None else []), "--", *argv]
        else:  # no C compiler: the same, by a shell and setpriv
            if uid is not None:
                argv = [_tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                        *argv]  # fmt: skip
            if cgroup_procs:
                argv = ["/bin/sh", "-c", JOIN_CGROUPS, "sh", *map(str, cgroup_procs), "--", *argv]
        try:
            process = await start_process(
                *argv,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env={"PATH": SYSTEM_PATH},  # bwrap is the jail's PID 1: its environment shows inside
                pass_fds=(*fds, info_w, *pass_fds),
                cwd="/",
                start_new_session=True,  # Ctrl-C reaches the arena, which closes its sandboxes itself
            )
        except OSError as e:
            raise SandboxError(f"cannot run bwrap: {e}; install bubblewrap (`apt-get install bubblewrap`)") from e
    finally:
        for fd in (*fds, info_w):
            os.close(fd)
    loop = asyncio.get_running_loop()
    info: asyncio.Future[dict] = loop.create_future()
    reader = asyncio.StreamReader()
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(info_r, "rb", buffering=0)
        )
    except BaseException:  # cancelled: no jail may outlive its start
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise

    async def read_info() -> None:
        try:
            raw = await asyncio.wait_for(reader.read(), INFO_TIMEOUT)
            if not info.done():
                info.set_result(json.loads(raw) if raw.strip() else {})
        except Exception as e:
            if not info.done():
                info.set_exception(e)
                info.exception()
        finally:
            transport.close()

    task = asyncio.ensure_future(read_info())
    info.add_done_callback(lambda _: task.cancel() if not task.done() else None)
    return Jail(process, info)
