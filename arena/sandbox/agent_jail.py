"""A jail for external agent programs (`command:` agents).

The program sees the host's /usr and an allow-list of /etc read-only, its own program file and
the paths it was given (`readable`) read-only, a private writable HOME and /tmp (small tmpfs
mounts), its own /proc, and nothing else: not the arena's store, code or grading material, not
other episodes, not the host's environment (only `env`). The network is cut unless `network` is
set (then it shares the host's, to reach a model endpoint). As root, it runs as an unprivileged
host uid of its own. Every process it starts lives in the jail's PID namespace, so `kill_all()`
(and the arena's death) ends them all, `setsid` children included.

    process = await start_jailed(["python3", "/path/to/agent.py"], cwd=None, env={"PATH": ...},
                                 network=False, readable=["/path/to/agent.py"])
    process.stdin.write(...); await process.stdout.readline(); ...; await process.kill_all()
"""

from __future__ import annotations

import os
import random
import shutil
import stat
from collections.abc import Sequence

from arena.errors import SandboxError
from arena.sandbox import jail

HOME = "/home/agent"
TMPFS_BYTES = 256 * 1024 * 1024  # each of HOME and /tmp
JAIL_UID = 1000
HOST_UID_RANGE = (200_000, 2_000_000_000)
SYSTEM_ROOTS = ("/usr", "/etc", *jail.MERGED_USR)
NETWORK_ETC = ("/etc/resolv.conf", "/etc/hosts")  # name resolution, when the program may use the network
MAX_COPIED = 64 * 1024 * 1024  # a readable file the jail's uid cannot reach is copied in, up to this


class JailedProcess:
    """An agent program in its jail: the pipes of `asyncio.subprocess.Process`, and `kill_all()`."""

    def __init__(self, started: jail.Jail) -> None:
        self._jail = started
        self.process = started.process
        self.stdin = started.process.stdin
        self.stdout = started.process.stdout
        self.stderr = started.process.stderr
        self.pid = started.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self) -> int:
        return await self.process.wait()

    def kill(self) -> None:
        self._jail.kill()

    async def kill_all(self) -> None:
        """End every process the program started, and the jail."""
        self._jail.kill()
        await self._jail.wait()


def _resolve_program(argv: list[str], env: dict[str, str], cwd: str | None) -> str:
    program = argv[0]
    if "/" not in program:
        found = shutil.which(program, path=env.get("PATH") or jail.SYSTEM_PATH)
        if found is None:
            raise SandboxError(f"cannot start the agent program: {program!r} not found on its PATH")
        return found
    return os.path.abspath(os.path.join(cwd or os.getcwd(), program))


def _open_to_others(path: str) -> bool:
    """Whether any user can reach and read `path` (so the jail's own host uid can bind it)."""
    current = path
    while True:
        info = os.stat(current)
        need = stat.S_IXOTH if current != path else (stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(info.st_mode) else 0))
        if info.st_mode & need != need:
            return False
        if current == "/":
            return True
        current = os.path.dirname(current)


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


async def start_jailed(
    argv: list[str],
    *,
    cwd: str | None,
    env: dict[str, str],
    network: bool,
    readable: Sequence[str],
    hidden: Sequence[str] = (),
) -> JailedProcess:
    """Start `argv` in a jail of its own with pipes on stdin, stdout and stderr. `readable` are
    host paths the program may read (bound read-only at the same paths); `hidden` are paths to
    mask even if they lie under a readable one (the store, say)."""
    if not argv:
        raise SandboxError("cannot start the agent program: an empty command")
    missing = jail.tools_missing(False)
    if missing:
        raise SandboxError(
            f"cannot jail the agent program: {', '.join(missing)} not found (`apt-get install bubblewrap`)"
        )
    program = _resolve_program(argv, env, cwd)
    paths = [os.path.realpath(p) for p in readable]
    real_program = os.path.realpath(program)
    if not _under(real_program, SYSTEM_ROOTS):
        paths.append(real_program)
    as_root = os.geteuid() == 0
    binds: list[str] = []
    copies: dict[str, bytes] = {}
    for path in dict.fromkeys(paths):
        if not os.path.exists(path):
            raise SandboxError(f"cannot jail the agent program: {path} (to be readable) does not exist")
        if not as_root or _open_to_others(path):
            binds += ["--ro-bind", path, path]
        elif os.path.isfile(path) and os.path.getsize(path) <= MAX_COPIED:
            with open(path, "rb") as f:  # the jail's uid cannot walk there: it gets a copy
                copies[path] = f.read()
        else:
            raise SandboxError(
                f"cannot jail the agent program: {path} is not readable by other users (the jail runs as "
                "an unprivileged uid of its own); make it readable (chmod o+rX) or trust the agent explicitly"
            )
    options = [
        *jail.system_options(),
        # The private HOME and /tmp first: readable paths may lie under /tmp, and must stay visible.
        "--perms", "0700", "--size", str(TMPFS_BYTES), "--tmpfs", HOME,
        "--perms", "1777", "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
        *binds,
        *jail.mask_options([*SYSTEM_ROOTS, *paths]),
        *[arg for path in hidden if os.path.exists(path) for arg in ("--tmpfs", os.path.realpath(path))],
        "--dev", "/dev",
        "--proc", "/proc",
        "--unshare-all", "--unshare-user", "--disable-userns",
        *(["--share-net", "--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"] if network else []),
        "--hostname", "arena-agent",
        "--die-with-parent",
        "--new-session",
        "--uid", str(JAIL_UID), "--gid", str(JAIL_UID),
    ]  # fmt: skip
    if cwd is not None:
        options += ["--dir", cwd, "--chdir", cwd]
    else:
        options += ["--chdir", HOME]
    options += ["--remount-ro", "/", "--clearenv"]
    for key, value in {"PATH": jail.SYSTEM_PATH, **env, "HOME": HOME}.items():
        options += ["--setenv", key, value]
    files = {
        **copies,
        "/etc/passwd": f"root:x:0:0:root:/root:/bin/sh\nagent:x:{JAIL_UID}:{JAIL_UID}:agent:{HOME}:/bin/sh\n".encode(),
        "/etc/group": f"root:x:0:\nagent:x:{JAIL_UID}:\n".encode(),
    }
    if not network:
        files["/etc/hosts"] = b"127.0.0.1\tlocalhost arena-agent\n::1\tlocalhost\n"
    uid = random.randrange(*HOST_UID_RANGE) if os.geteuid() == 0 else None
    started = await jail.spawn(options, [program, *argv[1:]], files=files, uid=uid)
    return JailedProcess(started)
