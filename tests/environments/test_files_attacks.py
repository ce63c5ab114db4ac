"""A world the agent made hard to read never makes the files grader raise: unreadable folders, pipes
and huge files where answers belong, odd names, links out of the work directory, more files than
can be listed. Each becomes failed checks with the reason (the agent's `fail`), in both real
sandboxes; only a sandbox that itself broke may raise."""

from __future__ import annotations

import shlex

import pytest

from arena.environments.files import FilesFamily
from arena.testing.family_check import Replay, replay
from arena.types import Task, ToolCall

FAMILY = FilesFamily()
# Until the sandboxes hand graders a privileged view (root, every agent process stopped), a grader
# runs as the agent and shares Docker with the agent's background processes.


@pytest.fixture(params=["bwrap", "docker"])
def kind(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue("need_bwrap" if request.param == "bwrap" else "docker_images")
    return request.param


def task(template: str) -> Task:
    return next(t for t in (FAMILY.generate(s, "dev") for s in range(100)) if t.template == template
                and t.difficulty >= 3)


def bash(command: str) -> ToolCall:
    return ToolCall(name="bash", arguments={"command": command})


def answer_path(t: Task) -> str:
    p = t.params
    return p.get("report") or p.get("manifest") or p["output"]


def oracle_then(t: Task, *commands: str) -> list[ToolCall]:
    """The reference's work (minus its submit), then what the agent did to its world."""
    calls = [c for c in FAMILY.solution(t) if c.name != "submit"]
    return [*calls, *(bash(c) for c in commands)]


def details(played: Replay) -> str:
    return " | ".join(f"{c.name}: {c.detail}" for c in played.checks.checks if not c.passed)


ANSWER_TEMPLATES = ["count_matches", "build_manifest"]  # one answer-file reader serves every template


@pytest.mark.parametrize("template", ANSWER_TEMPLATES)
async def test_a_pipe_a_huge_file_a_folder_or_a_link_where_the_answer_belongs(kind: str, template: str) -> None:
    t = task(template)
    path = shlex.quote(answer_path(t))
    for trap in (f"rm -f {path} && mkfifo {path}",
                 f"rm -f {path} && head -c 3000000 /dev/zero | tr '\\0' 'x' > {path}",
                 f"rm -f {path} && mkdir -p {path}",
                 f"rm -f {path} && ln -s /etc/passwd {path}"):
        played = await replay(FAMILY, t, oracle_then(t, trap), sandbox=kind)
        assert not played.checks.success, trap
        assert "not written" in details(played) or "removed_list" in details(played), (trap, details(played))


@pytest.mark.parametrize("template", ["sort_by_rule", "count_matches", "dedupe_files"])
async def test_unreadable_folders_odd_names_and_links_out(kind: str, template: str) -> None:
    """Locked folders beside the task's files, names no shell likes, links to / and to host paths:
    the reference's work still grades as done (nothing the task cares about was touched)."""
    t = task(template)
    mess = ("mkdir -p locked/deeper && echo x > locked/deeper/f && chmod 000 locked && "
            "touch $'new\\nline' $'tab\\there' $'\\xff\\xfe' -- '-rf' '--' ' ' && mkfifo pipe && "
            "ln -s / root && ln -s /etc/shadow shadow && ln -s /nonexistent dangling && ln -s loop loop")
    played = await replay(FAMILY, t, [*oracle_then(t, mess), *[c for c in FAMILY.solution(t) if c.name == "submit"]],
                          sandbox=kind)
    assert played.checks.success, details(played)


async def test_a_locked_task_folder_fails_the_checks_that_need_it(kind: str) -> None:
    t = task("cleanup_old_logs")
    root = shlex.quote(t.params["root"])
    played = await replay(FAMILY, t, oracle_then(t, f"chmod 000 {root}"), sandbox=kind)
    # The grader reads as the sandbox's root: it finds the kept logs intact behind the locked folder,
    # and the work done (a lock the agent put on its own files hides nothing from grading).
    assert played.checks.success, details(played)
    assert played.passed["recent_logs_kept"]


async def test_more_files_than_can_be_listed(kind: str) -> None:
    t = task("sort_by_rule")
    # few files on a long path: each listed line is ~2.8 kB, so 1500 of them pass the output cap
    flood = ("d=$(printf 'd%.0s' $(seq 200)); p=flood; for i in $(seq 14); do p=$p/$d; done; "
             "mkdir -p $p && cd $p && seq 1500 | xargs touch")
    played = await replay(FAMILY, t, oracle_then(t, flood), sandbox=kind)
    assert not played.checks.success
    assert "too many files" in details(played), details(played)


async def test_a_locked_work_directory(kind: str) -> None:
    t = task("build_manifest")
    played = await replay(FAMILY, t, oracle_then(t, "chmod 000 ."), sandbox=kind)
    assert played.checks.success, details(played)  # root reads through the agent's chmod


async def test_background_processes_filling_the_process_table(docker_images: None) -> None:
    t = task("build_manifest")
    # forks sleepers until the process table is full, then returns (no shell retry loop)
    hog = ("python3 -c 'import os, time\nwhile True:\n    try:\n        pid = os.fork()\n    except OSError:\n"
           "        break\n    if pid == 0:\n        os.setsid(); time.sleep(600); os._exit(0)'")
    played = await replay(FAMILY, t, oracle_then(t, hog), sandbox="docker")
    assert played.checks.success, details(played)
