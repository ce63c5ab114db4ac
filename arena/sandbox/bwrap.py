"""The bubblewrap sandbox: one jail per episode over the host's system directories, with an exec
server inside it that runs each command.

The agent's jail sees the host's /usr read-only, an allow-list of /etc, its own /work and /tmp,
its own /dev (with a size-capped /dev/shm) and /proc, and no network; every namespace is new.
Nothing of the arena shows inside: bwrap gets a clean environment and its options through a file
descriptor, and /work and /tmp are a file system of the sandbox's own (a tmpfs or an ext4 image,
capped in size and inodes: `disk.py`), not host directories.

As root, each sandbox has its own unprivileged host uid for the agent and another for graders,
and a cgroup that bounds the memory (tmpfs included), processes and CPU of everything the agent
runs; without a usable cgroup, limits fall back to per-process rlimits (with a warning). Without
root there are no disk caps and graders share the agent's host uid.

Background processes live until the episode ends. If the agent kills, stops or scribbles over its
exec server, only its own jail dies: the command in flight comes back as an error, a new jail
starts over the same files, and grading never uses that channel: `grading()` stops (or freezes)
the agent's jail and runs graders in a jail of their own, as root, over the same files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from arena.errors import SandboxError, WorldBroken
from arena.sandbox import SandboxConfig, cgroups, disk, jail, native, records
from arena.sandbox.channel import Channel, ChannelError, compiled_server, server_command, stream_source
from arena.sandbox.served import (
    FILE_TIMEOUT,
    GRADING_BYTES,
    GRADING_DIR,
    ServedGradingView,
    ServedSandbox,
    max_reply,
    warn_once,
)

WORKDIR = "/work"
JAIL_UID = 1000  # the agent's uid inside its jail
HOST_UID_RANGE = (200_000, 2_000_000_000)  # host uids for jails when the arena runs as root
PYTHON = "/usr/bin/python3"  # the host's, run inside the jail
MAX_RESTARTS = 50  # of the agent's channel in one episode: past this the agent's world is broken
GRADER_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_KILL", "CAP_SETUID", "CAP_SETGID",
)  # fmt: skip
STDERR_KEEP = 8192
def _passwd(agent: int, grader: int) -> bytes:
    return (
        "root:x:0:0:root:/root:/bin/sh\n"
        f"agent:x:{agent}:{agent}:agent:{WORKDIR}:/bin/bash\n"
        f"grader:x:{grader}:{grader}:grader:{GRADING_DIR}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    ).encode()


def _group(agent: int, grader: int) -> bytes:
    return f"root:x:0:\nagent:x:{agent}:\ngrader:x:{grader}:\nnogroup:x:65534:\n".encode()


HOSTS = b"127.0.0.1\tlocalhost arena\n::1\tlocalhost ip6-localhost ip6-loopback\n"
BASE_ENV = {"PATH": jail.SYSTEM_PATH, "LANG": "C.UTF-8"}


@dataclass
class _Served:
    """A running jail and the channel to its exec server."""

    jail: jail.Jail
    channel: Channel
    stderr: bytearray
    pump: asyncio.Task[None]
    group: cgroups.Cgroup | None

    def kill(self) -> None:
        self.jail.kill()

    async def close(self) -> None:
        self.jail.kill()
        await self.channel.close()
        if self.jail.init_pid is None and self.group is not None:
            # Killed before bwrap named the jail's init: bwrap's inner half may be running without
            # its parent (it sets its parent-death signal only after it is forked), holding the
            # jail's pipes. Its cgroup reaches it.
            await asyncio.to_thread(self.group.kill)
        await self.jail.wait()
        self.pump.cancel()


class BwrapSandbox(ServedSandbox):
    """A sandbox of its own on the host (a directory, a file system, cgroups) and one jail in it."""

    workdir = WORKDIR
    lost_note = "; its jail went with it, and the agent's background processes are gone"
    _host_uids_in_use: ClassVar[set[int]] = set()

    def __init__(self, config: SandboxConfig, record: records.Record, fs: Path, uids: tuple[int, int] | None,
                 groups: tuple[cgroups.Cgroup, cgroups.Cgroup] | None, etc: Path | None = None) -> None:  # fmt: skip
        self.config = config
        self.etc = etc  # the jails' /etc as one tmpfs, holding the agent jail's files (`etc_view`)
        self.record = record
        self.root = record.directory
        self.fs = fs  # host path of the sandbox's file system: work/ and tmp/
        self.host_uid = uids[0] if uids else None
        self.grader_uid = uids[1] if uids else None
        self.cgroups = groups
        self._agent: _Served | None = None
        self._grader: _Served | None = None
        self._lock = asyncio.Lock()
        self._grader_group_made: asyncio.Future[None] | None = None
        self._restarts = 0
        self._stopped: str | None = None  # why agent commands can no longer run
        self._agent_gone: asyncio.Future[None] | None = None  # once stopped: every agent process has ended
        self._closed = False

    # ------------------------------------------------------------------------------ start

    @classmethod
    async def start(cls, config: SandboxConfig, *, image: str, labels: dict[str, str]) -> BwrapSandbox:
        """Make the sandbox's host side and start its jail. `image` is ignored: the jail uses the
        host's system directories."""
        preparing = asyncio.ensure_future(asyncio.to_thread(cls._prepare, config, labels))
        try:
            sandbox = await asyncio.shield(preparing)
        except asyncio.CancelledError:  # a cancelled start leaves nothing behind: finish, then remove
            with contextlib.suppress(BaseException):
                await (await preparing).close()
            raise
        try:
            await sandbox._start_agent()
        except BaseException:
            await sandbox.close()
            raise
        return sandbox

    @classmethod
    def _prepare(cls, config: SandboxConfig, labels: dict[str, str]) -> BwrapSandbox:
        root = os.geteuid() == 0
        missing = jail.tools_missing(root)
        if missing:
            raise SandboxError(
                f"cannot start a bwrap sandbox: {', '.join(missing)} not found; "
                "install them with `apt-get install bubblewrap util-linux` (or run scripts/setup.sh)"
            )
        if not os.access(PYTHON, os.X_OK):
            raise SandboxError(f"cannot start a bwrap sandbox: {PYTHON} not found (`apt-get install python3`)")
        compiled_server(PYTHON)  # made once, here in a thread rather than in the event loop
        if native.exec_server() is None or (root and native.jailstart() is None):  # likewise
            why = native.why_not() or native.why_not("jailstart")
            warn_once(f"bwrap jails start slower (a Python exec server, a shell and setpriv): {why}")
        etc = jail.etc(cls._files(JAIL_UID, JAIL_UID + 1))  # likewise
        mount = cls._can_mount(config)
        # What is about to be made, written down first (one write), for `gc` after a crash.
        name = records.new_name("bwrap")
        cgroup_names = [f"{name}.agent", f"{name}.grader"]
        record = records.new_record("bwrap", labels, name=name, mount=mount, cgroups=cgroup_names)
        sandbox: BwrapSandbox | None = None
        try:
            uids = (cls._allocate_uid(), cls._allocate_uid()) if root else None
            fs = cls._make_fs(config, record, mount)
            groups = cls._make_cgroups(config, record)
            sandbox = cls(config, record, fs, uids, groups, etc)
            sandbox._make_dirs()
        except BaseException:
            if sandbox is None:
                cls._cleanup(record, None)
            else:
                sandbox._cleanup_blocking()
            raise
        return sandbox

    @staticmethod
    def _can_mount(config: SandboxConfig) -> bool:
        if config.disk_mb <= 0:
            return False
        why_not = disk.available(config.disk)
        if why_not is not None:
            warn_once(f"bwrap sandboxes run without disk caps: {why_not}")
        return why_not is None

    @staticmethod
    def _make_fs(config: SandboxConfig, record: records.Record, mount: bool) -> Path:
        if mount:
            return disk.make(record.directory, config)
        fs = record.directory / "fs"
        fs.mkdir()
        return fs

    @staticmethod
    def _make_cgroups(config: SandboxConfig, record: records.Record) -> tuple[cgroups.Cgroup, cgroups.Cgroup] | None:
        """The agent's cgroup, made now, and the graders', made by the first grading that starts a
        jail (`_grader_group`): most families grade from the episode's state alone."""
        agent, grader = record.data["cgroups"]
        try:
            made = cgroups.create(agent, **_limits(config))
        except cgroups.CgroupError as e:
            record.update(cgroups=[])
            warn_once(
                f"bwrap sandboxes bound memory per process (RLIMIT_AS) and do not enforce cpus: {e}"
            )
            return None
        return made, cgroups.Cgroup(grader, made.layout)

    def _make_dirs(self) -> None:
        fs = self.fs
        for name, mode in (("work", 0o755), ("tmp", 0o1777)):
            (fs / name).mkdir(exist_ok=True)
            (fs / name).chmod(mode)
        if self.host_uid is not None:
            os.chown(fs / "work", self.host_uid, self.host_uid)
        fs.chmod(0o711)  # the jail's host uid must reach what is bound into the jail

    @classmethod
    def _allocate_uid(cls) -> int:
        # Random in a large range: distinct within this process, and unlikely to meet another
        # arena process's choice, so concurrent sandboxes never share a process budget.
        while True:
            uid = random.randrange(*HOST_UID_RANGE)
            if uid not in cls._host_uids_in_use:
                cls._host_uids_in_use.add(uid)
                return uid

    def relabel(self, labels: dict[str, str]) -> None:
        """A warm sandbox handed to an episode takes that episode's labels (`Record.relabel`)."""
        self.record.relabel(labels)

    # ------------------------------------------------------------------------------ jails

    def _rlimits(self) -> dict[str, int]:
        c = self.config
        limits = {"cpu": c.cpu_seconds, "fsize": c.file_size_mb * 1024 * 1024}
        if self.cgroups is None:
            limits["as"] = c.memory_mb * 1024 * 1024
            limits["nproc"] = c.pids
        return limits

    def _agent_options(self) -> list[str]:
        return [
            *jail.system_options(self.etc),
            *jail.mask_options(["/usr", "/etc", *jail.MERGED_USR]),
            "--bind", str(self.fs / "work"), WORKDIR,
            "--bind", str(self.fs / "tmp"), "/tmp",
            "--dev", "/dev",
            "--perms", "1777", "--size", str(self.config.shm_mb * 1024 * 1024), "--tmpfs", "/dev/shm",
            "--proc", "/proc",
            "--unshare-all",
            "--unshare-user",  # --unshare-all only tries; we insist
            "--disable-userns",  # no nested namespaces for the agent to play with
            "--hostname", "arena",
            "--die-with-parent",
            "--new-session",
            "--uid", str(JAIL_UID),
            "--gid", str(JAIL_UID),
            "--remount-ro", "/",
            "--chdir", "/",
            "--clearenv",
            *[arg for key, value in BASE_ENV.items() for arg in ("--setenv", key, value)],
        ]  # fmt: skip

    def _grader_options(self) -> list[str]:
        identity: list[str]
        if self.host_uid is not None:  # real root, with just the capabilities grading needs
            identity = [arg for cap in GRADER_CAPS for arg in ("--cap-add", cap)]
        else:  # root of a user namespace that maps the calling user, who owns every file here
            identity = ["--unshare-user", "--uid", "0", "--gid", "0", "--cap-add", "ALL"]
        return [
            *jail.system_options(self.etc),
            *jail.mask_options(["/usr", "/etc", *jail.MERGED_USR]),
            "--bind", str(self.fs / "work"), WORKDIR,
            "--bind", str(self.fs / "tmp"), "/tmp",
            "--perms", "0711", "--size", str(GRADING_BYTES), "--tmpfs", GRADING_DIR,
            "--dev", "/dev",
            "--proc", "/proc",
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            *identity,
            "--hostname", "arena",
            "--die-with-parent",
            "--new-session",
            "--remount-ro", "/",
            "--chdir", "/",
            "--clearenv",
            *[arg for key, value in BASE_ENV.items() for arg in ("--setenv", key, value)],
        ]  # fmt: skip

    @staticmethod
    def _files(agent: int, grader: int) -> dict[str, bytes]:
        """What the jail's /etc gets of its own (the host's user names mean nothing inside)."""
        return {
            "/etc/passwd": _passwd(agent, grader),
            "/etc/group": _group(agent, grader),
            "/etc/hosts": HOSTS,
            "/etc/hostname": b"arena\n",
        }

    def _files_over_etc(self, agent: int, grader: int) -> dict[str, bytes]:
        """Of `_files`, those the /etc view does not already hold."""
        files = self._files(agent, grader)
        if self.etc is None:
            return files
        held = self._files(JAIL_UID, JAIL_UID + 1)
        return {path: content for path, content in files.items() if held.get(path) != content}

    async def _launch(self, options: list[str], config: dict[str, Any], files: dict[str, bytes],
                      uid: int | None, group: cgroups.Cgroup | None) -> _Served:  # fmt: skip
        program = native.exec_server() if config["mode"] == "agent" else None
        if program is not None:  # the agent's jail: the native server, which starts in a fraction of the time
            argv, preamble = native.server_command(config)
        else:
            argv, preamble = server_command(PYTHON, config, compiled=True)
        started = await jail.spawn(
            options,
            argv,
            files=files,
            programs={native.JAIL_PATH: program} if program is not None else None,
            uid=uid,
            cgroup_procs=group.procs_files if group is not None else (),
        )
        stderr = bytearray()
        assert started.process.stdout is not None and started.process.stdin is not None

        async def pump() -> None:
            assert started.process.stderr is not None
            while chunk := await started.process.stderr.read(65536):
                stderr.extend(chunk)
                del stderr[:-STDERR_KEEP]

        channel = Channel(
            stream_source(started.process.stdout),
            started.process.stdin,
            preamble=preamble,
            describe=lambda: stderr.decode(errors="replace").strip()[-500:],
            max_body=max_reply(self.config),
        )
        served = _Served(started, channel, stderr, asyncio.ensure_future(pump()), group)
        try:
            await served.channel.hello()
        except ChannelError as e:
            await served.close()
            await asyncio.sleep(0)  # let the pump take bwrap's last words
            code = started.process.returncode
            said = stderr.decode(errors="replace").strip()
            if code == jail.CGROUP_JOIN_FAILED:
                raise SandboxError(f"the bwrap jail could not join its cgroup: {said}") from e
            raise SandboxError(_explain_failure(said or str(e), code)) from e
        except BaseException:  # cancelled (a pool drained mid-start): the jail goes now, not later
            served.kill()
            await asyncio.shield(served.close())
            raise
        return served

    async def _start_agent(self) -> None:
        config = {
            "mode": "agent",
            "workdir": WORKDIR,
            "env": {**BASE_ENV, "HOME": WORKDIR, "USER": "agent", "LOGNAME": "agent"},
            "rlimits": self._rlimits(),
        }
        self._agent = await self._launch(
            self._agent_options(), config, self._files_over_etc(JAIL_UID, JAIL_UID + 1), self.host_uid,
            self.cgroups[0] if self.cgroups else None,
        )

    async def _grader_served(self) -> _Served:
        if self._grader is not None and self._grader.channel.closed is None:
            return self._grader
        if self._grader is not None:
            await self._grader.close()
        if self.host_uid is not None and self.grader_uid is not None:
            agent, grader = self.host_uid, self.grader_uid
            users = {"agent": [agent, agent], "grader": [grader, grader]}
        else:  # one host uid for everyone: it is root of the grading jail's user namespace
            agent, grader, users = 0, 0, {}
        config = {
            "mode": "root",
            "workdir": WORKDIR,
            "users": users,
            "env": BASE_ENV,
            "homes": {"root": {"HOME": "/root", "USER": "root"}, "grader": {"USER": "grader"}},
            "rlimits": {"fsize": self.config.file_size_mb * 1024 * 1024},
        }
        self._grader = await self._launch(
            self._grader_options(), config, self._files_over_etc(agent, grader), None, await self._grader_group()
        )
        return self._grader

    async def _grader_group(self) -> cgroups.Cgroup | None:
        if self.cgroups is None:
            return None
        group = self.cgroups[1]
        if self._grader_group_made is None:

            def make() -> None:
                try:
                    cgroups.setup(group, **_limits(self.config))
                except cgroups.CgroupError as e:
                    raise SandboxError(str(e)) from e

            self._grader_group_made = asyncio.ensure_future(asyncio.to_thread(make))
        await asyncio.shield(self._grader_group_made)
        return group

    # ------------------------------------------------------------------------------ commands

    async def _call(self, header: dict[str, Any], body: bytes, timeout: float) -> tuple[dict[str, Any], bytes] | None:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        if self._stopped:
            raise SandboxError(self._stopped)
        served = self._agent
        if served is None:
            async with self._lock:
                if self._agent is None:
                    await self._start_agent()
                served = self._agent
        assert served is not None
        try:
            return await served.channel.call(header, body, timeout=timeout)
        except ChannelError:
            await self._lost(served)
            return None

    async def _lost(self, served: _Served) -> None:
        """The agent's exec server died or hung: its jail goes, a new one starts on the same files."""
        async with self._lock:
            if self._agent is not served or self._closed or self._stopped:
                return
            self._agent = None
            await served.close()
            if self.cgroups is not None:
                await asyncio.to_thread(self.cgroups[0].kill)
            self._restarts += 1
            if self._restarts > MAX_RESTARTS:
                self._stopped = f"the agent killed its command channel more than {MAX_RESTARTS} times"
                raise WorldBroken(self._stopped)
            await self._start_agent()

    # ------------------------------------------------------------------------------ grading

    @contextlib.asynccontextmanager
    async def grading(self, *, final: bool) -> AsyncIterator[ServedGradingView]:
        """Stop (final) or freeze every agent process, and hand graders a view as root."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        frozen = False
        if final:
            await self._stop_agent("the sandbox was graded: its agent processes are stopped for good")
        else:
            frozen = await self._freeze()
        # The grading jail starts on the first call through the view: a family that grades from
        # the episode's state alone (an answer, a transcript) never pays for it.
        served: _Served | None = None
        scratch = f"{GRADING_DIR}/{secrets.token_hex(8)}"
        starting = asyncio.Lock()

        async def call(header: dict[str, Any], body: bytes, timeout: float) -> tuple[dict[str, Any], bytes]:
            nonlocal served
            async with starting:
                if served is None:
                    if self._agent_gone is not None:  # graders see the files only once the agent is gone
                        await asyncio.shield(self._agent_gone)
                    grader = await self._grader_served()
                    mkdir = {"op": "mkdir", "path": scratch, "owner": "grader", "mode": 0o700}
                    made, _ = await _grader_call(grader, mkdir, b"", FILE_TIMEOUT)
                    if "errno" in made:
                        raise SandboxError(f"cannot make the graders' scratch directory: {made.get('message')}")
                    served = grader
            return await _grader_call(served, header, body, timeout)

        try:
            yield ServedGradingView(call, workdir=WORKDIR, scratch=scratch, config=self.config)
        finally:
            try:
                if served is not None:
                    with contextlib.suppress(SandboxError):  # nothing of this grading stays behind
                        await _grader_call(served, {"op": "kill_uid", "role": "root"}, b"", FILE_TIMEOUT)
                        await _grader_call(served, {"op": "rmtree", "path": scratch}, b"", FILE_TIMEOUT)
            finally:
                if frozen:
                    await self._thaw()

    async def _stop_agent(self, why: str) -> None:
        """Kill the agent's jail and stop its commands for good. Waiting for its processes to end
        is `_agent_gone`: what reads the sandbox (a grading jail, closing) waits for it, and a
        grading from the episode's state alone need not."""
        async with self._lock:
            self._stopped = why
            served, self._agent = self._agent, None
            if served is not None:
                served.kill()
            self._agent_gone = asyncio.ensure_future(self._reap_agent(served, self._agent_gone))

    async def _reap_agent(self, served: _Served | None, before: asyncio.Future[None] | None) -> None:
        if before is not None:
            await before
        if served is not None:
            await served.close()
        # Usually the jail took every process with it, and there is nothing left to kill.
        if self.cgroups is not None and not (served is not None and served.jail.emptied):
            await asyncio.to_thread(self.cgroups[0].kill)

    async def _freeze(self) -> bool:
        if self._agent is None:
            return False
        if self.cgroups is not None and self.cgroups[0].can_freeze:
            return await asyncio.to_thread(self.cgroups[0].freeze)
        namespace = self._agent.jail.info.result().get("pid-namespace") if self._agent.jail.init_pid else None
        if namespace is None:
            return False
        await asyncio.to_thread(_signal_namespace, int(namespace), signal.SIGSTOP, True)
        return True

    async def _thaw(self) -> None:
        if self.cgroups is not None and self.cgroups[0].can_freeze:
            await asyncio.to_thread(self.cgroups[0].thaw)
        elif self._agent is not None and self._agent.jail.init_pid:
            namespace = self._agent.jail.info.result().get("pid-namespace")
            await asyncio.to_thread(_signal_namespace, int(namespace), signal.SIGCONT, False)

    # ------------------------------------------------------------------------------ close

    async def close(self) -> None:
        """Kill the jails at once; waiting for them and removing the host side may go to the
        pool's background (`defer_cleanup`)."""
        if self._closed:
            return
        self._closed = True
        jails = [served for served in (self._agent, self._grader) if served is not None]
        for served in jails:
            served.kill()
        self._agent = self._grader = None
        await self._finish_close(self._remove(jails))

    async def _remove(self, jails: list[_Served]) -> None:
        for served in jails:
            await served.close()
        for pending in (self._agent_gone, self._grader_group_made):  # to the end, before what they use goes
            if pending is not None:
                with contextlib.suppress(BaseException):
                    await pending
        await asyncio.to_thread(self._cleanup_blocking)

    def _cleanup_blocking(self) -> None:
        self._cleanup(self.record, self.cgroups)
        for uid in (self.host_uid, self.grader_uid):
            self._host_uids_in_use.discard(uid)  # type: ignore[arg-type]

    @staticmethod
    def _cleanup(record: records.Record, groups: tuple[cgroups.Cgroup, ...] | None) -> None:
        for group in groups or ():
            group.remove()
        if record.data.get("mount"):
            disk.unmount(record.directory)
        records.remove_tree(record.directory)


