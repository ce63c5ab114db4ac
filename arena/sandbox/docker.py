"""The Docker sandbox: one container per episode, from an image built locally (arena/images.py).

The container has no network, memory/CPU/process limits, no capabilities and no privilege
escalation. Its main process runs as `keeper` (uid 1001) and agent commands as `agent` (uid 1000),
so an agent's `kill -9 -1` cannot stop the container. File reads and writes run as the agent too,
with the agent's permissions, exactly as in the bwrap sandbox.

Docker SDK and HTTP errors become `SandboxError` here, in `translate`, and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from arena.errors import SandboxError
from arena.sandbox import SandboxConfig
from arena.sandbox.shell_files import Capped, RawResult, ShellFileSandbox

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

WORKDIR = "/work"
AGENT_USER = "1000:1000"
KEEPER_USER = "1001:1001"
MANAGED_LABEL = "arena.managed"
API_TIMEOUT = 30.0  # one Docker API call (create, inspect, remove)
HOST_GRACE = 10.0  # how long past a command's timeout the host waits before blaming the daemon
START_TIMEOUT = 120.0
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
    if isinstance(e, requests.ConnectionError) or any(s in text for s in unreachable):
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
    has a handful of threads on a small machine, so concurrent long commands would queue there
    while their timeouts run. A daemon thread also cannot keep a hung call from exiting Python.
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


class DockerSandbox(ShellFileSandbox):
    """One long-lived container; each `exec` is a `docker exec` as the agent user."""

    workdir = WORKDIR

    def __init__(self, client: docker.DockerClient, container: Container, config: SandboxConfig) -> None:
        self._client = client
        self.container = container
        self.config = config
        self._closed = False

    @property
    def name(self) -> str:
        return str(self.container.name)

    @classmethod
    async def start(cls, config: SandboxConfig, *, image: str, labels: dict[str, str]) -> DockerSandbox:
        return await _guard(
            _in_thread(lambda: cls._start_blocking(config, image, labels), orphan=DockerSandbox._discard),
            START_TIMEOUT,
            "starting a container",
        )

    def _discard(self) -> None:
        with contextlib.suppress(Exception):
            self._remove_blocking()
        self._client.close()

    @classmethod
    def _start_blocking(cls, config: SandboxConfig, image: str, labels: dict[str, str]) -> DockerSandbox:
        from docker.types import Ulimit

        client = connect()
        container = None
        try:
            fsize = config.file_size_mb * 1024 * 1024
            container = client.containers.create(
                image,
                command=["sleep", "infinity"],
                name=container_name(labels),
                labels={**labels, MANAGED_LABEL: "1"},
                user=KEEPER_USER,  # not the agent's uid: its `kill -9 -1` must not end the container
                working_dir=WORKDIR,
                environment={"HOME": WORKDIR, "LANG": "C.UTF-8"},
                hostname="arena",
                network_mode="none",
                mem_limit=f"{config.memory_mb}m",
                memswap_limit=f"{config.memory_mb}m",  # equal: no swap on top
                nano_cpus=int(config.cpus * 1e9),
                pids_limit=config.pids,
                ulimits=[
                    Ulimit(name="fsize", soft=fsize, hard=fsize),
                    Ulimit(name="cpu", soft=config.cpu_seconds, hard=config.cpu_seconds),
                ],
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                init=True,  # reaps orphans the agent leaves behind
            )
            container.start()
            container.reload()
            if container.status != "running":
                logs = container.logs(tail=20).decode(errors="replace")
                raise SandboxError(f"sandbox container {container.name} exited at start: {logs}")
        except BaseException as e:
            if container is not None:
                with contextlib.suppress(Exception):
                    container.remove(force=True)
            client.close()
            if isinstance(e, Exception):
                raise translate(e, image) from e
            raise
        return cls(client, container, config)

    async def _run(self, argv: list[str], *, timeout: float, stdin: bytes | None, cap: int) -> RawResult:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        call = _ExecCall(self._client, str(self.container.id), argv, timeout, stdin, cap)
        try:
            # The thread has its own deadline; this one only catches a daemon that stops answering.
            return await _guard(_in_thread(call.run), timeout + HOST_GRACE + API_TIMEOUT, "a command")
        except SandboxError:
            call.abort()
            raise
        except asyncio.CancelledError:
            call.abort()
            raise

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await _guard(_in_thread(self._remove_blocking), API_TIMEOUT + 10, "removing a container")
        finally:
            self._client.close()

    def _remove_blocking(self) -> None:
        import docker.errors

        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except Exception as e:
            raise translate(e) from e


class _ExecCall:
    """One `docker exec` over a raw hijacked connection: stdin is streamed in, stdout and stderr
    are read frame by frame into capped buffers, all under one deadline."""

    def __init__(
        self, client: docker.DockerClient, container_id: str, argv: list[str], timeout: float,
        stdin: bytes | None, cap: int,
    ) -> None:  # fmt: skip
        self.client = client
        self.container_id = container_id
        self.argv = argv
        self.timeout = timeout
        self.stdin = stdin
        self.cap = cap
        self._sock: socket.socket | None = None

    def abort(self) -> None:
        # Unblocks the reading thread when the host side gives up on it.
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> RawResult:
        try:
            return self._run()
        except SandboxError:
            raise
        except Exception as e:
            raise translate(e) from e

    def _run(self) -> RawResult:
        api = self.client.api
        started = time.monotonic()
        # The in-container `timeout` kills the command's whole process group; KILL cannot be caught.
        wrapped = ["timeout", "-s", "KILL", f"{self.timeout:.3f}", *self.argv]
        exec_id = api.exec_create(
            self.container_id, wrapped, stdin=self.stdin is not None, user=AGENT_USER, workdir=WORKDIR
        )["Id"]
        # What `exec_start(socket=True)` does, but keeping the buffered reader: output that arrived
        # with the HTTP headers sits in its buffer and would be lost reading the bare socket.
        response = api._post_json(
            api._url("/exec/{0}/start", exec_id),
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            data={"Tty": False, "Detach": False},
            stream=True,
        )
        api._raise_for_status(response)
        reader = response.raw._fp.fp
        self._sock = reader.raw._sock
        out, err = Capped(self.cap), Capped(self.cap)
        deadline = started + self.timeout + HOST_GRACE
        try:
            if self.stdin is not None:
                threading.Thread(target=self._feed, args=(self._sock, self.stdin), daemon=True).start()
            finished = self._read_frames(reader, deadline, out, err)
        finally:
            response.close()
            with contextlib.suppress(OSError):
                self._sock.close()
        code = self._exit_code(exec_id)
        if code is None:
            if finished:
                raise SandboxError("docker exec ended without an exit code")
            raise SandboxError(
                f"a command outlived its {self.timeout:g}s timeout by {HOST_GRACE:g}s inside the container; "
                "the Docker engine or the container is not responding"
            )
        seconds = time.monotonic() - started
        # 137 is SIGKILL: ours when the timeout has passed; otherwise the OOM killer or the agent's own.
        timed_out = code == 137 and seconds >= self.timeout
        return RawResult(exit_code=code, stdout=out, stderr=err, timed_out=timed_out, seconds=seconds)

    @staticmethod
    def _feed(sock: socket.socket, data: bytes) -> None:
        # Half-closing the connection closes the command's stdin.
        with contextlib.suppress(OSError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)

    def _read_frames(self, reader: Any, deadline: float, out: Capped, err: Capped) -> bool:
        """Read the multiplexed stream to its end; False if the deadline came first (output still
        held open, e.g. by a background process the command left)."""
        assert self._sock is not None
        try:
            while True:
                header = self._read_exactly(reader, 8, deadline)
                if len(header) < 8:
                    return True
                stream, size = struct.unpack(">BxxxL", header)
                sink = err if stream == 2 else out
                while size > 0:
                    chunk = self._read_exactly(reader, min(size, 65536), deadline)
                    if not chunk:
                        return True
                    sink.add(chunk)
                    size -= len(chunk)
        except (TimeoutError, OSError):
            return False

    def _read_exactly(self, reader: Any, n: int, deadline: float) -> bytes:
        assert self._sock is not None
        data = b""
        while len(data) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            chunk = reader.read1(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def _exit_code(self, exec_id: str) -> int | None:
        # Right after the stream ends the daemon may still report the exec as running.
        for _ in range(100):
            info = self.client.api.exec_inspect(exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.02)
        return None


def remove_leftovers(run_id: str | None = None) -> int:
    """Remove the containers the arena started (label arena.managed=1), only one run's if
    `run_id` is given. Returns how many were removed. Used by `arena gc`."""
    import docker.errors

    client = connect()
    try:
        filters = [f"{MANAGED_LABEL}=1"] + ([f"arena.run={run_id}"] if run_id else [])
        removed = 0
        for container in client.containers.list(all=True, filters={"label": filters}):
            try:
                container.remove(force=True)
                removed += 1
            except docker.errors.NotFound:
                pass  # gone meanwhile
        return removed
    except Exception as e:
        raise translate(e) from e
    finally:
        client.close()
