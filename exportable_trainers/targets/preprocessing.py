"""Find how RLlib turns a raw observation into the network input, as data steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidOptionError

# New-stack env-to-module connectors that only batch / move data and never
# change an observation's values.
PASSTHROUGH_CONNECTORS = frozenset(
    {
        "AddObservationsFromEpisodesToBatch",
        "AddTimeDimToBatchAndZeroPad",
        "AddStatesFromEpisodesToBatch",
        "AgentToModuleMapping",
        "BatchIndividualItems",
        "NumpyToTensor",
    }
)


@dataclass
class Preprocessing:
    """Raw observation -> network input.

    Args:
        raw_space: Space of raw observations.
        model_space: Space of the network input.
        steps: Data description (see :mod:`exportable_trainers.preprocess`).
        apply_rllib: Applies RLlib's own preprocessing to a batch of raw
            observations (the reference for verification).
    """

    raw_space: Any
    model_space: Any
    steps: list[dict]
    apply_rllib: Callable[[np.ndarray], np.ndarray]


def _identity(space: Any) -> Preprocessing:
    dtype = getattr(space, "dtype", np.float32)
    return Preprocessing(
        raw_space=space,
        model_space=space,
        steps=[],
        apply_rllib=lambda obs: np.asarray(obs, dtype=dtype),
    )


def _connectors(algo: Any) -> list[Any]:
    runner = getattr(algo, "env_runner", None)
    pipeline = getattr(runner, "_env_to_module", None) if runner is not None else None
    if pipeline is None:
        pipeline = getattr(algo, "env_to_module_connector", None)
    return list(getattr(pipeline, "connectors", []) or [])


def new_stack_preprocessing(algo: Any, module_id: str, module: Any) -> Preprocessing:
    """The env-to-module preprocessing of one RLModule.

    Raises:
        InvalidOptionError: A connector changes observations in a way this
            package cannot reproduce outside Ray.
    """
    unknown = [
        type(c).__name__
        for c in _connectors(algo)
        if type(c).__name__ not in PASSTHROUGH_CONNECTORS
    ]
    if unknown:
        raise InvalidOptionError(
            f"module {module_id!r}: env-to-module connector(s) {', '.join(unknown)} change "
            "observations and cannot be exported yet"
        )
    return _identity(module.observation_space)


def old_stack_preprocessing(algo: Any, policy_id: str, policy: Any) -> Preprocessing:
    """The preprocessor and observation filter of one old-stack policy."""
    worker = algo.env_runner
    preprocessor = (getattr(worker, "preprocessors", None) or {}).get(policy_id)
    obs_filter = (getattr(worker, "filters", None) or {}).get(policy_id)
    kinds = []
    if preprocessor is not None and type(preprocessor).__name__ != "NoPreprocessor":
        kinds.append(type(preprocessor).__name__)
    if obs_filter is not None and type(obs_filter).__name__ != "NoFilter":
        kinds.append(type(obs_filter).__name__)
    if kinds:
        raise InvalidOptionError(
            f"policy {policy_id!r}: observation preprocessing {', '.join(kinds)} "
            "cannot be exported yet"
        )
    return _identity(policy.observation_space)
