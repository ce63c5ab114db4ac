"""Running pytest in the sandbox: the agent's `run_tests` tool and the grading run.

Grading copies the original visible tests and the hidden tests into a fresh folder at check time
and runs them in one pytest process that ignores any conftest.py or ini file the agent may have
added; a JUnit XML report then says which suite failed.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from arena.protocols import ExecResult, Sandbox

GRADING_DIR = ".arena_grading"
PYTEST_ENV = ["env", "PYTHONDONTWRITEBYTECODE=1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1"]
PYTEST = [*PYTEST_ENV, "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
# Files that change how pytest collects or runs tests; the agent must not add any.
CONFIG_NAMES = ("conftest.py", "pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")
SUITES = ("visible", "hidden")


def sha256(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def visible_test_command(keyword: str | None) -> list[str]:
    selector = ["-k", keyword] if keyword else []
    return [*PYTEST, "--tb=short", *selector, "tests"]


@dataclass
class SuiteResult:
    passed: int = 0
    failed: list[str] | None = None

    @property
    def ok(self) -> bool:
        return self.passed > 0 and not self.failed

    def detail(self) -> str:
        if self.ok:
            return f"{self.passed} passed"
        if not self.failed:
            return "no test ran"
        shown = ", ".join(self.failed[:5]) + (" ..." if len(self.failed) > 5 else "")
        return f"{len(self.failed)} failed ({shown}), {self.passed} passed"


async def run_grading_suites(
    sandbox: Sandbox, visible: dict[str, str], hidden: dict[str, str], timeout: float = 60.0
) -> tuple[dict[str, SuiteResult], str]:
    """Run the original visible tests and the hidden tests; return results per suite and a note."""
    await sandbox.exec(["rm", "-rf", GRADING_DIR], timeout=30)
    for suite, files in (("visible", visible), ("hidden", hidden)):
        for path, text in files.items():
            name = path.rsplit("/", 1)[-1]
            await sandbox.write_file(f"{GRADING_DIR}/{suite}/{name}", text.encode())
    report = f"{GRADING_DIR}/report.xml"
    cmd = [
        *PYTEST, "--tb=no", "--noconftest", "-c", "/dev/null", "--rootdir", ".", f"--junitxml={report}",
        f"{GRADING_DIR}/visible", f"{GRADING_DIR}/hidden",
    ]
    run = await sandbox.exec(cmd, timeout=timeout)
    try:
        xml = await sandbox.read_file(report)
    except FileNotFoundError:
        xml = b""
    await sandbox.exec(["rm", "-rf", GRADING_DIR], timeout=30)
    return parse_junit(xml), _note(run)


def _note(run: ExecResult) -> str:
    if run.timed_out:
        return "the test run timed out"
    lines = [line for line in run.stdout.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"pytest exited with {run.exit_code}"


def parse_junit(xml: bytes) -> dict[str, SuiteResult]:
    results = {suite: SuiteResult(failed=[]) for suite in SUITES}
    if not xml:
        return results
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return results
    for case in root.iter("testcase"):
        parts = case.get("classname", "").split(".")
        suite = next((s for s in SUITES if s in parts), None)
        if suite is None:
            continue
        bad = any(child.tag in ("failure", "error", "skipped") for child in case)
        if bad:
            results[suite].failed.append(case.get("name", "?"))  # type: ignore[union-attr]
        else:
            results[suite].passed += 1
    return results


async def added_config_files(sandbox: Sandbox, shipped: dict[str, str]) -> list[str]:
    """Pytest configuration files in the work dir that were not shipped, or were changed."""
    expr: list[str] = []
    for name in CONFIG_NAMES:
        expr += [*(["-o"] if expr else []), "-name", name]
    r = await sandbox.exec(["find", ".", "-path", f"./{GRADING_DIR}", "-prune", "-o", "(", *expr, ")", "-print"],
                           timeout=30)
    found = sorted(line.removeprefix("./") for line in r.stdout.splitlines() if line.strip())
    bad = []
    for path in found:
        if path not in shipped:
            bad.append(path)
            continue
        try:
            same = sha256(await sandbox.read_file(path)) == shipped[path]
        except (FileNotFoundError, IsADirectoryError):
            same = False
        if not same:
            bad.append(path)
    return bad
