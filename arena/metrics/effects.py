"""What a tool call did to the world, for the verification metric: did it change something, did it
look at something (read it back, test it), and in which order.

Tools carry an `effect`: `read` only looks, `change` alters state, `none` does neither, and `run`
may do either (a shell command, a test run, a family's action whose effect it did not declare).
A `run` call is classified from what it ran:

- a shell command (a `command`/`cmd`/`script` argument) is split into its pieces (`;`, `&&`,
  `||`, `|`, new lines) and each piece is a change (a redirection into a file; `rm`, `mv`, `cp`,
  `mkdir`, `touch`, `sed -i`, `tee`, package installs, an unknown program) or a look (`cat`,
  `ls`, `grep`, `diff`, `head`, `wc`, `test`, `pytest`, `python -m pytest`, ...), in order, so
  `echo x > f && cat f` is a change read back at once;
- Python code (a `code` argument) changes when it writes (`open(..., "w")`, `.write(`,
  `to_csv`, `os.remove`, `shutil`, ...), and otherwise only looks;
- any other `run` tool looks when its name says so (`run_tests`, `check_*`, `get_*`, `list_*`,
  `search`, `open_url`, ...) and changes otherwise.

A call that never ran (an injected `error` fault, an unknown tool, arguments that did not parse)
did nothing. A failed change tool (its `ToolError`) changed nothing; a failed `run` call did run
(a failing test run is still a test).
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Literal

from arena.types import ToolCall, ToolResult

Mark = Literal["change", "look"]

LOOK_COMMANDS = frozenset({
    "cat", "head", "tail", "less", "more", "ls", "ll", "find", "grep", "egrep", "fgrep", "rg", "ag", "wc", "diff",
    "cmp", "comm", "stat", "file", "du", "test", "[", "[[", "jq", "yq", "sort", "uniq", "cut", "awk", "tr",
    "sha256sum", "sha1sum", "md5sum", "cksum", "tree", "realpath", "readlink", "column", "nl", "od", "xxd",
    "hexdump", "strings", "pytest", "py.test", "tox", "sqlite3", "csvlook", "xmllint", "zcat", "bzcat", "xzcat",
    "paste", "fold", "rev", "tac", "mypy", "ruff", "flake8", "pylint", "shellcheck",
})
# Pieces that neither change nor look at the work: `cd dir && cat f` looks once, `echo done` not at all.
NEUTRAL_COMMANDS = frozenset({
    "cd", "pushd", "popd", "set", "unset", "export", "local", "exit", "return", "sleep", "true", "false", "read",
    "echo", "printf", "pwd", "date", "whoami", "id", "uname", "which", "type", "env", "seq", "expr", "bc", "time",
    "fi", "done", "esac", "then", "do", "else", "source", ".", "shopt", "trap", "wait", ":",
})
CHANGE_COMMANDS = frozenset({
    "rm", "mv", "cp", "mkdir", "rmdir", "touch", "chmod", "chown", "chgrp", "ln", "tee", "truncate", "dd",
    "install", "patch", "pip", "pip3", "apt", "apt-get", "npm", "yarn", "unzip", "gzip", "gunzip", "bzip2", "xz",
    "zip", "split", "csplit", "shred", "rename", "mktemp", "crontab", "kill", "pkill", "make",
})
TEST_RUNNERS = ("pytest", "unittest", "doctest", "py_compile", "compileall", "json.tool", "mypy", "ruff")
GIT_LOOKS = frozenset({"status", "diff", "log", "show", "blame", "grep", "ls-files", "branch", "rev-parse"})
LOOK_NAMES = re.compile(
    r"(^|_)(test|tests|check|verify|validate|lint|status|get|show|list|find|search|read|open|view|inspect|query|"
    r"browse|follow|back|lookup|fetch|cat|describe|preview|diff|count|peek|look)($|_)"
)
PYTHON_WRITES = re.compile(
    r"open\([^)]*,\s*(mode\s*=\s*)?['\"][rb]?[wax+]|\.write(lines)?\(|\.to_(csv|json|excel|parquet|sql)\(|os\.(remove|unlink|rename|"
    r"replace|mkdir|makedirs|rmdir)|shutil\.|\.unlink\(|\.rename\(|\.mkdir\(|\.touch\(|write_(text|bytes)\(|"
    r"subprocess|os\.system|json\.dump\(|pickle\.dump\(|sqlite3"
)
SPLIT_PIECES = re.compile(r"\|\||&&|[;|\n]|(?<![<>&])&(?![>&])")  # not the & of 2>&1 or &>
REDIRECT = re.compile(r"(?<![0-9&<>])(\d?)>>?\s*(?!&)(\S+)")
NOT_RUN = "not run:"  # the episode ended (its time ran out) before the call could run
NOT_RUN_PREFIXES = ("error: invalid arguments", "error: arguments ", "error: unknown tool", NOT_RUN)


def ran(result: ToolResult) -> bool:
    """Whether the call reached the tool at all."""
    if result.fault == "error" or result.effect is None:
        return False
    return not result.output.startswith(NOT_RUN_PREFIXES)


def marks(call: ToolCall, result: ToolResult) -> list[Mark]:
    """What the call did, in order: changes and looks."""
    if not ran(result):
        return []
    effect = result.effect
    if effect == "none":
        return []
    if effect == "read":
        return ["look"]
    if effect == "change":
        return [] if result.is_error else ["change"]
    args = _arguments(call)
    for key in ("command", "cmd", "script"):
        if isinstance(args.get(key), str):
            return shell_marks(args[key])
    if isinstance(args.get("code"), str):
        return ["change", "look"] if PYTHON_WRITES.search(args["code"]) else ["look"]
    return ["look"] if LOOK_NAMES.search(call.name.lower()) else ["change"]


def shell_marks(command: str) -> list[Mark]:
    """The changes and looks of a shell command, piece by piece, in order."""
    found: list[Mark] = []
    for piece in SPLIT_PIECES.split(command):
        piece = piece.strip().lstrip("({").rstrip(")}").strip()
        if not piece or piece.startswith("#"):
            continue
        mark = _piece_mark(piece)
        if mark is not None:
            found.append(mark)
    return found


def _piece_mark(piece: str) -> Mark | None:
    writes_file = any(target not in ("/dev/null", "/dev/stdout", "/dev/stderr")
                      for _, target in REDIRECT.findall(piece))
    try:
        words = shlex.split(piece, comments=True)
    except ValueError:
        words = piece.split()
    words = [w for w in words if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w)]  # VAR=value prefixes
    while words and words[0] in ("sudo", "command", "exec", "nice", "nohup", "env", "then", "do", "else", "if",
                                 "while", "!", "timeout"):
        words = words[1:]
        if words and re.fullmatch(r"[0-9.]+[smh]?", words[0]):
            words = words[1:]
    if not words:
        return "change" if writes_file else None
    program = words[0].rsplit("/", 1)[-1]
    if writes_file:
        return "change"
    if program in NEUTRAL_COMMANDS:
        return None
    if program in ("sed", "perl") and any(w.startswith("-i") or w == "--in-place" for w in words[1:]):
        return "change"
    if program == "sort" and any(w.startswith("-o") for w in words[1:]):
        return "change"
    if program == "find" and any(w in ("-delete", "-exec", "-execdir") for w in words[1:]):
        return "change"
    if program == "git":
        return "look" if len(words) > 1 and words[1] in GIT_LOOKS else "change"
    if program in ("python", "python3") or re.fullmatch(r"python3\.\d+", program):
        return _python_mark(words[1:])
    if program == "tar":
        return "look" if len(words) > 1 and "t" in words[1].lstrip("-") else "change"
    if program in ("sed", "perl", "awk"):
        return "look"
    if program in ("npm", "yarn", "cargo", "go", "make") and len(words) > 1 and words[1] in ("test", "check"):
        return "look"
    if program in LOOK_COMMANDS:
        return "look"
    if program in CHANGE_COMMANDS:
        return "change"
    return "change"  # an unknown program may change anything: verifying needs a look after it


def _python_mark(args: list[str]) -> Mark:
    if len(args) >= 2 and args[0] == "-m":
        return "look" if args[1] in TEST_RUNNERS else "change"
    if len(args) >= 2 and args[0] == "-c":
        return "change" if PYTHON_WRITES.search(args[1]) else "look"
    script = args[0].rsplit("/", 1)[-1] if args else ""
    return "look" if "test" in script or "check" in script else "change"


def _arguments(call: ToolCall) -> dict[str, object]:
    if isinstance(call.arguments, dict):
        return call.arguments
    try:
        value = json.loads(call.arguments)
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}
