"""What is particular to each sandbox: Docker containers' labels, names, users and cleanup, the
daemon-hang guard and error translation; bwrap's per-sandbox host uids, its graders' cgroup and its
start failures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator

import pytest

import arena.sandbox.docker as docker_module
from arena.errors import SandboxError
from arena.images import BASE_IMAGE
from arena.sandbox import SandboxConfig, jail, records
from arena.sandbox.bwrap import BwrapSandbox
from arena.sandbox.docker import CAPS, MANAGED_LABEL, OWNER_LABEL, DockerSandbox, connect
from arena.sandbox.gc import collect
from tests.conftest import require
from tests.sandbox.kit import host_pids

CONFIG = SandboxConfig(kind="docker", memory_mb=256, pids=128, cpus=1.0)


@pytest.fixture
def run_id() -> str:
    return f"pytest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def docker_sandbox(docker_images: None, run_id: str) -> AsyncIterator[DockerSandbox]:
    sandbox = await DockerSandbox.start(CONFIG, image=BASE_IMAGE, labels={"arena.run": run_id, "arena.episode": "ep/1"})
    yield sandbox
    await sandbox.close()


# ------------------------------------------------------------------------------------------ docker


async def test_container_labels_name_and_limits(docker_sandbox: DockerSandbox, run_id: str) -> None:
    client = connect()
    try:
        attrs = client.containers.get(docker_sandbox.name).attrs
    finally:
        client.close()
    labels = attrs["Config"]["Labels"]
    assert labels["arena.managed"] == "1" and labels["arena.owner"] == records.owner()
    assert labels["arena.run"] == run_id and labels["arena.episode"] == "ep/1"
    assert docker_sandbox.name.startswith("arena-ep-1-")
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
    assert host["PidsLimit"] == 128 and host["NanoCpus"] == 10**9
    assert host["CapDrop"] == ["ALL"] and sorted(host["CapAdd"]) == sorted(CAPS)
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["ReadonlyRootfs"] is True and host["LogConfig"]["Type"] == "none"
    assert host["ShmSize"] == CONFIG.shm_mb * 1024 * 1024
    # The exec server is the container's root; agent commands run as uid 1000 with no capabilities.
    assert host["Init"] is True and attrs["Config"]["User"] == "0:0"
    r = await docker_sandbox.exec("id -u; grep CapEff /proc/self/status", timeout=20)
    assert r.stdout.split() == ["1000", "CapEff:", "0000000000000000"]


async def test_agent_cannot_kill_the_container(docker_sandbox: DockerSandbox) -> None:
    await docker_sandbox.exec("kill -9 -1; pkill -9 python3", timeout=20)
    r = await docker_sandbox.exec("echo alive; ps -o user= -p 1", timeout=20)
    assert r.stdout.split() == ["alive", "root"]


async def test_close_removes_the_container(docker_images: None, run_id: str) -> None:
    sandbox = await DockerSandbox.start(CONFIG, image=BASE_IMAGE, labels={"arena.run": run_id})
    await sandbox.close()
    await sandbox.close()  # twice is fine
    client = connect()
    try:
        assert client.containers.list(all=True, filters={"label": [f"arena.run={run_id}"]}) == []
    finally:
        client.close()
    assert not sandbox.record.directory.exists()
    with pytest.raises(SandboxError, match="closed"):
        await sandbox.exec("true", timeout=5)


async def test_gc_takes_dead_owners_of_one_run_and_never_a_live_one(docker_images: None) -> None:
    mine, other = f"pytest-{uuid.uuid4().hex[:8]}", f"pytest-{uuid.uuid4().hex[:8]}"
    live = await DockerSandbox.start(CONFIG, image=BASE_IMAGE, labels={"arena.run": mine})
    client = connect()
    dead_owner = f"{socket.gethostname()}/a-previous-boot/1/1"  # an arena process that is gone
    labels = [{MANAGED_LABEL: "1", OWNER_LABEL: dead_owner, "arena.run": run} for run in (mine, mine, other)]
    made = [client.containers.create(BASE_IMAGE, ["true"], labels=label) for label in labels]
    try:
        assert collect(mine)["containers"] == 2
        assert collect(mine)["containers"] == 0
        r = await live.exec("echo untouched", timeout=20)  # a live process's sandbox of the same run
        assert r.stdout == "untouched\n"
        assert collect(other)["containers"] == 1
    finally:
        for container in made:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        client.close()
        await live.close()


async def test_concurrent_commands_do_not_queue(docker_sandbox: DockerSandbox) -> None:
    # All must run at once: a shared pool of a few threads would start some only after others ended.
    script = "date +%s.%N; sleep 3; date +%s.%N"
    results = await asyncio.gather(*(docker_sandbox.exec(script, timeout=30) for _ in range(16)))
    spans = [[float(t) for t in r.stdout.split()] for r in results]
    assert max(start for start, _ in spans) < min(end for _, end in spans)


async def test_missing_image_says_how_to_build(need_docker: None) -> None:
    with pytest.raises(SandboxError, match="build_images"):
        await DockerSandbox.start(CONFIG, image=f"arena-missing-{uuid.uuid4().hex[:6]}", labels={})


async def test_unreachable_daemon_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxError, match="dockerd"):
        await DockerSandbox.start(CONFIG, image=BASE_IMAGE, labels={})


async def test_hung_container_becomes_sandbox_error(
    docker_sandbox: DockerSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A paused container freezes the in-container `timeout` too: only the host-side guard is left.
    monkeypatch.setattr(docker_module, "HOST_GRACE", 1.0)
    running = asyncio.ensure_future(docker_sandbox.exec("sleep 30", timeout=1))
    await asyncio.sleep(0.5)
    docker_sandbox.container.pause()
    try:
        started = time.monotonic()
        with pytest.raises(SandboxError):
            await running
        assert time.monotonic() - started < 10
        with pytest.raises(SandboxError, match="paused"):
            await docker_sandbox.exec("true", timeout=1)
    finally:
        docker_sandbox.container.unpause()


# ------------------------------------------------------------------------------------------- bwrap


async def test_bwrap_sandboxes_get_their_own_host_uid(need_bwrap: None) -> None:
    boxes = await asyncio.gather(*(BwrapSandbox.start(SandboxConfig(), image="", labels={}) for _ in range(3)))
    try:
        if os.geteuid() == 0:
            uids = {box.host_uid for box in boxes}
            assert len(uids) == 3 and all(uid is not None and uid >= 200_000 for uid in uids)
            await boxes[0].write_file("owned", b"x")
            assert (boxes[0].fs / "work" / "owned").stat().st_uid == boxes[0].host_uid
        else:
            assert all(box.host_uid is None for box in boxes)
    finally:
        for box in boxes:
            await box.close()
    assert not any(box.root.exists() for box in boxes)
    assert not BwrapSandbox._host_uids_in_use & {box.host_uid for box in boxes}


async def test_bwrap_start_failure_is_sandbox_error(need_bwrap: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jail, "system_options", lambda etc=None: ["--ro-bind", "/nonexistent-usr", "/usr"])
    with pytest.raises(SandboxError, match="bwrap could not start"):
        await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxError, match="apt-get install bubblewrap"):
        await BwrapSandbox.start(SandboxConfig(), image="", labels={})


async def test_bwrap_close_kills_running_commands(need_bwrap: None) -> None:
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    running = asyncio.ensure_future(sandbox.exec("sleep 30", timeout=60))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    await sandbox.close()
    result = await asyncio.wait_for(running, 10)
    assert result.exit_code != 0 and time.monotonic() - started < 10


async def test_bwrap_graders_cgroup_is_made_by_the_first_grading_that_starts_a_jail(need_bwrap: None) -> None:
    require(os.geteuid() == 0, "root", "run the tests as root, as CI does (bwrap sandboxes have cgroups as root)")
    sandbox = await BwrapSandbox.start(SandboxConfig(memory_mb=256, pids=64), image="", labels={})
    try:
        assert sandbox.cgroups is not None
        agent, grader = sandbox.cgroups
        assert agent.exists() and not grader.exists()
        assert sandbox.record.data["cgroups"] == [agent.name, grader.name]  # for gc, before either exists
        async with sandbox.grading(final=False):  # a grading from the episode's state alone
            pass
        assert not grader.exists()
        await sandbox.write_file("answer", b"42")
        async with sandbox.grading(final=True) as view:
            assert await view.read_file("answer") == b"42"
            assert grader.exists()
            limits = grader.dirs.get("memory", grader.dirs.get("unified"))
            assert limits is not None
            limit = limits / ("memory.limit_in_bytes" if "memory" in grader.dirs else "memory.max")
            assert int(limit.read_text()) == 256 * 1024 * 1024
    finally:
        await sandbox.close()
    assert not agent.exists() and not grader.exists()


async def test_bwrap_final_graders_see_the_files_once_every_agent_process_is_gone(need_bwrap: None) -> None:
    # Killing the jail's PID 1 ends its whole PID namespace, and bwrap on the host exits only after
    # that: then no look at the cgroup is needed, and nothing of the agent runs beside the graders.
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    marker = f"sleep {300 + uuid.uuid4().int % 1000}"
    try:
        await sandbox.exec(f"setsid {marker} & nohup {marker} >/dev/null 2>&1 & ({marker} &) ; true", timeout=10)
        assert len(host_pids(marker)) == 3
        served = sandbox._agent
        assert served is not None
        async with sandbox.grading(final=True) as view:
            with pytest.raises(SandboxError, match="stopped for good"):  # no command after the kill
                await sandbox.exec("true", timeout=10)
            await view.exec("true", timeout=10)  # the first call through the view waits for the agent
            assert served.jail.emptied and not host_pids(marker)
            if sandbox.cgroups is not None:
                assert sandbox.cgroups[0].pids() == set()
    finally:
        await sandbox.close()


async def test_bwrap_grading_from_state_alone_does_not_wait_for_the_agent(need_bwrap: None) -> None:
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    marker = f"sleep {300 + uuid.uuid4().int % 1000}"
    await sandbox.exec(f"nohup {marker} >/dev/null 2>&1 & true", timeout=10)
    served = sandbox._agent
    assert served is not None
    async with sandbox.grading(final=True):
        assert not served.jail.emptied  # killed, not yet waited for: a state-only grading goes on at once
    await sandbox.close()
    assert served.jail.emptied and not host_pids(marker) and not sandbox.root.exists()


async def test_a_jail_killed_before_its_pid_1_is_known_is_not_taken_for_emptied(need_bwrap: None) -> None:
    started = await jail.spawn(["--ro-bind", "/", "/", "--unshare-pid"], ["sleep", "1"])
    started.kill()  # at once: bwrap has not said who its PID 1 is yet, so bwrap itself is killed
    await started.wait()  # its inner half, if it had begun, holds the pipes until `sleep` ends
    assert started.process.returncode is not None and not started.emptied


async def test_a_jail_whose_bwrap_died_by_a_signal_is_not_taken_for_emptied(need_bwrap: None) -> None:
    started = await jail.spawn(["--ro-bind", "/", "/", "--unshare-pid", "--die-with-parent"], ["sleep", "1"])
    await started.info  # its PID 1 is known
    os.kill(started.process.pid, signal.SIGKILL)  # as the OOM killer might, in the jail's cgroup
    await started.wait()
    assert started.process.returncode == -signal.SIGKILL and started.init_pid and not started.emptied
