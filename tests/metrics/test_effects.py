"""How `run` calls are classified for the verification metric: what a shell command or Python code
changes and looks at, in order."""

from __future__ import annotations

import pytest

from arena.metrics.effects import marks, shell_marks
from arena.types import ToolCall, ToolResult


@pytest.mark.parametrize(("command", "expected"), [
    ("cat out.txt", ["look"]),
    ("echo hi > out.txt", ["change"]),
    ("echo hi > out.txt && cat out.txt", ["change", "look"]),
    ("printf 'a' >> log.txt; wc -l log.txt", ["change", "look"]),
    ("grep -c ERROR app.log 2>/dev/null", ["look"]),
    ("ls -la 2>&1 | head", ["look", "look"]),
    ("cd src && python -m pytest -q", ["look"]),
    ("sed -i 's/a/b/' f.py", ["change"]),
    ("sed 's/a/b/' f.py", ["look"]),
    ("mv a.txt b.txt", ["change"]),
    ("rm -f *.log; ls", ["change", "look"]),
    ("find . -name '*.tmp' -delete", ["change"]),
    ("find . -name '*.tmp'", ["look"]),
    ("git status", ["look"]),
    ("git commit -am x", ["change"]),
    ("python3 solve.py", ["change"]),  # an unknown program may change anything
    ("python3 test_solution.py", ["look"]),
    ("python -c 'print(1)'", ["look"]),
    ("python -c \"open('x','w').write('1')\"", ["change"]),
    ("sort -o out.txt in.txt", ["change"]),
    ("sort in.txt | uniq -c", ["look", "look"]),
    ("echo done", []),
    ("X=1 cat file", ["look"]),
    ("tar xzf a.tgz", ["change"]),
    ("tar tzf a.tgz", ["look"]),
    ("diff -u a b", ["look"]),
    ("make test", ["look"]),
    ("if [ -f x ]; then cat x; fi", ["look", "look"]),
])
def test_shell_pieces(command: str, expected: list[str]) -> None:
    assert shell_marks(command) == expected


def result(effect: str | None, *, error: bool = False, fault: str | None = None, output: str = "ok") -> ToolResult:
    return ToolResult(call_id="c", name="t", output=output, is_error=error, effect=effect, fault=fault)  # type: ignore[arg-type]


def test_tool_effects_and_calls_that_never_ran() -> None:
    write = ToolCall(name="write_file", arguments={"path": "a", "content": "x"})
    assert marks(write, result("change")) == ["change"]
    assert marks(write, result("change", error=True, output="error: cannot write a")) == []  # nothing changed
    assert marks(write, result("change", error=True, fault="error")) == []  # a transient fault: it never ran
    read = ToolCall(name="read_file", arguments={"path": "a"})
    assert marks(read, result("read")) == ["look"]
    assert marks(read, result("read", error=True, output="error: no such file: a")) == ["look"]  # it looked
    assert marks(read, result(None, error=True, output="error: unknown tool 'read_fil'")) == []
    assert marks(ToolCall(name="reflect", arguments={"thought": "x"}), result("none")) == []
    failing_tests = ToolCall(name="bash", arguments={"command": "pytest -q"})
    assert marks(failing_tests, result("run", error=True, output="1 failed\n[exit code 1]")) == ["look"]
    assert marks(ToolCall(name="run_tests", arguments={}), result("run")) == ["look"]
    assert marks(ToolCall(name="refund", arguments={"order_id": "1"}), result("run")) == ["change"]
    assert marks(ToolCall(name="get_order", arguments={"order_id": "1"}), result("run")) == ["look"]
    code = ToolCall(name="python", arguments={"code": "import csv\nprint(sum(1 for _ in open('a.csv')))"})
    assert marks(code, result("run")) == ["look"]
    text_args = ToolCall(name="bash", arguments='{"command": "cat a"}')
    assert marks(text_args, result("run")) == ["look"]
