"""The Docker sandbox: one container per episode, from an image built locally (arena/images.py).

The container's main process is an exec server (arena/sandbox/execserver.py) running as the
container's root, with only the capabilities it needs (reading what the agent left, switching to
the agent's or the grader's uid, signalling their processes); the host talks to it over one
attach stream, so a command costs one round trip and no `docker exec`. Agent commands run as
`agent` (uid 1000) with no capabilities and no privilege escalation: the agent cannot signal,
trace or replace the server, and its `kill -9 -1` ends only its own processes.

No network, memory/CPU/process limits, a read-only root, a size-capped /dev/shm, and /work and
/tmp on a file system of the sandbox's own (a tmpfs or an ext4 image, capped in size and inodes:
`disk.py`) when the arena runs as root next to a local daemon. The server ends with the host's
connection: a dead arena leaves an exited container, which `arena.sandbox.gc` removes.

Docker SDK and HTTP errors become `SandboxError` here, in `translate`, and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import threading
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from arena.errors import SandboxError, WorldBroken
from arena.sandbox import SandboxConfig, disk, records
from arena.sandbox.channel import BOOTSTRAP, Channel, ChannelError, ChannelTimeout, docker_source, server_command
from arena.sandbox.served import (
    FILE_TIMEOUT,
    GRADING_BYTES,
    GRADING_DIR,
    ServedGradingView,
    ServedSandbox,
    max_reply,
    warn_once,
)

if TYPE_CHECKING:
    import docker

WORKDIR = "/work"
AGENT_IDS = (1000, 1000)
GRADER_IDS = (1002, 1002)
MANAGED_LABEL = "arena.managed"
OWNER_LABEL = "arena.owner"
API_TIMEOUT = 30.0  # one Docker API call (create, inspect, remove)
HOST_GRACE = 10.0  # how long past a command's timeout the host waits before blaming the daemon
START_TIMEOUT = 120.0
CAPS = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "KILL", "SETUID", "SETGID"]
T = TypeVar("T")


def connect(timeout: float = API_TIMEOUT) -> docker.DockerClient:
    """A client for the local Docker engine, or a `SandboxError` saying how to start one."""
    import docker

    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as e:
        raise translate(e) from e
    return client


def translate(e: BaseException, image: str | None = None) -> SandboxError:
    """The one place where Docker SDK and HTTP errors become `SandboxError`s with a fix."""
    import docker.errors
    import requests

    if isinstance(e, SandboxError):
        return e
    if isinstance(e, docker.errors.ImageNotFound):
        name = image or "the sandbox image"
        return SandboxError(
            f"Docker image {name} not found: build the images with `python scripts/build_images.py` "
            "(or `arena images build`)"
        )
    if isinstance(e, docker.errors.NotFound):
        return SandboxError(f"the sandbox container is gone (removed or died): {_explanation(e)}")
    if isinstance(e, docker.errors.APIError):
        return SandboxError(f"Docker engine error: {_explanation(e)}")
    text = str(e)
    if isinstance(e, requests.Timeout) or "timed out" in text.lower():
        return SandboxError(f"the Docker engine did not answer in time: {text}")
    unreachable = ("Connection refused", "No such file or directory", "Connection aborted", "FileNotFoundError")
    if isinstance(e, requests.ConnectionError | OSError) or any(s in text for s in unreachable):
        return SandboxError(
            f"cannot reach the Docker engine ({text}): start it with `systemctl start docker`, or "
            "`dockerd >/tmp/dockerd.log 2>&1 &` where there is no systemd; check DOCKER_HOST"
        )
    return SandboxError(f"Docker failed: {type(e).__name__}: {text}")


def _explanation(e: Any) -> str:
    return str(getattr(e, "explanation", None) or e)


def container_name(labels: dict[str, str]) -> str:
    """`arena-<episode>-<random>`: readable in `docker ps`, unique per attempt."""
    episode = re.sub(r"[^a-zA-Z0-9_.-]+", "-", labels.get("arena.episode", "")).strip("-.")[:40] or "sandbox"
    return f"arena-{episode}-{secrets.token_hex(4)}"


async def _in_thread(fn: Callable[[], T], orphan: Callable[[T], object] | None = None) -> T:
    """Run a blocking Docker call in a thread of its own. Not `asyncio.to_thread`: its shared pool
    has a handful of threads on a small machine, so concurrent calls would queue there while their
    timeouts run. A daemon thread also cannot keep a hung call from exiting Python.
    `orphan` disposes of a result that arrives after the caller gave up (a late container)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # the caller was cancelled or timed out meanwhile
            if orphan is not None and result is not None:
                threading.Thread(target=orphan, args=(result,), daemon=True).start()
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        try:
            result, error = fn(), None
        except BaseException as e:
            result, error = None, e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=target, name="arena-docker", daemon=True).start()
    return await future


