"""The Tune run most tests make: a trainable, a config, checkpoints every few iterations."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tuner(
    trainable: Any,
    config: Any,
    storage: str | Path,
    iterations: int,
    *,
    every: int = 1,
    keep: int | None = None,
    **run_config: Any,
):
    """A quiet tune.Tuner that stops after ``iterations`` and checkpoints every ``every``.

    Args:
        trainable: The trainable (class or registered name).
        config: The param_space (an AlgorithmConfig).
        storage: Tune's storage_path.
        iterations: Training iterations to stop at.
        every: checkpoint_frequency.
        keep: num_to_keep (default: keep all).
        **run_config: More tune.RunConfig arguments (name, failure_config, ...).
    """
    from ray import tune

    return tune.Tuner(
        trainable,
        param_space=config,
        run_config=tune.RunConfig(
            storage_path=str(storage),
            stop={"training_iteration": iterations},
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=every, num_to_keep=keep),
            verbose=0,
            **run_config,
        ),
    )


def fit(*args: Any, **kwargs: Any):
    """Run :func:`tuner` and return its one trial's result, which must not have failed."""
    result = tuner(*args, **kwargs).fit()[0]
    assert result.error is None, result.error
    return result
