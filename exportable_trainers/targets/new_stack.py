"""Export targets on RLlib's new API stack (RLModule + Learner, torch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..exceptions import InvalidOptionError
from . import PolicyTarget
from .dists import action_spec
from .preprocessing import new_stack_preprocessing

ACTION_DIST_INPUTS = "action_dist_inputs"
ACTIONS = "actions"
VF_PREDS = "vf_preds"
Q_VALUES = "q_values"  # RLlib's "qf_preds" of a QNetAPI module (DQN)


def _learner_call(algo: Any, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(learner)`` on the local learner or on the first healthy remote one."""
    group = algo.learner_group
    if group.is_local:
        return fn(group._learner)
    actor_id = group._worker_manager.healthy_actor_ids()[0]
    results = group.foreach_learner(fn, remote_actor_ids=[actor_id])
    return group._get_results(results)[0]


def _trained(config: Any, module_id: str) -> bool:
    to_train = config.policies_to_train
    if to_train is None:
        return True
    if callable(to_train):
        return bool(to_train(module_id, None))
    return module_id in to_train


def module_ids(algo: Any) -> tuple[list[str], list[str]]:
    """(all module ids, trained module ids) held by the learner."""
    ids = _learner_call(algo, lambda learner: list(learner.module.keys()))
    return ids, [m for m in ids if _trained(algo.config, m)]


def _fetch_cpu_modules(learner: Any, ids: tuple[str, ...]) -> dict[str, Any]:
    # Runs on the learner (maybe remote): a CPU copy of the learner's own
    # module, which, unlike the env runners' inference_only copy, has every head.
    from ..exporters.torch_graph import cpu_copy

    out = {}
    for mid in ids:
        module = learner.module[mid]
        out[mid] = cpu_copy(module.unwrapped() if hasattr(module, "unwrapped") else module)
    return out


def _has_values(module: Any) -> bool:
    from ray.rllib.core.rl_module.apis import ValueFunctionAPI

    return isinstance(module, ValueFunctionAPI)


def _has_q_values(module: Any) -> bool:
    """A Q-network whose Q-values need only the observation (discrete actions)."""
    from gymnasium import spaces
    from ray.rllib.core.rl_module.apis import QNetAPI

    return isinstance(module, QNetAPI) and isinstance(module.action_space, spaces.Discrete)


def targets_for(algo: Any, ids: list[str]) -> dict[str, Callable[[], PolicyTarget]]:
    """One builder per module id; the learner's modules are fetched once for all."""
    modules = _learner_call(
        algo, lambda learner, _ids=tuple(ids): _fetch_cpu_modules(learner, _ids)
    )
    return {mid: (lambda mid=mid: _target(algo, mid, modules[mid])) for mid in ids}


def _target(algo: Any, module_id: str, module: Any) -> PolicyTarget:
    config = algo.config
    framework = config.framework_str
    if framework != "torch":
        raise InvalidOptionError(
            f"the new API stack with framework={framework!r} is not supported; RLlib's new "
            "stack is torch-only"
        )
    pre = new_stack_preprocessing(algo, module_id, module)
    action_space = module.action_space
    state = _state_entries(module)
    out_probe = _probe_outputs(module, pre.model_space, state)
    if ACTION_DIST_INPUTS in out_probe:
        head, dist_cls = ACTION_DIST_INPUTS, module.get_inference_action_dist_cls()
    elif _has_q_values(module):
        # DQN: forward_inference returns only the argmax; RLlib takes it from a
        # categorical distribution over the Q-values, exported as q_values.
        head, dist_cls = Q_VALUES, module.get_exploration_action_dist_cls()
    elif ACTIONS in out_probe:
        head, dist_cls = ACTIONS, None
    else:
        raise InvalidOptionError(
            f"module {module_id!r} ({type(module).__name__}): forward_inference returns neither "
            f"'{ACTION_DIST_INPUTS}' nor '{ACTIONS}'; there is no action to export"
        )
    if dist_cls is None:
        spec = _direct_action_spec(action_space, config)
    else:
        spec = action_spec(
            dist_cls, action_space, "new", config.normalize_actions, config.clip_actions
        )
    raw_outputs = [] if head == ACTIONS else [head]
    if _has_values(module):
        raw_outputs.append(VF_PREDS)

    def reference(obs: list, state_in: dict | None = None) -> dict[str, np.ndarray]:
        return _reference(
            module, pre.apply_rllib, obs, state_in, state, raw_outputs, config, action_space
        )

    return PolicyTarget(
        policy_id=module_id,
        framework=framework,
        api_stack="new",
        observation_space=pre.raw_space,
        action_space=action_space,
        model_observation_space=pre.model_space,
        preprocessing=pre.steps,
        action=spec,
        raw_outputs=raw_outputs,
        network=module,
        reference=reference,
        details={"module_class": f"{type(module).__module__}.{type(module).__qualname__}"},
        state=state,
        head_input=head,
    )


