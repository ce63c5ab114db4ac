"""The README's one-file family runs as written: by import path, through the real CLI, runner and store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_readme_family_is_the_tested_file() -> None:
    readme = (REPO / "README.md").read_text()
    source = (REPO / "tests" / "minimal_family.py").read_text()
    assert source.split('"""', 2)[2].strip() in readme


def test_minimal_family_runs_in_bwrap(tmp_path: Path, need_bwrap: None) -> None:
    db = tmp_path / "m.db"
    cmd = [sys.executable, "-m", "arena.cli", "run", "--agents", "oracle,random", "--families",
           "tests.minimal_family:GreetingFamily", "--seeds", "0-4", "--trials", "2", "--db", str(db),
           "--run-id", "m", "--quiet", "--json"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    rates = {a["agent"]: a["success_rate"] for a in report["aggregates"]}
    assert rates == {"oracle": 1.0, "random": 0.0}
