"""A private test split: a secret salt makes tasks nobody without it can regenerate, the same salt
reproduces them exactly, and the salt itself is stored nowhere (only its fingerprint)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from arena.config import RunConfig, generate
from arena.levels.worker import JobFamily
from arena.registry import FAMILIES, load_family
from arena.store import Store
from arena.types import salt_fingerprint

REPO = Path(__file__).resolve().parents[2]
SECRET = "a-team-secret-3f1e0c9d"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_the_same_salt_regenerates_a_task_and_another_does_not(name: str) -> None:
    family = load_family(name)
    for seed in (0, 1, 2):
        public = family.generate(seed, "test")
        mine, again = generate(family, seed, "test", SECRET), generate(family, seed, "test", SECRET)
        theirs = generate(family, seed, "test", "another secret")
        assert mine.model_dump() == again.model_dump()
        content = lambda t: (t.instructions, t.files, t.params)  # noqa: E731
        assert content(mine) != content(public) and content(mine) != content(theirs)
        assert mine.id.endswith("#" + salt_fingerprint(SECRET)) and mine.id != public.id
        assert SECRET not in mine.model_dump_json()
        # The dev split stays public whatever the salt.
        assert generate(family, seed, "dev", SECRET).model_dump() == family.generate(seed, "dev").model_dump()


def test_worker_jobs_take_the_salt_too() -> None:
    job, public = JobFamily("files", ["files", "data"], salt=SECRET), JobFamily("files", ["files", "data"])
    assert job.generate(4, "test").id != public.generate(4, "test").id
    assert [p.task.id for p in job.parts(job.generate(4, "test"))] != [
        p.task.id for p in public.parts(public.generate(4, "test"))]


def arena(*args: str, salt: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARENA_SALT"}
    if salt is not None:
        env["ARENA_SALT"] = salt
    return subprocess.run([sys.executable, "-m", "arena.cli", *args], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=300)


def test_a_private_run_stores_only_a_fingerprint_and_resumes_with_the_same_secret(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    first = arena("run", "--agents", "oracle,random", "--families", "helpdesk,web", "--split", "test", "--seeds",
                  "0-2", "--db", str(db), "--run-id", "p", "--quiet", salt=SECRET)
    assert first.returncode == 0, first.stderr
    assert "private split" in first.stdout
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path
    info = Store(db, read_only=True).get_run("p")
    assert info is not None and info.config["salt_fingerprint"] == salt_fingerprint(SECRET)
    assert all(e.task_id and "#" in e.task_id for e in Store(db, read_only=True).episodes("p"))
    missing = arena("run", "--resume", "--run-id", "p", "--db", str(db))
    assert missing.returncode == 2 and "private" in missing.stderr and "ARENA_SALT" in missing.stderr
    wrong = arena("run", "--resume", "--run-id", "p", "--db", str(db), salt="guess")
    assert wrong.returncode == 2 and "does not match" in wrong.stderr
    right = arena("run", "--resume", "--run-id", "p", "--db", str(db), salt=SECRET)
    assert right.returncode == 0, right.stderr


def test_a_salt_needs_families_that_take_it() -> None:
    from arena.errors import ConfigError
    from arena.runner import validate_config

    config = RunConfig(agents=["oracle"], families=["tests.minimal_family:GreetingFamily"], seeds=[0],
                       splits=["test"]).with_salt(SECRET)
    with pytest.raises(ConfigError, match="private split"):
        validate_config(config)
