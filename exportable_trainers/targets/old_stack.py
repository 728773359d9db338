"""Export targets on RLlib's old API stack (Policy + ModelV2; torch, tf, tf2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import PolicyTarget
from .dists import action_spec
from .preprocessing import old_stack_preprocessing

ACTION_DIST_INPUTS = "action_dist_inputs"
VF_PREDS = "vf_preds"


def policy_ids(algo: Any) -> tuple[list[str], list[str]]:
    """(all policy ids, trained policy ids) of the local env runner."""
    worker = algo.env_runner
    ids = list(worker.policy_map.keys())
    to_train = worker.get_policies_to_train()
    trained = [pid for pid in ids if pid in to_train]
    return ids, trained


def targets_for(algo: Any, ids: list[str]) -> dict[str, Callable[[], PolicyTarget]]:
    """One builder per policy id."""
    return {pid: (lambda pid=pid: _target(algo, pid)) for pid in ids}


def _postprocess_like_rllib(actions: np.ndarray, policy: Any, config: Any) -> np.ndarray:
    # The env runners' rule (sampler): normalize -> unsquash, else clip if asked.
    from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

    if config.normalize_actions:
        return unsquash_action(actions, policy.action_space_struct)
    if config.clip_actions:
        return clip_action(actions, policy.action_space_struct)
    return actions


def _target(algo: Any, policy_id: str) -> PolicyTarget:
    config = algo.config
    policy = algo.get_policy(policy_id)
    pre = old_stack_preprocessing(algo, policy_id, policy)
    spec = action_spec(
        policy.dist_class,
        policy.action_space,
        "old",
        config.normalize_actions,
        config.clip_actions,
    )
    obs = [pre.raw_space.sample() for _ in range(2)]
    _, _, extra = policy.compute_actions(pre.apply_rllib(obs), explore=False)
    raw_outputs = [k for k in (ACTION_DIST_INPUTS, VF_PREDS) if k in extra]

    def reference(obs: np.ndarray) -> dict[str, np.ndarray]:
        actions, _, fetches = policy.compute_actions(pre.apply_rllib(obs), explore=False)
        result = {"action": _postprocess_like_rllib(np.asarray(actions), policy, config)}
        for key in raw_outputs:
            result[key] = np.asarray(fetches[key])
        return result

    model = policy.model
    return PolicyTarget(
        policy_id=policy_id,
        framework=policy.framework,
        api_stack="old",
        observation_space=pre.raw_space,
        action_space=policy.action_space,
        model_observation_space=pre.model_space,
        preprocessing=pre.steps,
        action=spec,
        raw_outputs=raw_outputs,
        network=policy,
        reference=reference,
        details={
            "policy_class": f"{type(policy).__module__}.{type(policy).__qualname__}",
            "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        },
    )
