"""The bubblewrap sandbox: each command runs in a fresh bwrap jail over the host's system directories.

The jail sees the host's /usr and /etc read-only, its own writable /work and /tmp (host
directories private to the sandbox), its own /dev and /proc, and no network. All namespaces are
new; limits on CPU seconds, address space, processes and file size are set with `prlimit` inside
the jail. No process outlives one `exec`: when the command ends or times out, the jail's PID
namespace dies with everything in it. `cpus` is not enforced (that needs cgroups; use Docker).

RLIMIT_NPROC does not hold for host root, so when the arena runs as root each sandbox runs its
jails as its own unprivileged host uid (a private process budget); otherwise bwrap runs as the
calling user. File reads and writes run inside the jail too, so a symlink the agent planted
resolves inside the jail and cannot reach host files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from arena.errors import SandboxError
from arena.sandbox import SandboxConfig
from arena.sandbox.shell_files import OUTPUT_CAP, Capped, RawResult, ShellFileSandbox

WORKDIR = "/work"
KILL_GRACE = 5.0  # after SIGKILL, how long to wait for pipes to close before giving up on them
JAIL_UID = 1000  # the agent's uid inside the jail
HOST_UID_RANGE = (200_000, 2_000_000_000)  # host uids for jails when the arena runs as root
PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "agent:x:1000:1000:agent:/work:/bin/bash\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
GROUP = "root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

def _system_binds() -> list[str]:
    """Bind the host's system directories read-only, keeping merged-/usr symlinks as symlinks."""
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    return args


def _remove_tree(root: Path) -> None:
    def make_writable(func: object, path: str, exc: object) -> None:
        # The agent may have left read-only directories; without root we must open them up first.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)

    if sys.version_info >= (3, 12):
        shutil.rmtree(root, onexc=make_writable)
    else:
        shutil.rmtree(root, onerror=make_writable)


