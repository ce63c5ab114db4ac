"""Starting child processes: a cancelled start passes the cancellation on and leaves no child, and
no child costs a thread to be reaped."""

from __future__ import annotations

import asyncio
import os
import threading

from arena.processes import start_process
from tests.sandbox.kit import live_children


async def test_a_start_cancelled_anywhere_raises_and_leaves_no_child() -> None:
    before = live_children()
    for turns in range(12):
        task = asyncio.ensure_future(start_process(
            "sleep", "30", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
        ))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        outcome = (await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 20))[0]
        if isinstance(outcome, asyncio.subprocess.Process):  # it was up before the cancellation came
            outcome.kill()
            await outcome.wait()
        else:
            assert isinstance(outcome, asyncio.CancelledError)
        assert live_children() == before, f"a child outlived a start cancelled after {turns} turns"


async def test_a_started_process_is_an_ordinary_asyncio_process() -> None:
    process = await start_process("sh", "-c", "echo $$; read line; echo got $line",
                                  stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate(b"hello\n")
    pid, said = out.decode().split("\n")[:2]
    assert int(pid) == process.pid != os.getpid() and said == "got hello" and process.returncode == 0


async def test_children_are_reaped_without_a_thread_each() -> None:
    first = await start_process("true")
    await first.wait()
    threads = threading.active_count()
    processes = [await start_process("sh", "-c", f"sleep 0.2; exit {code}") for code in range(20)]
    assert threading.active_count() == threads  # Python 3.11's own watcher starts one per child
    assert [await asyncio.wait_for(p.wait(), 10) for p in processes] == list(range(20))
    killed = await start_process("sleep", "30")
    killed.kill()
    assert await asyncio.wait_for(killed.wait(), 10) == -9
