"""Find how RLlib turns a raw observation into the network input, as data steps.

Old stack: the env runner's preprocessor (one-hot / Dict / Tuple flattening)
and observation filter (MeanStdFilter). New stack: the env-to-module connectors
FlattenObservations and MeanStdFilter. Anything else that changes observations
is refused with a message naming it, because the export could not reproduce it.

Each result also carries ``apply_rllib``: the same transformation done by RLlib's
own objects, used as the reference when exports are verified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...contract.observations import (
    flatten_step,
    leaf_dtype,
    mean_std_step,
    nest_leaves,
    observation_leaves,
)
from ...exceptions import UnsupportedPolicyError
from .compat import flatten_keys_to_remove

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
# Adds an ``is_first`` column (1.0 at an episode's first step) next to the observations.
EPISODE_START_CONNECTOR = "AddIsFirstsToBatch"
# Old-stack preprocessors whose effect is gymnasium-style flattening.
FLATTENING_PREPROCESSORS = frozenset(
    {"OneHotPreprocessor", "DictFlatteningPreprocessor", "TupleFlatteningPreprocessor"}
)


@dataclass
class Preprocessing:
    """Raw observation -> network input.

    Args:
        raw_space: Space of raw observations.
        model_space: Space of the network input.
        steps: Data description (see :mod:`exportable_trainers.contract.observations`).
        apply_rllib: Applies RLlib's own preprocessing to a list of raw
            observations and returns the stacked network input.
        is_first: Whether a connector adds the ``is_first`` column (episode
            starts) to the module's batch (DreamerV3's AddIsFirstsToBatch).
    """

    raw_space: Any
    model_space: Any
    steps: list[dict]
    apply_rllib: Callable[[list], np.ndarray]
    is_first: bool = False


def _leaf_values(space: Any, obs: Any) -> list:
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return [
            v for key in sorted(space.spaces) for v in _leaf_values(space.spaces[key], obs[key])
        ]
    if isinstance(space, spaces.Tuple):
        return [v for sub, item in zip(space.spaces, obs) for v in _leaf_values(sub, item)]
    return [obs]


def _structure_stacker(space: Any) -> Callable[[list], Any]:
    """Batch Dict / Tuple observations the module consumes as they are (BatchIndividualItems)."""
    leaves = observation_leaves(space)

    def apply(observations: list) -> Any:
        values = [_leaf_values(space, obs) for obs in observations]
        stacked = [
            np.stack([np.asarray(v[i]) for v in values]).astype(leaf_dtype(leaf), copy=False)
            for i, (_, leaf) in enumerate(leaves)
        ]
        return nest_leaves(space, stacked)

    return apply


def _stacker(
    model_space: Any, transforms: list[Callable[[Any], Any]]
) -> Callable[[list], np.ndarray]:
    if not transforms and len(observation_leaves(model_space)) > 1:
        return _structure_stacker(model_space)
    dtype = getattr(model_space, "dtype", None) or np.float32

    def apply(observations: list) -> np.ndarray:
        out = []
        for obs in observations:
            for transform in transforms:
                obs = transform(obs)
            out.append(np.asarray(obs))
        return np.stack(out).astype(dtype, copy=False)

    return apply


def _mean_std(obs_filter: Any) -> tuple[dict, Callable[[Any], Any]]:
    """The ``mean_std`` step of an RLlib MeanStdFilter and RLlib's own transform (both stacks)."""
    from ray.rllib.utils.numpy import SMALL_NUMBER

    stats = obs_filter.running_stats
    step = mean_std_step(
        stats.mean, stats.std, obs_filter.demean, obs_filter.destd, obs_filter.clip, SMALL_NUMBER
    )
    return step, lambda obs, _f=obs_filter: _f(obs, update=False)


def _refuse(owner: str, what: str, why: str) -> UnsupportedPolicyError:
    return UnsupportedPolicyError(f"{owner}: {what} cannot be exported: {why}")


# ----------------------------------------------------------------- new stack


