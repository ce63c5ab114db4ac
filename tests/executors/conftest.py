"""A real local Ray cluster for the executor tests: one head on 127.0.0.1 with 2 CPUs, started once
per session in a process of its own, so a test can kill its workers and its drivers freely."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require

REPO = Path(__file__).resolve().parents[2]
# Ray binds the node's outward address unless told it is a one-machine cluster: keep it on loopback.
# Token authentication, as a real cluster would have it (the head makes ~/.ray/auth_token if missing).
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
HEAD = """
import sys, ray
ray.init(address="local", num_cpus=2, object_store_memory=100 * 2**20, include_dashboard=False,
         logging_level="ERROR", log_to_driver=False)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # the test session closes stdin when it ends (or dies)
ray.shutdown()
"""


@pytest.fixture(scope="session")
def ray_cluster(need_bwrap: None) -> Iterator[str]:
    """The address of the running head (HOST:PORT)."""
    require(importlib.util.find_spec("ray") is not None, "Ray", "pip install '.[ray]' (scripts/setup.sh does)")
    os.environ.update(LOOPBACK)  # this process is a driver too; set before ray is imported
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    head = subprocess.Popen([sys.executable, "-c", HEAD], cwd=REPO, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert head.stdout is not None and head.stdin is not None
    address = head.stdout.readline().strip()
    if not address:
        head.kill()
        pytest.fail("the Ray head did not start", pytrace=False)
    try:
        yield address
    finally:
        head.stdin.close()
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
