"""Shared fixtures: one Ray session and one Ray-free worker per test session."""

from __future__ import annotations

import importlib.util
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


TF_INSTALLED = all(
    importlib.util.find_spec(name) is not None for name in ("tensorflow", "tf_keras", "keras")
)


def pytest_configure(config):
    """Import TensorFlow, eager, before RLlib can in sessions that are not the tf1 one.

    RLlib's try_import_tf switches TensorFlow to graph mode (disable_v2_behavior)
    when it is the first to import it, which a torch test triggers; the tf2 and
    eager tests that run later in the same session then see symbolic tensors.
    """
    if TF_INSTALLED and (config.option.markexpr or "").strip() != "tf1":
        from exportable_trainers.export.tf.setup import ensure_legacy_keras

        ensure_legacy_keras()
        import tensorflow  # noqa: F401


def pytest_collection_modifyitems(config, items):
    """Keep framework="tf" (graph mode) tests out of sessions that were not asked for them.

    A process cannot hold tf1 (graph-mode) and tf2 (eager) policies at once, so
    `make test` runs `pytest -m "not tf1"` and then `pytest -m tf1`. A plain
    `pytest` without -m runs the first part and says how to run the rest.
    """
    if not TF_INSTALLED:
        skip = pytest.mark.skip(
            reason="TensorFlow, tf_keras and keras are not installed (torch-only environment)"
        )
        for item in items:
            if item.get_closest_marker("requires_tf") or item.get_closest_marker("tf1"):
                item.add_marker(skip)
    if "tf1" in (config.option.markexpr or ""):
        return
    tf1 = [item for item in items if item.get_closest_marker("tf1")]
    if tf1:
        config.hook.pytest_deselected(items=tf1)
        items[:] = [item for item in items if not item.get_closest_marker("tf1")]
        config._tf1_deselected = len(tf1)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    n = getattr(config, "_tf1_deselected", 0)
    if n:
        terminalreporter.write_line(
            f"{n} framework='tf' (graph mode) tests were deselected: they need their own "
            "process; run `pytest -m tf1` (make test does)."
        )
