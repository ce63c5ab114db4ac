"""A regular (non-editable) install imports the engine and both mapped packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_regular_install_imports_mapped_packages(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(REPO)],
        check=True, capture_output=True, text=True,
    )
    code = (
        "import arena, arena.environments, arena.agents, arena.agents.oracle, arena.sandbox;"
        "from arena.registry import FAMILIES, load_family; [load_family(f) for f in FAMILIES];"
        "import gymnasium;"
        "print(arena.__file__); print(arena.environments.__file__); print(arena.agents.__file__);"
        "print('arena/files-v0' in gymnasium.registry)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        check=True, capture_output=True, text=True,
    ).stdout.split()
    assert all(line.startswith(str(target)) for line in out[:3]), out
    assert out[1].endswith("arena/environments/__init__.py") and out[2].endswith("arena/agents/__init__.py")
    assert out[3] == "True"
    assert (target / "bin" / "arena").exists()
    assert (target / "arena" / "sandbox" / "execserver.c").is_file()  # the native exec server's source