async def _guard(work: Awaitable[T], seconds: float, what: str) -> T:
    """A host-side bound on a Docker call: a hung daemon becomes a `SandboxError`."""
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        raise SandboxError(f"the Docker engine did not finish {what} within {seconds:g}s") from None


def _daemon_address(client: docker.DockerClient) -> tuple[str, str | tuple[str, int]]:
    """Where the daemon listens, for the attach stream the arena opens itself."""
    base = str(client.api.base_url)
    if base.startswith("http+docker://"):
        return "unix", str(getattr(client.api._custom_adapter, "socket_path", "/var/run/docker.sock"))
    parsed = urllib.parse.urlparse(base)
    if parsed.scheme == "http" and parsed.hostname:
        return "tcp", (parsed.hostname, parsed.port or 2375)
    raise SandboxError(
        f"the Docker daemon at {base} needs TLS, which the sandbox's command channel does not speak; "
        "use a local daemon (unix socket) or an ssh tunnel to one"
    )


def _local_disks(config: SandboxConfig, client: docker.DockerClient) -> str | None:
    """None if this sandbox can have a disk of its own on the host, else why not."""
    if config.disk_mb == 0:
        return "disk_mb is 0"
    why = disk.available(config.disk)
    if why is None and _daemon_address(client)[0] != "unix":
        why = "the Docker daemon is not on this machine"
    return why


