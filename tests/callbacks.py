"""Callbacks used by the Tune tests (importable by Ray workers through PYTHONPATH)."""

from __future__ import annotations

from pathlib import Path


def fail_once_at_iteration_2(*, algorithm, result, **kwargs) -> None:
    """Crash the trial at iteration 2 the first time only.

    The config attribute ``test_fail_marker`` names a file that records the crash.
    """
    marker = Path(algorithm.config.test_fail_marker)
    if result["training_iteration"] == 2 and not marker.exists():
        marker.touch()
        raise RuntimeError("injected failure at iteration 2")
