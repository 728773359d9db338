"""Export targets on RLlib's old API stack (Policy + ModelV2; torch, tf, tf2)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ...contract.observations import action_leaves
from ...exceptions import UnsupportedPolicyError
from .connectors import old_stack_preprocessing
from .distributions import class_name
from .target import PolicyTarget, action_entry

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


def _action_leaves_like_rllib(actions: Any, policy: Any, config: Any) -> list[np.ndarray]:
    """The env runners' rule (sampler): normalize -> unsquash, else clip if asked; as leaves."""
    import tree
    from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

    if config.normalize_actions:
        actions = unsquash_action(actions, policy.action_space_struct)
    elif config.clip_actions:
        actions = clip_action(actions, policy.action_space_struct)
    return [np.asarray(a) for a in tree.flatten(actions)]


def _state_entries(policy: Any, owner: str) -> list[dict]:
    """Recurrent state of an old-stack policy (LSTM wrapper): list entries 0, 1, ..."""
    if not policy.is_recurrent():
        return []
    model_config = policy.config.get("model", {}) or {}
    unsupported = [
        k
        for k in ("lstm_use_prev_action", "lstm_use_prev_reward", "use_attention")
        if model_config.get(k)
    ]
    if unsupported:
        raise UnsupportedPolicyError(
            f"{owner}: recurrent models with {', '.join(unsupported)} cannot be "
            "exported yet (their graph needs the previous action / reward as inputs)"
        )
    return [
        {
            "key": str(i),
            "shape": list(np.shape(value)),
            "dtype": str(np.asarray(value).dtype),
            "initial": np.asarray(value),
        }
        for i, value in enumerate(policy.get_initial_state())
    ]


@contextlib.contextmanager
def _timestep_kept(policy: Any) -> Iterator[None]:
    """Leave the policy's timestep counter (read by exploration schedules) as it was."""
    counter = policy.global_timestep
    before = counter.numpy() if hasattr(counter, "numpy") else counter
    try:
        yield
    finally:
        if hasattr(policy.global_timestep, "assign"):
            policy.global_timestep.assign(before)
        else:
            policy.global_timestep = before


def _compute(policy: Any, obs: np.ndarray, state: list[dict], state_in: dict | None) -> tuple:
    """policy.compute_actions_from_input_dict with explore=False and optional state.

    The input-dict form is used because RLlib 2.60's tf2 eager policies mishandle
    compute_actions(state_batches=...) for LSTMs; state_in_<i> + seq_lens work.
    """
    from ray.rllib.policy.sample_batch import SampleBatch

    batch = {"obs": obs}
    for i, entry in enumerate(state):
        value = state_in[entry["key"]] if state_in else np.stack([entry["initial"]] * len(obs))
        batch[f"state_in_{i}"] = np.asarray(value)
    if state:
        batch["seq_lens"] = np.ones(len(obs), np.int32)
    with _timestep_kept(policy):
        return policy.compute_actions_from_input_dict(SampleBatch(batch), explore=False)


def _overrides_action_sampler(policy: Any) -> bool:
    from ray.rllib.utils.annotations import is_overridden

    # v2 policies mark the base method as not overridden; v1 policies hold a function or None.
    sampler = getattr(policy, "action_sampler_fn", None)
    return sampler is not None and bool(is_overridden(sampler))


def _target(algo: Any, policy_id: str) -> PolicyTarget:
    from ...contract.recurrent import output_name

    config = algo.config
    policy = algo.get_policy(policy_id)
    owner = f"policy {policy_id!r} ({type(policy).__name__})"
    if _overrides_action_sampler(policy):
        raise UnsupportedPolicyError(
            f"{owner}: its action_sampler_fn computes actions outside the model and the "
            "action distribution, so no graph can reproduce it"
        )
    pre = old_stack_preprocessing(algo, policy_id, policy)
    state = _state_entries(policy, owner)
    dist_class = policy.dist_class
    if dist_class is None:
        raise UnsupportedPolicyError(f"{owner}: it has no action distribution class (dist_class)")
    action_names = [name for name, _ in action_leaves(policy.action_space)]
    probe = [pre.raw_space.sample() for _ in range(2)]
    _, _, extra = _compute(policy, pre.apply_rllib(probe), state, None)
    raw_outputs = [k for k in (ACTION_DIST_INPUTS, VF_PREDS) if k in extra]

    def reference(obs: list, state_in: dict | None = None) -> dict[str, np.ndarray]:
        actions, state_out, fetches = _compute(policy, pre.apply_rllib(obs), state, state_in)
        result = dict(zip(action_names, _action_leaves_like_rllib(actions, policy, config)))
        for key in raw_outputs:
            result[key] = np.asarray(fetches[key])
        for entry, value in zip(state, state_out or []):
            result[output_name(entry["key"])] = np.asarray(value)
        return result

    model = policy.model
    return PolicyTarget(
        policy_id=policy_id,
        owner=owner,
        framework=policy.framework,
        pre=pre,
        action_space=policy.action_space,
        action=action_entry(config, policy.action_space, dist_class, "old"),
        raw_outputs=raw_outputs,
        reference=reference,
        details={
            "policy_class": class_name(policy),
            "model_class": class_name(model),
        },
        state=state,
        policy=policy,
        dist_class=dist_class,
    )
