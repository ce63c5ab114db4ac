"""Both isolating sandboxes (bwrap, docker), against the real thing: commands and files work, and
the agent cannot reach the network or host files, outlive a timeout, or hurt the host with a fork
bomb, a memory hog or an output flood."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from arena.protocols import Sandbox
from tests.sandbox.kit import Opener, gone


async def test_echo_exit_codes_and_stdin(sandbox: Sandbox) -> None:
    r = await sandbox.exec("echo hello; echo oops >&2; exit 3", timeout=20)
    assert (r.exit_code, r.stdout, r.stderr, r.timed_out) == (3, "hello\n", "oops\n", False)
    r = await sandbox.exec(["python3", "-c", "import sys; print(sys.stdin.read().upper())"], timeout=20, stdin=b"abc")
    assert (r.exit_code, r.stdout) == (0, "ABC\n")
    big = os.urandom(3 * 1024 * 1024).hex().encode()[: 3 * 1024 * 1024]  # more than any pipe buffer
    r = await sandbox.exec(["cat"], timeout=30, stdin=big)
    assert r.stdout.encode() == big
    r = await sandbox.exec("pwd; id -u; echo $HOME", timeout=20)
    assert r.stdout.split() == [sandbox.workdir, "1000", sandbox.workdir]
    # A message that looks like bwrap's own is still just the command's output.
    r = await sandbox.exec("echo 'bwrap: Creating new namespace failed' >&2; exit 1", timeout=20)
    assert r.exit_code == 1


async def test_files_roundtrip(sandbox: Sandbox) -> None:
    data = bytes(range(256)) * 100
    await sandbox.write_file("deep/er/nested/blob.bin", data)
    assert await sandbox.read_file("deep/er/nested/blob.bin") == data
    assert await sandbox.read_file(f"{sandbox.workdir}/deep/er/nested/blob.bin") == data
    await sandbox.write_file("/tmp/empty", b"")
    assert await sandbox.read_file("/tmp/empty") == b""
    r = await sandbox.exec("stat -c %u deep/er/nested/blob.bin; cat deep/er/nested/blob.bin | wc -c", timeout=20)
    assert r.stdout.split() == ["1000", str(len(data))]
    with pytest.raises(FileNotFoundError):
        await sandbox.read_file("no/such/file")
    with pytest.raises(IsADirectoryError):
        await sandbox.read_file("deep/er")
    with pytest.raises(IsADirectoryError):
        await sandbox.write_file("deep", b"x")
    with pytest.raises(OSError):  # PermissionError in Docker, a read-only file system under bwrap
        await sandbox.write_file("/usr/bin/planted", b"x")
    assert (await sandbox.exec("ls /usr/bin/planted", timeout=20)).exit_code != 0


async def test_no_network(sandbox: Sandbox) -> None:
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    targets = [("1.1.1.1", 53), ("127.0.0.1", port), ("172.17.0.1", port)]  # internet, host loopback, docker host
    probe = (
        "import socket, sys\n"
        "for host, port in [tuple(t.split(':')) for t in sys.argv[1:]]:\n"
        "    try:\n"
        "        socket.create_connection((host, int(port)), timeout=3).close()\n"
        "        print('CONNECTED', host)\n"
        "    except OSError as e:\n"
        "        print('failed', host, e)\n"
    )
    try:
        r = await sandbox.exec(["python3", "-c", probe, *(f"{h}:{p}" for h, p in targets)], timeout=30)
        assert r.exit_code == 0, r.stderr
        assert "CONNECTED" not in r.stdout
        assert r.stdout.count("failed") == len(targets)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody got through to the host's server
    finally:
        server.close()


async def test_cannot_read_host_files(sandbox: Sandbox) -> None:
    secret = f"host-secret-{uuid.uuid4().hex}"
    name = f"arena-test-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="arena-host-") as tmp:
        os.chmod(tmp, 0o755)  # readable by anyone on the host: only isolation keeps it out
        planted = [Path(tmp) / f"{name}-tmp.txt", Path("/root") / f"{name}-root.txt"]
        try:
            for path in planted:
                path.write_text(secret)
                path.chmod(0o644)
            for path in planted:
                r = await sandbox.exec(["cat", str(path)], timeout=20)
                assert r.exit_code != 0 and secret not in r.stdout
                with pytest.raises(OSError):
                    await sandbox.read_file(str(path))
                # Symlinks resolve inside the sandbox, for read_file and write_file alike.
                link = f"link-{path.stem}"
                assert (await sandbox.exec(["ln", "-s", str(path), link], timeout=20)).exit_code == 0
                with pytest.raises(OSError):
                    await sandbox.read_file(link)
                with contextlib.suppress(OSError):
                    await sandbox.write_file(link, b"overwritten")
                assert path.read_text() == secret
            search = f"find / \\( -path /proc -o -path /sys \\) -prune -o -name '{name}*' -print"
            r = await sandbox.exec(search, timeout=60)
            assert name not in r.stdout
        finally:
            for path in planted:
                path.unlink(missing_ok=True)


async def test_timeout_kills_the_whole_tree(sandbox: Sandbox) -> None:
    marker = f"{1000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 1000}"  # a sleep no one else runs
    started = time.monotonic()
    r = await sandbox.exec(f"sleep {marker} & sleep {marker} & (sleep {marker}); wait", timeout=2)
    assert r.timed_out and r.exit_code != 0
    assert time.monotonic() - started < 8
    assert await gone(f"sleep {marker}")
    r = await sandbox.exec("ps -eo args", timeout=20)
    assert f"sleep {marker}" not in r.stdout


async def test_fork_bomb_is_contained(open_kind: Opener) -> None:
    sandbox = await open_kind(pids=64)
    bomb = f"bomb_{uuid.uuid4().hex[:8]}"  # forked shells keep the command line: this finds them all
    started = time.monotonic()
    r = await sandbox.exec(f"{bomb}() {{ {bomb} | {bomb} & }}; {bomb}; sleep 60", timeout=5)
    assert r.timed_out or r.exit_code != 0
    assert time.monotonic() - started < 20
    assert await gone(bomb)
    assert subprocess.run(["true"], timeout=10).returncode == 0  # the host can still fork
    r = await sandbox.exec("echo still here", timeout=20)
    assert r.stdout == "still here\n"


async def test_memory_hog_fails_cleanly(open_kind: Opener) -> None:
    sandbox = await open_kind(memory_mb=256)
    # One huge allocation, and many small ones that are actually written to.
    hogs = ["x = bytearray(4 * 1024**3)", "x = [b'x' * (64 * 1024**2) for _ in range(64)]"]
    for hog in hogs:
        r = await sandbox.exec(["python3", "-c", hog], timeout=60)
        assert r.exit_code != 0 and not r.timed_out
    assert (await sandbox.exec("echo ok", timeout=20)).stdout == "ok\n"


async def test_large_output_is_capped(sandbox: Sandbox) -> None:
    started = time.monotonic()
    r = await sandbox.exec("yes | head -c 50M; echo done >&2", timeout=60)
    assert r.exit_code == 0 and not r.timed_out
    assert len(r.stdout) < 5 * 1024 * 1024
    assert "dropped" in r.stdout and r.stderr == "done\n"
    assert time.monotonic() - started < 30