def _limits(config: SandboxConfig) -> dict[str, Any]:
    return {"memory_bytes": config.memory_mb * 1024 * 1024, "pids": config.pids, "cpus": config.cpus}


async def _grader_call(
    served: _Served, header: dict[str, Any], body: bytes, timeout: float
) -> tuple[dict[str, Any], bytes]:
    try:
        return await served.channel.call(header, body, timeout=timeout)
    except ChannelError as e:
        raise SandboxError(f"the bwrap grading jail failed: {e}") from e


def _signal_namespace(namespace: int, sig: int, until_stopped: bool) -> None:
    """Signal every process in a PID namespace but its init (without a cgroup, this is freezing)."""
    for _ in range(50 if until_stopped else 1):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}/ns/pid").st_ino != namespace:
                    continue
                status = Path(f"/proc/{entry}/status").read_text()
                if "\nNSpid:" in status and status.split("\nNSpid:")[1].split("\n")[0].split()[-1] == "1":
                    continue  # the jail's init: stopping it would stop nothing more
                state = status.split("\nState:")[1].split()[0]
                if until_stopped and state in ("T", "t", "Z", "X"):
                    continue
                found = True
                os.kill(int(entry), sig)
        if not found:
            return
        time.sleep(0.002)


def _explain_failure(stderr: str, code: int | None) -> str:
    message = f"bwrap could not start the sandbox (exit {code}): {stderr or 'no message'}"
    lowered = stderr.lower()
    if "namespace" in lowered or "operation not permitted" in lowered or "permission" in lowered:
        message += (
            "; unprivileged user namespaces seem to be disabled: enable them with "
            "`sysctl -w kernel.unprivileged_userns_clone=1` and `sysctl -w user.max_user_namespaces=10000` "
            "(inside a container, run it with --privileged or a seccomp profile that allows unshare), "
            "or use --sandbox docker"
        )
    return message
