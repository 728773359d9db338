"""Shared fixtures: one Ray session and one Ray-free worker per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Ray workers inherit the driver's environment at ray.init: let them import tests.*
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def ray_session():
    """A local Ray instance shared by every test that trains."""
    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def rayfree(tmp_path_factory):
    """Runs exports in a subprocess where ``import ray`` fails."""
    from tests.rayfree import RayFreeRunner

    runner = RayFreeRunner(tmp_path_factory.mktemp("rayfree"))
    yield runner
    runner.close()
