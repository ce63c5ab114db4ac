"""What the agent is told: paraphrased instructions and the package README."""

from __future__ import annotations

from .library import Library

COUNTS = {1: "one bug", 2: "two bugs", 3: "three bugs"}


def _visible_sentence(difficulty: int, files: list[str]) -> str:
    listed = ", ".join(files)
    if difficulty >= 3:
        return (
            f"Some of the visible tests ({listed}) fail, but they do not catch every bug: each function's "
            "docstring states its intended behaviour."
        )
    return f"Some of the visible tests ({listed}) fail because of {'it' if difficulty == 1 else 'them'}."


def instructions(library: Library, difficulty: int, visible_files: list[str]) -> list[str]:
    pkg, summary, count = library.package, library.summary, COUNTS[difficulty]
    visible = _visible_sentence(difficulty, visible_files)
    fix = "it" if difficulty == 1 else "them"
    return [
        f"The Python package `{pkg}/` in the work directory is {summary}. It contains {count}. {visible} "
        f"Find and fix {fix} in the package code so that every function does what its docstring says. Do not "
        "edit or delete the test files, and do not add pytest configuration (conftest.py, pytest.ini or the "
        "like): after you submit, a more thorough hidden test suite is run against the package. The run_tests "
        "tool runs the visible tests. Call submit when you are done.",
        f"Bug report for `{pkg}` ({summary}): CI is red, and QA traced it to {count} in the package. {visible} "
        "Please fix the package source, not the tests: the test files must stay exactly as they are, and no "
        "conftest.py or pytest.ini may be added. An extended hidden test suite runs after you submit, so fix "
        "the root cause rather than special-casing the tested values. Use run_tests to run tests/, and submit "
        "when finished.",
        f"You maintain {summary}, shipped as the package `{pkg}/`. A recent refactoring introduced {count}. "
        f"{visible} Repair the code in `{pkg}/` so that it matches the behaviour documented in its docstrings. "
        "Rules: leave everything under tests/ untouched, add no pytest configuration files, and keep the public "
        "function names. Grading runs hidden tests against your fixed package. The run_tests tool runs the "
        "visible tests. Finish by calling submit.",
        f"Fix {count} in `{pkg}/` ({summary}). {visible} Constraints: do not modify tests/ and do not add "
        "conftest.py or pytest.ini; hidden tests check the package after you submit. run_tests runs the "
        "visible tests. Submit when done.",
    ]


def readme(library: Library) -> str:
    summary = library.summary[0].upper() + library.summary[1:]
    return (
        f"# {library.package}\n\n{summary}.\n\nPure Python, no dependencies. The package lives in "
        f"`{library.package}/`, its tests in `tests/`.\n\nRun the tests:\n\n    python3 -m pytest -q\n"
    )