def _state_entries(module: Any) -> list[dict]:
    """Recurrent state of a stateful RLModule: per-sample shapes and initial values."""
    from ..recurrent import flatten_state

    if not module.is_stateful():
        return []
    return [
        {
            "key": key,
            "shape": list(value.shape),
            "dtype": str(value.dtype).replace("torch.", ""),
            "initial": value.detach().cpu().numpy(),
        }
        for key, value in flatten_state(module.get_initial_state())
    ]


def _probe_outputs(module: Any, model_space: Any, state: list[dict]) -> dict:
    import torch

    from ..recurrent import nest_state

    sample = torch.as_tensor(
        np.stack([model_space.sample() for _ in range(2)]).astype(model_space.dtype)
    )
    batch: dict = {"obs": sample}
    if state:
        batch = {
            "obs": sample[:, None],
            "state_in": nest_state(
                [s["key"] for s in state],
                [torch.as_tensor(np.stack([s["initial"]] * 2)) for s in state],
            ),
        }
    with torch.no_grad():
        return module.forward_inference(batch)


def _direct_action_spec(action_space: Any, config: Any) -> dict:
    from ..actions import action_dtype, action_shape, postprocess_spec

    return {
        "distribution": "direct",
        "dtype": action_dtype(action_space),
        "shape": action_shape(action_space),
        "postprocess": postprocess_spec(
            action_space, config.normalize_actions, config.clip_actions
        ),
    }


def _postprocess_like_rllib(actions: np.ndarray, action_space: Any, config: Any) -> np.ndarray:
    # Same rule as RLlib's NormalizeAndClipActions connector.
    from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

    if config.normalize_actions:
        return unsquash_action(actions, action_space)
    if config.clip_actions:
        return clip_action(actions, action_space)
    return actions


def _reference(
    module: Any,
    preprocess: Callable[[list], np.ndarray],
    obs: list,
    state_in: dict | None,
    state: list[dict],
    raw_outputs: list[str],
    config: Any,
    action_space: Any,
) -> dict[str, np.ndarray]:
    import torch

    from ..recurrent import flatten_state, nest_state, output_name

    x = torch.as_tensor(preprocess(obs))
    batch: dict = {"obs": x}
    if state:
        values = [
            torch.as_tensor(state_in[s["key"]])
            if state_in
            else torch.as_tensor(np.stack([s["initial"]] * len(obs)))
            for s in state
        ]
        # Stateful modules take [B, T, ...] observations; the export is one step.
        batch = {"obs": x[:, None], "state_in": nest_state([s["key"] for s in state], values)}
    with torch.no_grad():
        out = module.forward_inference(batch)
        squeeze = (lambda t: t[:, 0]) if state else (lambda t: t)
        if ACTIONS in out and ACTION_DIST_INPUTS not in out:
            actions = squeeze(out[ACTIONS])
        else:
            dist_cls = module.get_inference_action_dist_cls()
            actions = (
                dist_cls.from_logits(squeeze(out[ACTION_DIST_INPUTS])).to_deterministic().sample()
            )
        result = {"action": _postprocess_like_rllib(actions.numpy(), action_space, config)}
        if ACTION_DIST_INPUTS in raw_outputs:
            result[ACTION_DIST_INPUTS] = squeeze(out[ACTION_DIST_INPUTS]).numpy()
        if VF_PREDS in raw_outputs:
            result[VF_PREDS] = squeeze(module.compute_values(batch)).numpy()
        if Q_VALUES in raw_outputs:
            result[Q_VALUES] = squeeze(module.compute_q_values(batch)["qf_preds"]).numpy()
        for key, value in flatten_state(out.get("state_out", {})):
            result[output_name(key)] = value.numpy()
    return result
