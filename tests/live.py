"""RLlib's own outputs for a batch of raw observations, through RLlib's public API only.

Deliberately independent of exportable_trainers: the tests compare exports with
these numbers, not with the package's own reference code.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _stack(observations: list) -> np.ndarray:
    return np.stack([np.asarray(o) for o in observations])


def new_stack_outputs(algo: Any, policy_id: str, observations: list) -> dict[str, np.ndarray]:
    """Env-runner module (actions, distribution inputs) + learner module (values)."""
    import torch
    from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

    runner_module = algo.get_module(policy_id)
    learner_module = algo.learner_group._learner.module[policy_id]
    obs = torch.as_tensor(_stack(observations))
    with torch.no_grad():
        out = runner_module.forward_inference({"obs": obs})
        dist_cls = runner_module.get_inference_action_dist_cls()
        actions = dist_cls.from_logits(out["action_dist_inputs"]).to_deterministic().sample()
        actions = actions.numpy()
        values = learner_module.compute_values({"obs": obs}).numpy()
    space = runner_module.action_space
    if algo.config.normalize_actions:
        actions = unsquash_action(actions, space)
    elif algo.config.clip_actions:
        actions = clip_action(actions, space)
    return {
        "action": actions,
        "action_dist_inputs": out["action_dist_inputs"].numpy(),
        "vf_preds": values,
    }


def old_stack_outputs(algo: Any, policy_id: str, observations: list) -> dict[str, np.ndarray]:
    """Algorithm.compute_single_action(explore=False) per observation, with env-runner post-processing."""
    actions, dist_inputs, values = [], [], []
    for obs in observations:
        action, _, extra = algo.compute_single_action(
            obs,
            policy_id=policy_id,
            explore=False,
            full_fetch=True,
            unsquash_action=algo.config.normalize_actions,
            clip_action=algo.config.clip_actions,
        )
        actions.append(action)
        dist_inputs.append(extra["action_dist_inputs"])
        values.append(extra["vf_preds"])
    return {
        "action": np.stack([np.asarray(a) for a in actions]),
        "action_dist_inputs": np.stack(dist_inputs),
        "vf_preds": np.asarray(values),
    }


def live_outputs(algo: Any, policy_id: str, observations: list) -> dict[str, np.ndarray]:
    """RLlib's explore=False outputs on either API stack."""
    if algo.config.enable_rl_module_and_learner:
        return new_stack_outputs(algo, policy_id, observations)
    return old_stack_outputs(algo, policy_id, observations)


def assert_close(live: dict, exported: dict, atol: float, names: list[str] | None = None) -> None:
    """Every live output equals the exported one (discrete actions exactly)."""
    for name in names or list(live):
        want, got = np.asarray(live[name]), np.asarray(exported[name])
        assert got.shape == want.shape, f"{name}: shape {got.shape} != live {want.shape}"
        if want.dtype.kind in "iu":
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=name)