class BwrapSandbox(ShellFileSandbox):
    """A work directory on the host, and one bubblewrap jail per command over it."""

    workdir = WORKDIR
    _host_uids_in_use: ClassVar[set[int]] = set()  # distinct nproc budgets for live sandboxes

    def __init__(self, root: Path, config: SandboxConfig, host_uid: int | None) -> None:
        self.root = root
        self.config = config
        self.host_uid = host_uid
        self._procs: set[asyncio.subprocess.Process] = set()
        self._closed = False

    @classmethod
    async def start(cls, config: SandboxConfig, *, image: str, labels: dict[str, str]) -> BwrapSandbox:
        """Make the work directory and check that a jail starts. `image` is ignored: the jail
        uses the host's system directories."""
        missing = [tool for tool in ("bwrap", "prlimit", "setpriv") if shutil.which(tool) is None]
        if os.geteuid() != 0 and "setpriv" in missing:
            missing.remove("setpriv")
        if missing:
            raise SandboxError(
                f"cannot start a bwrap sandbox: {', '.join(missing)} not found; "
                "install them with `apt-get install bubblewrap util-linux` (or run scripts/setup.sh)"
            )
        root = Path(tempfile.mkdtemp(prefix="arena-bwrap-"))
        (root / "work").mkdir(mode=0o700)
        # /tmp lives on the host's disk beside /work, not in a tmpfs: it must last from one
        # command to the next, as in Docker, and must not fill the host's memory.
        (root / "tmp").mkdir()
        (root / "tmp").chmod(0o1777)
        # The host's user names mean nothing in the jail; the agent is `agent`, as in Docker.
        (root / "passwd").write_text(PASSWD)
        (root / "group").write_text(GROUP)
        host_uid = None
        if os.geteuid() == 0:
            host_uid = cls._allocate_uid()
            os.chown(root / "work", host_uid, host_uid)
            os.chown(root / "tmp", host_uid, host_uid)
        root.chmod(0o711)  # the jail's host uid must reach what is bound into the jail
        sandbox = cls(root, config, host_uid)
        try:
            raw = await sandbox._run(["true"], timeout=30.0, stdin=None, cap=OUTPUT_CAP)
            if raw.exit_code != 0:
                raise SandboxError(f"bwrap sandbox self-test failed: {raw.stderr.text().strip()}")
        except BaseException:
            await sandbox.close()
            raise
        return sandbox

    @classmethod
    def _allocate_uid(cls) -> int:
        # Random in a large range: distinct within this process, and unlikely to meet another
        # arena process's choice, so concurrent sandboxes never share a process budget.
        while True:
            uid = random.randrange(*HOST_UID_RANGE)
            if uid not in cls._host_uids_in_use:
                cls._host_uids_in_use.add(uid)
                return uid

    def _command(self, argv: list[str], marker_fd: int) -> list[str]:
        c = self.config
        prefix: list[str] = []
        if self.host_uid is not None:
            u = str(self.host_uid)
            prefix = ["setpriv", f"--reuid={u}", f"--regid={u}", "--clear-groups", "--inh-caps=-all"]
        jail = [
            "bwrap",
            *_system_binds(),
            "--ro-bind", str(self.root / "passwd"), "/etc/passwd",
            "--ro-bind", str(self.root / "group"), "/etc/group",
            "--bind", str(self.root / "work"), WORKDIR,
            "--chdir", WORKDIR,
            "--bind", str(self.root / "tmp"), "/tmp",
            "--dev", "/dev",
            "--proc", "/proc",
            "--unshare-all",
            "--unshare-user",  # --unshare-all only tries; we insist
            "--disable-userns",  # no nested namespaces for the agent to play with
            "--hostname", "arena",
            "--die-with-parent",
            "--new-session",
            "--uid", str(JAIL_UID),
            "--gid", str(JAIL_UID),
            "--clearenv",
            "--setenv", "PATH", PATH,
            "--setenv", "LANG", "C.UTF-8",
            "--setenv", "HOME", WORKDIR,
            "--setenv", "USER", "agent",
            "--",
        ]  # fmt: skip
        limits = [
            "prlimit",
            f"--cpu={c.cpu_seconds}",
            f"--as={c.memory_mb * 1024 * 1024}",
            f"--nproc={c.pids}",
            f"--fsize={c.file_size_mb * 1024 * 1024}",
            "--",
        ]
        # The marker proves the jail and its limits are in place: without it, a failure is
        # bwrap's (infrastructure), not the command's. The fd is closed before the command runs.
        # bash, not sh: dash cannot redirect file descriptors above 9.
        marker = f'printf started >&{marker_fd} && exec {marker_fd}>&- && exec "$@"'
        return [*prefix, *jail, *limits, "bash", "-c", marker, "sh", *argv]

    async def _run(self, argv: list[str], *, timeout: float, stdin: bytes | None, cap: int) -> RawResult:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        started = time.monotonic()
        marker_r, marker_w = os.pipe()
        try:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self._command(argv, marker_w),
                    stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    start_new_session=True,  # its own process group: a timeout kills the whole tree
                    pass_fds=(marker_w,),
                )
            except OSError as e:
                raise SandboxError(f"cannot run bwrap: {e}; install bubblewrap (`apt-get install bubblewrap`)") from e
            finally:
                os.close(marker_w)
            self._procs.add(proc)
            try:
                out, err, timed_out = await self._communicate(proc, timeout, stdin, cap)
            finally:
                self._procs.discard(proc)
            os.set_blocking(marker_r, False)
            try:
                jailed = os.read(marker_r, 16) == b"started"
            except BlockingIOError:
                jailed = False
        finally:
            os.close(marker_r)
        code = proc.returncode if proc.returncode is not None else -signal.SIGKILL
        if not jailed and not self._closed:
            if timed_out:
                raise SandboxError(f"the bwrap jail did not start within {timeout:g}s")
            raise SandboxError(_explain_failure(err.text().strip(), code))
        return RawResult(
            exit_code=128 - code if code < 0 else code,  # killed by a signal: the shell's 128+n
            stdout=out,
            stderr=err,
            timed_out=timed_out,
            seconds=time.monotonic() - started,
        )

    async def _communicate(
        self, proc: asyncio.subprocess.Process, timeout: float, stdin: bytes | None, cap: int
    ) -> tuple[Capped, Capped, bool]:
        out, err = Capped(cap), Capped(cap)

        async def pump(stream: asyncio.StreamReader | None, sink: Capped) -> None:
            assert stream is not None
            while chunk := await stream.read(65536):
                sink.add(chunk)

        async def feed() -> None:
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin or b"")
                await proc.stdin.drain()
                proc.stdin.close()

        tasks = [asyncio.ensure_future(pump(proc.stdout, out)), asyncio.ensure_future(pump(proc.stderr, err))]
        if stdin is not None:
            tasks.append(asyncio.ensure_future(feed()))
        everything = asyncio.gather(*tasks, proc.wait())
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.shield(everything), timeout)
        except TimeoutError:
            timed_out = True
        except asyncio.CancelledError:
            self._kill(proc)
            raise
        if timed_out:
            self._kill(proc)
            # PID-namespace init death kills the rest; pipes close once they are gone.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(everything), KILL_GRACE)
            everything.cancel()  # a pipe still open after the grace: stop reading, keep what came
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(proc.wait(), KILL_GRACE)
        return out, err, timed_out

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for proc in list(self._procs):
            self._kill(proc)
        await asyncio.to_thread(_remove_tree, self.root)
        if self.host_uid is not None:
            self._host_uids_in_use.discard(self.host_uid)


def _explain_failure(stderr: str, code: int) -> str:
    message = f"bwrap could not start the sandbox (exit {code}): {stderr or 'no message'}"
    lowered = stderr.lower()
    if "namespace" in lowered or "operation not permitted" in lowered or "permission" in lowered:
        message += (
            "; unprivileged user namespaces seem to be disabled: enable them with "
            "`sysctl -w kernel.unprivileged_userns_clone=1` and `sysctl -w user.max_user_namespaces=10000` "
            "(inside a container, run it with --privileged or a seccomp profile that allows unshare), "
            "or use --sandbox docker"
        )
    elif "prlimit" in lowered:
        message += "; the resource limits could not be set: lower them in the sandbox config"
    return message