def _connectors(algo: Any) -> list[Any]:
    runner = getattr(algo, "env_runner", None)
    pipeline = getattr(runner, "_env_to_module", None) if runner is not None else None
    if pipeline is None:
        pipeline = getattr(algo, "env_to_module_connector", None)
    return list(getattr(pipeline, "connectors", []) or [])


def _single_filter(connector: Any, owner: str) -> Any:
    filters = connector._filters
    if filters is None:
        connector._init_new_filters()
        filters = connector._filters
    if connector._multi_agent or set(filters) != {None}:
        raise _refuse(owner, "a multi-agent MeanStdFilter connector", "not supported yet")
    return filters[None]


def _agent_of(transforming: list[Any], module: Any, owner: str) -> Any:
    """The agent whose (multi-agent) connector output is what ``module`` receives.

    Multi-agent connectors work per agent; a module sees the output of the agents
    mapped to it. Those agents are recognised by the space the pipeline gives
    them; they must agree on their raw space and on being flattened or not.
    """
    out_spaces = transforming[-1].observation_space
    raw_spaces = transforming[0].input_observation_space
    candidates = [a for a, sp in out_spaces.spaces.items() if sp == module.observation_space]
    if not candidates:
        raise _refuse(
            owner,
            "its observations",
            "no agent's observations, after the env-to-module connectors, fit the module's "
            f"observation space {module.observation_space}",
        )
    if len({repr(raw_spaces[a]) for a in candidates}) > 1:
        raise _refuse(
            owner,
            "its observations",
            f"the agents {candidates} that feed it have different raw observation spaces",
        )
    return candidates[0]


def new_stack_preprocessing(algo: Any, module_id: str, module: Any) -> Preprocessing:
    """The env-to-module preprocessing of one RLModule.

    Raises:
        UnsupportedPolicyError: A connector changes observations in a way this
            package cannot reproduce outside Ray.
    """
    from ray.rllib.utils.numpy import flatten_inputs_to_1d_tensor

    owner = f"module {module_id!r} ({type(module).__name__})"
    connectors = _connectors(algo)
    is_first = any(type(c).__name__ == EPISODE_START_CONNECTOR for c in connectors)
    transforming = [
        c
        for c in connectors
        if type(c).__name__ not in PASSTHROUGH_CONNECTORS | {EPISODE_START_CONNECTOR}
    ]
    if not transforming:
        space = module.observation_space
        return Preprocessing(space, space, [], _stacker(space, []), is_first)
    multi_agent = any(getattr(c, "_multi_agent", False) for c in transforming)
    agent = _agent_of(transforming, module, owner) if multi_agent else None
    raw_space = transforming[0].input_observation_space
    if multi_agent:
        raw_space = raw_space[agent]
    steps: list[dict] = []
    transforms: list[Callable[[Any], Any]] = []
    for connector in transforming:
        name = type(connector).__name__
        if name == "FlattenObservations":
            if flatten_keys_to_remove(connector):
                raise _refuse(owner, "FlattenObservations with keys_to_remove", "not supported yet")
            in_space = connector.input_observation_space
            struct = connector._input_obs_base_struct
            if multi_agent:
                if connector._agent_ids is not None and agent not in connector._agent_ids:
                    continue  # this agent's observations pass unflattened
                in_space, struct = in_space[agent], struct[agent]
            step = flatten_step(in_space, honor_start=False)
            for (path, leaf), encoded in zip(observation_leaves(in_space), step["leaves"]):
                if encoded.get("starts") and any(np.asarray(leaf.start).reshape(-1) != 0):
                    raise _refuse(
                        owner,
                        f"observation {path} ({leaf})",
                        "RLlib's FlattenObservations one-hots Discrete values without their "
                        "start offset; use start=0",
                    )
            steps.append(step)
            transforms.append(
                lambda obs, _s=struct: flatten_inputs_to_1d_tensor(obs, _s, batch_axis=False)
            )
        elif name == "MeanStdFilter":
            obs_filter = _single_filter(connector, owner)
            if not hasattr(obs_filter.running_stats, "mean"):
                raise _refuse(owner, "MeanStdFilter on a Dict / Tuple observation", "flatten first")
            step, transform = _mean_std(obs_filter)
            steps.append(step)
            transforms.append(transform)
        else:
            raise _refuse(
                owner,
                f"env-to-module connector {name}",
                "it changes observations and has no graph equivalent",
            )
    return Preprocessing(
        raw_space,
        module.observation_space,
        steps,
        _stacker(module.observation_space, transforms),
        is_first,
    )


