"""What the agent is told: paraphrased instructions and the package README."""

from __future__ import annotations

from .library import Library

COUNTS = {1: "one bug", 2: "two bugs", 3: "three bugs"}
# Grading reads the package's code before running it (see policy.py); the agent is told the rule.
PLAIN_CODE = (
    "Keep the package plain library code: grading does not run a package that imports modules it did not "
    "use before (beyond basic standard-library ones such as math), or that uses eval, exec, open, getattr "
    "or special dunder attributes it did not use before."
)


def _visible_sentence(bugs: int, unseen: int, files: list[str]) -> str:
    listed = ", ".join(files)
    if unseen:
        return (
            f"Some of the visible tests ({listed}) fail, but they do not catch every bug: each function's "
            "docstring states its intended behaviour."
        )
    return f"Some of the visible tests ({listed}) fail because of {'it' if bugs == 1 else 'them'}."


def instructions(library: Library, bugs: int, unseen: int, visible_files: list[str]) -> list[str]:
    pkg, summary, count = library.package, library.summary, COUNTS[bugs]
    visible = _visible_sentence(bugs, unseen, visible_files)
    fix = "it" if bugs == 1 else "them"
    return [
        f"The Python package `{pkg}/` in the work directory is {summary}. It contains {count}. {visible} "
        f"Find and fix {fix} in the package code so that every function does what its docstring says. Do not "
        "edit or delete the test files, and do not add pytest configuration (conftest.py, pytest.ini or the "
        "like): after you submit, a more thorough hidden test suite is run against the package. The run_tests "
        f"tool runs the visible tests. {PLAIN_CODE} Call submit when you are done.",
        f"Bug report for `{pkg}` ({summary}): CI is red, and QA traced it to {count} in the package. {visible} "
        "Please fix the package source, not the tests: the test files must stay exactly as they are, and no "
        "conftest.py or pytest.ini may be added. An extended hidden test suite runs after you submit, so fix "
        "the root cause rather than special-casing the tested values. Use run_tests to run tests/, and submit "
        f"when finished. {PLAIN_CODE}",
        f"You maintain {summary}, shipped as the package `{pkg}/`. A recent refactoring introduced {count}. "
        f"{visible} Repair the code in `{pkg}/` so that it matches the behaviour documented in its docstrings. "
        "Rules: leave everything under tests/ untouched, add no pytest configuration files, and keep the public "
        "function names. Grading runs hidden tests against your fixed package. The run_tests tool runs the "
        f"visible tests. {PLAIN_CODE} Finish by calling submit.",
        f"Fix {count} in `{pkg}/` ({summary}). {visible} Constraints: do not modify tests/ and do not add "
        "conftest.py or pytest.ini; hidden tests check the package after you submit. run_tests runs the "
        f"visible tests. {PLAIN_CODE} Submit when done.",
    ]


def readme(library: Library) -> str:
    summary = library.summary[0].upper() + library.summary[1:]
    return (
        f"# {library.package}\n\n{summary}.\n\nPure Python, no dependencies. The package lives in "
        f"`{library.package}/`, its tests in `tests/`.\n\nRun the tests:\n\n    python3 -m pytest -q\n\n"
        f"{PLAIN_CODE}\n"
    )