class DockerSandbox(ServedSandbox):
    """One container; commands, files and grading go down its exec server's attach stream."""

    workdir = WORKDIR

    def __init__(self, client: docker.DockerClient, container_id: str, name: str, config: SandboxConfig,
                 record: records.Record) -> None:  # fmt: skip
        self._client = client
        self.container_id = container_id
        self.name = name
        self.config = config
        self.record = record
        self.channel: Channel | None = None
        self._stderr = bytearray()
        self._preamble = b""  # the exec server's source and config, sent when attaching
        self._stopped: str | None = None
        self._closed = False

    @property
    def container(self) -> Any:
        return self._client.containers.get(self.container_id)

    # ------------------------------------------------------------------------------ start

    @classmethod
    async def start(cls, config: SandboxConfig, *, image: str, labels: dict[str, str]) -> DockerSandbox:
        creating = asyncio.ensure_future(_guard(
            _in_thread(lambda: cls._create_blocking(config, image, labels), orphan=DockerSandbox._discard),
            START_TIMEOUT,
            "creating a container",
        ))  # fmt: skip
        try:
            sandbox = await asyncio.shield(creating)
        except asyncio.CancelledError:  # a cancelled start leaves nothing behind: finish, then remove
            with contextlib.suppress(BaseException):
                await (await creating).close()
            raise
        try:
            await _guard(sandbox._start(), START_TIMEOUT, "starting a container")
        except BaseException:
            await asyncio.shield(sandbox.close())
            raise
        return sandbox

    def _discard(self) -> None:
        with contextlib.suppress(Exception):
            self._remove_blocking()
        self._client.close()

    @classmethod
    def _create_blocking(cls, config: SandboxConfig, image: str, labels: dict[str, str]) -> DockerSandbox:
        from docker.types import Mount, Ulimit

        client = connect()
        record = records.new_record("docker", labels)
        container_id = None
        try:
            why_not = _local_disks(config, client)
            mounts = []
            if why_not is None:
                record.update(mount=True)
                fs = disk.make(record.directory, config)
                for name, mode, owner in (("work", 0o755, AGENT_IDS), ("tmp", 0o1777, (0, 0))):
                    (fs / name).mkdir()
                    os.chown(fs / name, *owner)
                    (fs / name).chmod(mode)
                mounts = [Mount(f"/{name}", str(fs / name), type="bind") for name in ("work", "tmp")]
            elif config.disk_mb:
                warn_once(f"Docker sandboxes run without disk caps: {why_not}")
            fsize = config.file_size_mb * 1024 * 1024
            api = client.api
            host_config = api.create_host_config(
                network_mode="none",
                mem_limit=f"{config.memory_mb}m",
                memswap_limit=f"{config.memory_mb}m",  # equal: no swap on top
                nano_cpus=int(config.cpus * 1e9),
                pids_limit=config.pids,
                # CPU seconds are limited for the agent's processes only (its exec server sets them):
                # the container's own server lives as long as the container and must not run out.
                ulimits=[Ulimit(name="fsize", soft=fsize, hard=fsize)],
                cap_drop=["ALL"],
                cap_add=CAPS,
                security_opt=["no-new-privileges"],
                init=True,  # reaps orphans the agent leaves behind
                read_only=bool(mounts),  # writable: /work and /tmp (its own disk), /grading (a tmpfs)
                tmpfs={GRADING_DIR: f"size={GRADING_BYTES},mode=0711"},
                shm_size=config.shm_mb * 1024 * 1024,
                log_config={"type": "none"},  # the stream carries file contents and grading material
                mounts=mounts,
            )
            argv, preamble = server_command("python3", {
                "mode": "root",
                "workdir": WORKDIR,
                "users": {"agent": list(AGENT_IDS), "grader": list(GRADER_IDS)},
                "homes": {
                    "agent": {"HOME": WORKDIR, "USER": "agent", "LOGNAME": "agent"},
                    "grader": {"USER": "grader", "LOGNAME": "grader"},
                    "root": {"HOME": "/root", "USER": "root"},
                },
                "exit_pid1_on_eof": True,
                "delegate": {  # the agent's own exec server, for agent commands and files
                    "bootstrap": BOOTSTRAP,
                    "max_body": max_reply(config),
                    # With the image's environment (the container's), and the agent's limits.
                    "config": {"mode": "agent", "workdir": WORKDIR, "rlimits": {"cpu": config.cpu_seconds}},
                },
            })  # fmt: skip
            name = container_name(labels)
            container_id = api.create_container(
                image,
                command=argv,
                name=name,
                labels={**labels, MANAGED_LABEL: "1", OWNER_LABEL: records.owner()},
                user="0:0",
                working_dir="/",
                environment={"HOME": WORKDIR, "LANG": "C.UTF-8"},
                hostname="arena",
                detach=False,
                stdin_open=True,  # with detach=False: stdin closes when the attached client goes
                host_config=host_config,
            )["Id"]
            record.update(container=container_id)
        except BaseException as e:
            if container_id is not None:
                with contextlib.suppress(Exception):
                    client.api.remove_container(container_id, force=True)
            _cleanup_record(record)
            client.close()
            if isinstance(e, Exception):
                raise translate(e, image) from e
            raise
        sandbox = cls(client, container_id, name, config, record)
        sandbox._preamble = preamble
        return sandbox

    async def _start(self) -> None:
        kind, address = _daemon_address(self._client)
        try:
            if kind == "unix":
                reader, writer = await asyncio.open_unix_connection(str(address))
            else:
                host, port = address  # type: ignore[misc]
                reader, writer = await asyncio.open_connection(host, port)
            version = self._client.api.api_version
            path = f"/v{version}/containers/{self.container_id}/attach?stream=1&stdin=1&stdout=1&stderr=1"
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                "Content-Length: 0\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), API_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as e:
            raise translate(e) from e
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in status and " 200 " not in status:
            writer.close()
            raise SandboxError(f"Docker refused to attach to the sandbox container: {status}")
        self.channel = Channel(docker_source(reader, self._stderr), writer, preamble=self._preamble,
                               describe=self._server_stderr, max_body=max_reply(self.config))  # fmt: skip
        await _in_thread(self._start_blocking)
        try:
            hello = await self.channel.hello()
        except ChannelError as e:
            raise await self._broken(e) from e
        fs = self.record.directory / "fs" / "work"
        if self.record.data.get("mount") and hello.get("work_dev") != os.stat(fs).st_dev:
            raise SandboxError(
                "the Docker daemon does not see this machine's mounts (another mount namespace?): "
                "set disk_mb = 0 to run Docker sandboxes without disk caps"
            )

    def _start_blocking(self) -> None:
        try:
            self._client.api.start(self.container_id)
        except Exception as e:
            raise translate(e) from e

    def _server_stderr(self) -> str:
        return self._stderr.decode(errors="replace").strip()[-500:]

    def relabel(self, labels: dict[str, str]) -> None:
        """A warm sandbox handed to an episode takes that episode's labels (`Record.relabel`; a
        container's own labels cannot change)."""
        self.record.relabel(labels)

    # ------------------------------------------------------------------------------ commands

    async def _request(self, header: dict[str, Any], body: bytes, timeout: float) -> tuple[dict[str, Any], bytes]:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        assert self.channel is not None
        try:
            return await self.channel.call(header, body, timeout=timeout + HOST_GRACE)
        except ChannelError as e:
            raise await self._broken(e) from e

    async def _call(self, header: dict[str, Any], body: bytes, timeout: float) -> tuple[dict[str, Any], bytes] | None:
        if self._stopped:
            raise SandboxError(self._stopped)
        reply = await self._request({**header, "timeout": header.get("timeout", timeout)}, body, timeout)
        return None if reply[0].get("lost") else reply  # the agent killed or stopped its own exec server

    async def _broken(self, error: ChannelError) -> Exception:
        """What a dead or silent channel means: the agent's doing (its processes used up the
        memory and the kernel killed the container), or the arena's (the daemon, someone else)."""
        try:
            state = (await _guard(_in_thread(lambda: self._client.api.inspect_container(self.container_id)),
                                  API_TIMEOUT, "inspecting a container"))["State"]  # fmt: skip
        except SandboxError as e:
            return e
        except Exception as e:
            return translate(e)
        if state.get("OOMKilled"):
            return WorldBroken(
                f"the sandbox ran out of memory ({self.config.memory_mb} MB) and the kernel ended its "
                "container: the agent's processes used it all"
            )
        if state.get("Paused"):
            return SandboxError(f"the sandbox container {self.name} is paused (by someone outside the arena)")
        if isinstance(error, ChannelTimeout) and state.get("Running"):
            return SandboxError(f"the sandbox container {self.name} is not responding: {error}")
        if not state.get("Running"):
            return SandboxError(
                f"the sandbox container {self.name} exited (code {state.get('ExitCode')}"
                f"{', ' + state['Error'] if state.get('Error') else ''}): {error}"
            )
        return SandboxError(f"lost the sandbox container's command channel: {error}")

    # ------------------------------------------------------------------------------ grading

    @contextlib.asynccontextmanager
    async def grading(self, *, final: bool) -> AsyncIterator[ServedGradingView]:
        """Kill (final) or freeze every agent process, and hand graders a view as the container's root."""
        if final:
            await self._request({"op": "kill_uid", "role": "agent"}, b"", FILE_TIMEOUT)
            self._stopped = "the sandbox was graded: its agent processes are stopped for good"
        else:
            await self._request({"op": "freeze_uid", "role": "agent"}, b"", FILE_TIMEOUT)
        try:
            scratch = f"{GRADING_DIR}/{secrets.token_hex(8)}"
            header, _ = await self._request({"op": "mkdir", "path": scratch, "owner": "grader", "mode": 0o700},
                                            b"", FILE_TIMEOUT)  # fmt: skip
            if "errno" in header:
                raise SandboxError(f"cannot make the graders' scratch directory: {header.get('message')}")
            try:
                yield ServedGradingView(self._request, workdir=WORKDIR, scratch=scratch, config=self.config)
            finally:
                with contextlib.suppress(SandboxError, WorldBroken):  # nothing of this grading stays behind
                    await self._request({"op": "kill_uid", "role": "root"}, b"", FILE_TIMEOUT)
                    await self._request({"op": "rmtree", "path": scratch}, b"", FILE_TIMEOUT)
        finally:
            if not final:
                with contextlib.suppress(SandboxError, WorldBroken):
                    await self._request({"op": "thaw_uid", "role": "agent"}, b"", FILE_TIMEOUT)

    # ------------------------------------------------------------------------------ close

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.channel is not None:
            await self.channel.close()  # the exec server ends every agent process, then the container
        await self._finish_close(self._remove())

    async def _remove(self) -> None:
        try:
            await _guard(_in_thread(self._remove_blocking), API_TIMEOUT + 10, "removing a container")
        finally:
            self._client.close()

    def _remove_blocking(self) -> None:
        import docker.errors

        try:
            self._client.api.remove_container(self.container_id, force=True)
        except docker.errors.NotFound:
            pass
        except Exception as e:
            raise translate(e) from e
        finally:
            _cleanup_record(self.record)


def _cleanup_record(record: records.Record) -> None:
    if record.data.get("mount"):
        disk.unmount(record.directory)
    records.remove_tree(record.directory)


def remove_leftovers(run_id: str | None = None) -> int:
    """Remove what dead arena processes left (only one run's if `run_id` is given); returns how
    many containers went. Kept for `arena gc`; `arena.sandbox.gc.collect` does it all."""
    from arena.sandbox.gc import collect

    return collect(run_id)["containers"]
