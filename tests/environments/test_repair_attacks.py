"""Hostile agents against the repair grader: none of them fixes a bug, each tries to make grading say
it did. Every attack must end as the agent's `fail` (the checks come back, nothing raises) in both
real sandboxes. Where an attack also fools a naive test run, the agent's own `run_tests` tool shows
it, so the test proves the attack is live and only the grader stops it."""

from __future__ import annotations

import shlex

import pytest

from arena.environments.repair import RepairFamily, grading
from arena.testing.family_check import Replay, replay
from arena.types import Task, ToolCall

FAMILY = RepairFamily()
PATCH = "import _pytest.python as _p; _p.Function.runtest = lambda self: None  # every test passes"
PASSING_REPORT = (
    '<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="1" failures="0" errors="0">'
    '<testcase classname="tests.hidden.test_hidden_x" name="test_x"/></testsuite></testsuites>'
)
# Privileged grading (stopped agent processes, a scratch directory the agent cannot see) is being
# built in the sandboxes; until it lands, graders share Docker with the agent's background processes.


@pytest.fixture(params=["bwrap", "docker"])
def kind(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue("need_bwrap" if request.param == "bwrap" else "docker_images")
    return request.param


def task() -> Task:
    return FAMILY.generate(3, "dev")


def bash(command: str) -> ToolCall:
    return ToolCall(name="bash", arguments={"command": command})


def touch_package(task: Task) -> ToolCall:
    """A harmless edit, so the package differs from the shipped one and grading really runs pytest."""
    path = f"{task.params['package']}/__init__.py"
    return bash(f"printf '\\n# reviewed\\n' >> {shlex.quote(path)}")


RUN_TESTS = ToolCall(name="run_tests")


def assert_contained(played: Replay, *, live: bool = False) -> None:
    """The attack failed: no bug was fixed and grading says so. With `live`, the agent's own test
    run (the call before last) was fooled, so the attack itself works."""
    verdict = played.passed
    assert verdict["visible_tests_pass"] is False and verdict["hidden_tests_pass"] is False, played.checks
    assert not played.checks.success and played.checks.score == 0
    if live:
        own = played.results[-1]
        assert "passed" in own.output and "failed" not in own.output, own.output[-400:]


async def test_a_shadow_pytest_in_the_work_directory(kind: str) -> None:
    t = task()
    fake = (
        "import sys\n"
        f"report = next((a.split('=', 1)[1] for a in sys.argv if a.startswith('--junitxml=')), None)\n"
        f"if report:\n    open(report, 'w').write({PASSING_REPORT!r})\n"
        "print('5 passed in 0.01s')\nsys.exit(0)\n"
    )
    calls = [ToolCall(name="write_file", arguments={"path": "pytest.py", "content": fake}),
             ToolCall(name="write_file", arguments={"path": f"{t.params['package']}/pytest.py", "content": fake}),
             touch_package(t), RUN_TESTS]
    played = await replay(FAMILY, t, calls, sandbox=kind)
    assert_contained(played, live=True)
    assert played.passed["package_code_allowed"] is False  # pkg/pytest.py reaches for sys and open


@pytest.mark.parametrize("hook", ["usercustomize.py", "zz-arena.pth"])
async def test_a_hook_in_the_user_site(kind: str, hook: str) -> None:
    t = task()
    site = ".local/lib/python3.11/site-packages"
    # .pth files run before the system site is on the path: put it there first
    early = "import sys; sys.path.append('/usr/lib/python3/dist-packages'); " + PATCH.split("  #")[0]
    content = PATCH + "\n" if hook.endswith(".py") else early + "\n"
    calls = [bash(f"mkdir -p {site} && python3 -c 'import site; print(site.getusersitepackages())'"),
             ToolCall(name="write_file", arguments={"path": f"{site}/{hook}", "content": content}),
             touch_package(t), RUN_TESTS]
    played = await replay(FAMILY, t, calls, sandbox=kind)
    assert played.results[0].output.startswith("/work/.local/lib/python3.11/site-packages"), played.results[0]
    assert_contained(played, live=True)
    assert played.passed["package_code_allowed"] is True  # the package itself is untouched code


async def test_a_pytest_monkeypatch_in_the_package(kind: str) -> None:
    t = task()
    init = f"{t.params['package']}/__init__.py"
    played = await replay(FAMILY, t, [bash(f"printf '%s\\n' {shlex.quote(PATCH)} >> {init}"), RUN_TESTS],
                          sandbox=kind)
    assert_contained(played, live=True)
    assert played.passed["package_code_allowed"] is False


async def test_a_stale_unchecked_pyc_beside_innocent_source(kind: str) -> None:
    """The .py is the shipped buggy code plus a comment; the unchecked-hash .pyc Python prefers runs the patch."""
    t = task()
    init = f"{t.params['package']}/__init__.py"
    evil = shlex.quote(t.files[init] + PATCH + "\n")
    compile_pyc = (
        f"printf '%s' {evil} > /tmp/evil.py && python3 -c \"import importlib.util as u, py_compile as c; "
        f"c.compile('/tmp/evil.py', cfile=u.cache_from_source('{init}'), "
        f"invalidation_mode=c.PycInvalidationMode.UNCHECKED_HASH)\" && rm /tmp/evil.py"
    )
    played = await replay(FAMILY, t, [touch_package(t), bash(compile_pyc), RUN_TESTS], sandbox=kind)
    assert_contained(played, live=True)
    assert played.passed["package_code_allowed"] is True  # the source it reads is clean; the .pyc is never used


async def test_a_planted_read_only_report(kind: str) -> None:
    t = task()
    plant = (
        f"for d in .arena_grading /tmp/arena-grading-planted; do mkdir -p $d/out && "
        f"printf '%s' {shlex.quote(PASSING_REPORT)} > $d/report.xml && cp $d/report.xml $d/out/ && "
        "chmod 444 $d/report.xml $d/out/report.xml && chmod 555 $d $d/out; done"
    )
    played = await replay(FAMILY, t, [bash(plant), touch_package(t)], sandbox=kind)
    assert_contained(played)


async def test_conftest_sitecustomize_and_shadowed_stdlib_in_the_work_directory(kind: str) -> None:
    t = task()
    skip_all = "import pytest\n\ndef pytest_collection_modifyitems(items):\n    items.clear()\n"
    calls = [ToolCall(name="write_file", arguments={"path": path, "content": text}) for path, text in [
        ("conftest.py", skip_all), ("tests/conftest.py", skip_all), ("sitecustomize.py", PATCH + "\n"),
        ("decimal.py", "Decimal = str\n"), ("datetime.py", "date = lambda *a: None\n"),
    ]]
    played = await replay(FAMILY, t, [*calls, touch_package(t)], sandbox=kind)
    assert_contained(played)
    assert played.passed["tests_not_weakened"] is False  # the conftest files are named as such


async def test_weakened_visible_tests_and_config(kind: str) -> None:
    t = task()
    visible = sorted(t.params["visible_sha256"])[0]
    calls = [ToolCall(name="write_file", arguments={"path": visible, "content": "def test_nothing():\n    pass\n"}),
             bash("printf '[pytest]\\naddopts = -p no:python\\n' > pytest.ini"), touch_package(t)]
    played = await replay(FAMILY, t, calls, sandbox=kind)
    assert_contained(played)
    assert played.passed["tests_not_weakened"] is False
    assert "was changed" in next(c.detail for c in played.checks.checks if c.name == "tests_not_weakened")


async def test_symlinks_fifos_and_locked_folders(kind: str) -> None:
    """A package made of links and pipes, a visible test replaced by a FIFO: graded, never hung or errored."""
    t = task()
    package = t.params["package"]
    module = next(p for p in sorted(t.params["package_sha256"]) if not p.endswith("__init__.py"))
    visible = sorted(t.params["visible_sha256"])[0]
    calls = [bash(f"mv {module} /tmp/moved.py && ln -s /tmp/moved.py {module} && ln -s / {package}/root && "
                  f"mkfifo {package}/pipe.py && rm {visible} && mkfifo {visible} && "
                  f"mkdir {package}/locked && chmod 000 {package}/locked")]
    played = await replay(FAMILY, t, calls, sandbox=kind)
    assert_contained(played)
    assert played.passed["tests_not_weakened"] is False


async def test_a_package_that_escapes_through_allowed_modules(kind: str) -> None:
    """Reaching sys through dataclasses, an always-equal object, a class made from a dict: refused
    before they run. (The policy's own tests cover each rule; this one goes through grading.)"""
    t = task()
    init = f"{t.params['package']}/__init__.py"
    tricks = (
        "import dataclasses\n"
        "dataclasses.sys.modules['pytest'].skip('x', allow_module_level=True)\n"
    )
    played = await replay(FAMILY, t, [bash(f"printf '%s' {shlex.quote(tricks)} >> {init}")], sandbox=kind)
    assert_contained(played)
    assert played.passed["package_code_allowed"] is False


async def test_an_interrupt_or_an_endless_loop_in_the_package(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grading, "TEST_TIMEOUT", 5.0)  # the real bound is a minute; the loop only needs one
    t = task()
    init = f"{t.params['package']}/__init__.py"
    for code in ("raise KeyboardInterrupt\n", "while True:\n    pass\n"):
        played = await replay(FAMILY, t, [bash(f"printf '%s' {shlex.quote(code)} >> {init}")], sandbox=kind)
        assert_contained(played)


async def test_a_background_process_rewriting_the_hidden_tests(docker_images: None) -> None:
    t = task()
    loop = ("nohup bash -c 'while :; do for f in /tmp/*/repair-*/tests/*/*.py; do "
            "sed -i \"s/^    assert .*/    pass/; s/^    with pytest.raises.*/    if True:/\" \"$f\"; "
            "done 2>/dev/null; done' >/dev/null 2>&1 &")
    played = await replay(FAMILY, t, [bash(loop), touch_package(t)], sandbox="docker")
    assert_contained(played)