# ----------------------------------------------------------------- old stack


def _check_flattening(preprocessor: Any, owner: str) -> None:
    name = type(preprocessor).__name__
    if name == "NoPreprocessor":
        return
    if name not in FLATTENING_PREPROCESSORS:
        raise _refuse(owner, f"observation preprocessor {name}", "it has no graph equivalent")
    for sub in getattr(preprocessor, "preprocessors", []) or []:
        if sub is not None:
            _check_flattening(sub, owner)


# Old-stack agent connectors that never change observation values.
PASSTHROUGH_AGENT_CONNECTORS = frozenset(
    {"ClipRewardAgentConnector", "StateBufferConnector", "ViewRequirementAgentConnector"}
)


def _old_stack_objects(algo: Any, policy_id: str, policy: Any, owner: str) -> tuple[Any, Any]:
    """(preprocessor, MeanStdFilter) the policy's observations go through.

    In Ray 2.60 the old stack preprocesses with the policy's agent connectors
    (what sampling and Algorithm.compute_single_action use); a policy without
    them falls back to the env runner's preprocessor / filter maps.
    """
    pipeline = getattr(policy, "agent_connectors", None)
    if pipeline is None:
        worker = algo.env_runner
        preprocessor = (getattr(worker, "preprocessors", None) or {}).get(policy_id)
        obs_filter = (getattr(worker, "filters", None) or {}).get(policy_id)
        if obs_filter is not None and type(obs_filter).__name__ == "NoFilter":
            obs_filter = None
        return preprocessor, obs_filter
    preprocessor = obs_filter = None
    for connector in pipeline.connectors:
        name = type(connector).__name__
        if name == "ObsPreprocessorConnector":
            preprocessor = connector._preprocessor
        elif name in (
            "MeanStdObservationFilterAgentConnector",
            "ConcurrentMeanStdObservationFilterAgentConnector",
        ):
            obs_filter = connector.filter
        elif name not in PASSTHROUGH_AGENT_CONNECTORS:
            raise _refuse(owner, f"agent connector {name}", "it may change observations")
    return preprocessor, obs_filter


def old_stack_preprocessing(algo: Any, policy_id: str, policy: Any) -> Preprocessing:
    """The observation preprocessor and MeanStdFilter of one old-stack policy."""
    owner = f"policy {policy_id!r} ({type(policy).__name__})"
    model_space = policy.observation_space
    raw_space = getattr(model_space, "original_space", model_space)
    preprocessor, obs_filter = _old_stack_objects(algo, policy_id, policy, owner)
    steps: list[dict] = []
    transforms: list[Callable[[Any], Any]] = []
    if preprocessor is not None and type(preprocessor).__name__ != "NoPreprocessor":
        _check_flattening(preprocessor, owner)
        steps.append(flatten_step(raw_space, honor_start=True))
        transforms.append(preprocessor.transform)
    elif len(observation_leaves(raw_space)) != 1:
        raise _refuse(
            owner, f"observation space {raw_space}", "it is not flattened by a preprocessor"
        )
    if obs_filter is not None:
        if type(obs_filter).__name__ not in (
            "MeanStdFilter",
            "ConcurrentMeanStdFilter",
        ) or not hasattr(obs_filter.running_stats, "mean"):
            raise _refuse(
                owner,
                f"observation filter {type(obs_filter).__name__}",
                "only MeanStdFilter is supported",
            )
        step, transform = _mean_std(obs_filter)
        steps.append(step)
        transforms.append(transform)
    return Preprocessing(raw_space, model_space, steps, _stacker(model_space, transforms))
