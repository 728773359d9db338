"""Export targets on RLlib's new API stack (RLModule + Learner, torch).

A module's ``explore=False`` action is what RLlib's env runner computes: its
``forward_inference`` output's ``actions`` if it returns them, else the
deterministic sample of ``get_inference_action_dist_cls().from_logits(...)``
(RLlib's GetActions connector), then NormalizeAndClipActions. The reference used
for verification runs exactly those RLlib pieces; the exporters trace the same
calls into the graph.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...contract.observations import action_leaves
from ...exceptions import UnsupportedPolicyError
from .connectors import Preprocessing, new_stack_preprocessing
from .distributions import class_name
from .target import PolicyTarget, action_entry

ACTION_DIST_INPUTS = "action_dist_inputs"
ACTIONS = "actions"
VF_PREDS = "vf_preds"
Q_VALUES = "q_values"  # RLlib's "qf_preds" of a QNetAPI module (DQN)
PROBE_SAMPLES = 64  # probe batch; large enough to expose random actions


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


def _learner_only(module: Any) -> bool:
    """Whether a module lives on learners only (no env runner ever acts with it)."""
    flag = getattr(module, "learner_only", None)
    if flag is None:  # built through the deprecated RLModule(config=...) path
        flag = getattr(getattr(module, "config", None), "learner_only", False)
    return bool(flag)


def _module_facts(learner: Any) -> dict[str, bool]:
    # Runs on the learner: module id -> whether it is learner-only (no policy).
    return {mid: _learner_only(learner.module[mid]) for mid in learner.module.keys()}  # noqa: SIM118 (a MultiRLModule, no __iter__)


def _learner_only_in_spec(config: Any, module_id: str) -> bool:
    """The user's RLModuleSpec flag (a module built the deprecated way loses it)."""
    spec = getattr(config, "_rl_module_spec", None)
    specs = getattr(spec, "rl_module_specs", None)
    if isinstance(specs, dict) and module_id in specs:
        return bool(getattr(specs[module_id], "learner_only", False))
    return False


def module_ids(algo: Any) -> tuple[list[str], list[str]]:
    """(all module ids, the trained policies among them) held by the learner.

    Modules that are not policies (a shared encoder, a learner-only curiosity
    model) and modules left out of ``policies_to_train`` (heuristic opponents)
    are not exported unless named in the ``policies`` option.
    """
    facts = _learner_call(algo, _module_facts)
    policies = algo.config.policies or {}
    trained = [
        mid
        for mid, learner_only in facts.items()
        if mid in policies
        and not (learner_only or _learner_only_in_spec(algo.config, mid))
        and _trained(algo.config, mid)
    ]
    return list(facts), trained


@dataclass
class FetchedModule:
    """What the learner sends back for one module id.

    Args:
        module: CPU copy of the learner's module (full heads, unlike the env
            runners' inference-only copy); for a module that is not a torch
            module, a plain copy.
        container: CPU copy of the MultiRLModule when its own forward pass
            routes the batch (shared encoders), else None; ``module`` is then
            the container's sub-module.
    """

    module: Any
    container: Any = None


def _routes_forward(multi: Any) -> bool:
    """Whether a MultiRLModule subclass overrides how a batch reaches its modules."""
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModule

    cls = type(multi)
    return any(
        getattr(cls, name) is not getattr(MultiRLModule, name)
        for name in ("_forward", "_forward_inference")
    )


def _fetch(learner: Any, ids: tuple[str, ...]) -> dict[str, FetchedModule]:
    # Runs on the learner (maybe remote).
    from ..torch.graph import cpu_copy

    multi = learner.module
    if _routes_forward(multi):
        container = cpu_copy(multi)
        return {mid: FetchedModule(container[mid], container) for mid in ids}
    out = {}
    for mid in ids:
        module = multi[mid]
        out[mid] = FetchedModule(
            cpu_copy(module.unwrapped() if hasattr(module, "unwrapped") else module)
        )
    return out


def _restore_weights(fetched: dict[str, FetchedModule], checkpoint_dir: Any) -> None:
    """Load each fetched module's state from the RLlib checkpoint just written."""
    from pathlib import Path

    from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE

    root = Path(checkpoint_dir) / COMPONENT_LEARNER_GROUP / COMPONENT_LEARNER / COMPONENT_RL_MODULE
    modules = {}
    for mid, item in fetched.items():
        modules[mid] = item.module
        if item.container is not None:
            modules.update({m: item.container[m] for m in item.container.keys()})  # noqa: SIM118
    for mid, module in modules.items():
        if (root / mid).is_dir() and hasattr(module, "restore_from_path"):
            module.restore_from_path(root / mid)


def targets_for(
    algo: Any, ids: list[str], checkpoint_dir: Any = None
) -> dict[str, Callable[[], PolicyTarget]]:
    """One builder per module id; the learner's modules are fetched once for all.

    Args:
        algo: The live Algorithm.
        ids: Module ids to export.
        checkpoint_dir: An RLlib checkpoint to take the weights from (see
            :func:`exportable_trainers.export.rllib.selection.collect_target_builders`).
    """
    fetched = _learner_call(algo, lambda learner, _ids=tuple(ids): _fetch(learner, _ids))
    if checkpoint_dir is not None:
        _restore_weights(fetched, checkpoint_dir)
    return {mid: (lambda mid=mid: _target(algo, mid, fetched[mid])) for mid in ids}


class ModuleCall:
    """``forward_inference`` of one module, through its MultiRLModule when that routes batches.

    Args:
        fetched: The module (and container) to call.
        module_id: The module's id inside the container.
        state_template: ``get_initial_state()``, the structure ``state_in`` is
            rebuilt into; None when the module is stateless.
    """

    def __init__(self, fetched: FetchedModule, module_id: str, state_template: Any = None) -> None:
        self.module = fetched.module
        self.container = fetched.container
        self.module_id = module_id
        self.state_template = state_template

    def __call__(self, batch: dict) -> dict:
        if self.container is not None:
            return self.container.forward_inference({self.module_id: batch})[self.module_id]
        return self.module.forward_inference(batch)


def _owner(module_id: str, module: Any) -> str:
    return f"module {module_id!r} ({type(module).__name__})"


def _refuse(owner: str, why: str) -> UnsupportedPolicyError:
    return UnsupportedPolicyError(f"{owner}: {why}")


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def state_entries(module: Any, owner: str) -> list[dict]:
    """Recurrent state of a stateful RLModule: dotted keys, per-sample shapes, initial values.

    ``get_initial_state()`` may hold numpy arrays or tensors, nested in dicts
    or lists, under any key names without a dot.
    """
    import tree

    if not module.is_stateful():
        return []
    entries = []
    for path, value in tree.flatten_with_path(module.get_initial_state()):
        parts = [str(p) for p in path]
        if any("." in p or not p for p in parts):
            raise _refuse(
                owner,
                f"its recurrent state key {'/'.join(parts)!r} contains a '.' (or is empty); "
                "graph inputs are named state_in.<key>.<subkey>, so rename the key",
            )
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise _refuse(
                owner, f"its initial state {'.'.join(parts)!r} is not numeric ({array.dtype})"
            )
        entries.append(
            {
                "key": ".".join(parts),
                "shape": list(array.shape),
                "dtype": array.dtype.name,
                "initial": array,
            }
        )
    return entries


def model_batch(
    pre: Preprocessing, observations: list, state: list[dict], state_in: dict | None, template: Any
) -> dict:
    """The batch RLlib's env-to-module connectors give the module: obs (+ time axis, state)."""
    import torch
    import tree

    obs = tree.map_structure(torch.as_tensor, pre.apply_rllib(observations))
    n = len(observations)
    extra = {}
    if pre.is_first:  # every probe is an episode's first step; RLlib adds no time axis to it
        extra["is_first"] = torch.ones((n,), dtype=torch.float32)
    if not state:
        return {"obs": obs, **extra}
    values = [
        torch.as_tensor(
            np.asarray(state_in[s["key"]]) if state_in else np.stack([s["initial"]] * n)
        )
        for s in state
    ]
    # Stateful modules take [B, T, ...]; one step is T=1 (AddTimeDimToBatchAndZeroPad).
    return {
        "obs": tree.map_structure(lambda t: t[:, None], obs),
        "state_in": tree.unflatten_as(template, values),
        **extra,
    }


def _rllib_actions(module: Any, out: dict, stateful: bool, action_space: Any, config: Any) -> list:
    """RLlib's module-to-env pipeline on one forward_inference output, as action leaves."""
    import torch
    import tree
    from ray.rllib.connectors.module_to_env.get_actions import GetActions
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode
    from ray.rllib.utils.spaces.space_utils import (
        clip_action,
        get_base_struct_from_space,
        unsquash_action,
    )

    out = GetActions()(rl_module=module, batch=out, episodes=[SingleAgentEpisode()], explore=False)

    def to_numpy(x: Any) -> np.ndarray:
        x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        # RemoveSingleTsTimeRankFromBatch: a stateful module's actions lose the T=1 axis.
        return x[:, 0] if stateful else x

    actions = tree.map_structure(to_numpy, out[ACTIONS])
    struct = get_base_struct_from_space(action_space)
    if config.normalize_actions:
        actions = unsquash_action(actions, struct)
    elif config.clip_actions:
        actions = clip_action(actions, struct)
    return [np.asarray(a) for a in tree.flatten(actions)]


@dataclass
class _Reference:
    """RLlib's own outputs for raw observations (see the module docstring).

    Args:
        call: The module, called as the learner would route it.
        pre: RLlib's preprocessing of raw observations.
        state: The module's recurrent state entries.
        action_names: Graph names of the action leaves.
        config: The AlgorithmConfig (normalize_actions, clip_actions).
    """

    call: ModuleCall
    pre: Preprocessing
    state: list[dict]
    action_names: list[str]
    config: Any

    def __call__(
        self, obs: list, state_in: dict | None = None, raw_outputs: tuple[str, ...] = ()
    ) -> dict[str, np.ndarray]:
        """Each action leaf, each of ``raw_outputs`` and each ``state_out.<key>``."""
        import torch

        from ...contract.recurrent import output_name, state_values

        call, state = self.call, self.state

        def batch() -> dict:  # fresh each call: modules may pop keys from it
            return model_batch(self.pre, obs, state, state_in, call.state_template)

        def step(t: Any) -> np.ndarray:
            # A copy: numpy() shares memory with a tensor a distribution may change in place.
            t = t.detach().cpu().numpy().copy() if isinstance(t, torch.Tensor) else np.array(t)
            return t[:, 0] if state else t

        module = call.module
        with torch.no_grad():
            out = call(batch())
            # A distribution may change its inputs in place (e.g. logits /= temperature).
            result = {k: step(out[k]) for k in (ACTION_DIST_INPUTS,) if k in raw_outputs}
            states = {
                output_name(s["key"]): np.asarray(
                    v.detach().cpu().numpy() if hasattr(v, "detach") else v
                )
                for s, v in zip(
                    state, state_values(out.get("state_out", {}), [s["key"] for s in state])
                )
            }
            leaves = _rllib_actions(
                module, dict(out), bool(state), module.action_space, self.config
            )
            result.update(dict(zip(self.action_names, leaves)))
            if VF_PREDS in raw_outputs:
                result[VF_PREDS] = step(module.compute_values(batch()))
            if Q_VALUES in raw_outputs:
                result[Q_VALUES] = step(module.compute_q_values(batch())["qf_preds"])
        result.update(states)
        return result


def _probe_observations(space: Any, n: int = PROBE_SAMPLES) -> list:
    import copy

    space = copy.deepcopy(space)
    space.seed(12345)
    return [space.sample() for _ in range(n)]


def _check_deterministic(owner: str, first: dict, second: dict, names: list[str]) -> None:
    for name in names:
        a, b = np.asarray(first[name]), np.asarray(second[name])
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            raise _refuse(
                owner,
                "its explore=False actions differ between two calls on the same observations "
                f"({name}); a random or history-dependent heuristic has no deterministic export",
            )


def _check_actions(owner: str, leaves: list, action_space: Any, source: str) -> None:
    from ...contract.actions import action_shape

    expected = action_leaves(action_space)
    if len(leaves) != len(expected):
        raise _refuse(
            owner,
            f"its {source} give {len(leaves)} action part(s), but the action space {action_space} "
            f"has {len(expected)}",
        )
    for value, (name, leaf) in zip(leaves, expected):
        want = tuple(action_shape(leaf))
        if tuple(np.shape(value)[1:]) != want:
            raise _refuse(
                owner,
                f"its {source} give {name} of shape {tuple(np.shape(value)[1:])} per sample; "
                f"the action space {leaf} needs {want}",
            )


def _refuse_untraceable(owner: str, module: Any) -> UnsupportedPolicyError:
    """Why a module that is not a torch module cannot be exported (two calls tell)."""
    import torch
    import tree

    from ...contract.observations import batch_to_leaves, nest_leaves

    space = module.observation_space
    probe = _probe_observations(space)
    try:
        leaves = [torch.as_tensor(x) for x in batch_to_leaves(space, probe)]
        runs = []
        for _ in range(3):
            out = module.forward_inference({"obs": nest_leaves(space, leaves)})
            runs.append([np.asarray(a) for a in tree.flatten(out.get(ACTIONS, []))])
        random = any(
            len(r) != len(runs[0]) or any(not np.array_equal(a, b) for a, b in zip(r, runs[0]))
            for r in runs[1:]
        )
    except Exception:
        random = False
    if random:
        return _refuse(
            owner,
            "its explore=False actions differ between calls on the same observations (it "
            "acts at random), so no graph can reproduce them",
        )
    return _refuse(
        owner,
        "it is not a torch module (TorchRLModule), so its forward_inference cannot be "
        "traced into a graph; write it with torch operations on a TorchRLModule",
    )


def _has_values(module: Any) -> bool:
    from ray.rllib.core.rl_module.apis import ValueFunctionAPI

    return isinstance(module, ValueFunctionAPI)


def _has_q_values(module: Any) -> bool:
    """A Q-network whose Q-values need only the observation (discrete actions)."""
    from gymnasium import spaces
    from ray.rllib.core.rl_module.apis import QNetAPI

    return isinstance(module, QNetAPI) and isinstance(module.action_space, spaces.Discrete)


def _details(module_id: str, fetched: FetchedModule, config: Any) -> dict[str, Any]:
    """The manifest's ``details``: the module's class and the MultiRLModule it shares parts of."""
    details: dict[str, Any] = {"module_class": class_name(fetched.module)}
    if fetched.container is not None:
        details["multi_rl_module_class"] = class_name(fetched.container)
        # Parts of the MultiRLModule that are no policy of their own (a shared
        # encoder) belong to this module's self-contained graph.
        policies = config.policies or {}
        details["shared_modules"] = sorted(
            m
            for m in fetched.container.keys()  # noqa: SIM118 (MultiRLModule, no __iter__)
            if m != module_id and m not in policies
        )
    return details


def _target(algo: Any, module_id: str, fetched: FetchedModule) -> PolicyTarget:
    import torch

    config = algo.config
    module = fetched.module
    owner = _owner(module_id, module)
    if _learner_only(module) or _learner_only_in_spec(config, module_id):
        raise _refuse(
            owner,
            "it is learner_only: no env runner holds it and RLlib never acts with it, so it "
            "is no policy to export",
        )
    if not isinstance(module, torch.nn.Module):
        raise _refuse_untraceable(owner, module)
    pre = new_stack_preprocessing(algo, module_id, module)
    action_space = module.action_space
    action_names = [name for name, _ in action_leaves(action_space)]
    state = state_entries(module, owner)
    template = module.get_initial_state() if state else None
    call = ModuleCall(fetched, module_id, template)
    probe = _probe_observations(pre.raw_space)

    rllib = _Reference(call, pre, state, action_names, config)

    def run(raw_outputs: list[str]) -> dict[str, np.ndarray]:
        return rllib(probe, raw_outputs=tuple(raw_outputs))

    try:
        with torch.no_grad():
            out = call(model_batch(pre, probe, state, None, template))
    except Exception as exc:
        raise _refuse(
            owner, f"forward_inference fails on a batch of observations: {_cause(exc)}"
        ) from exc
    if ACTIONS in out:
        source, dist_cls = "module", None
    elif ACTION_DIST_INPUTS in out:
        source = "distribution"
        try:
            dist_cls = module.get_inference_action_dist_cls()
        except Exception as exc:
            raise _refuse(owner, f"get_inference_action_dist_cls() fails: {_cause(exc)}") from exc
    else:
        raise _refuse(
            owner,
            f"forward_inference returns neither '{ACTIONS}' nor '{ACTION_DIST_INPUTS}' "
            f"(it returns {', '.join(map(str, out)) or 'nothing'}); there is no action to export",
        )
    raw_outputs = [ACTION_DIST_INPUTS] if ACTION_DIST_INPUTS in out else []
    if _has_q_values(module) and source == "module":
        raw_outputs.append(Q_VALUES)
    try:
        reference = run(raw_outputs)
    except Exception as exc:
        what = "its action distribution" if dist_cls is not None else "its actions"
        name = class_name(dist_cls) if dist_cls is not None else "forward_inference"
        raise _refuse(owner, f"RLlib cannot compute {what} ({name}): {_cause(exc)}") from exc
    _check_deterministic(owner, reference, run(raw_outputs), action_names)
    if pre.is_first:
        raise _refuse(
            owner,
            "its env-to-module connector AddIsFirstsToBatch feeds episode starts (is_first) "
            "to the module, which exported graphs do not take as an input yet",
        )
    _check_actions(
        owner,
        [reference[n] for n in action_names],
        action_space,
        "forward_inference actions" if source == "module" else f"{class_name(dist_cls)} samples",
    )
    if _has_values(module):
        # Values are an extra output; a module whose compute_values needs more than
        # the observations (e.g. a shared encoder's output) is exported without them.
        try:
            run([*raw_outputs, VF_PREDS])
            raw_outputs.append(VF_PREDS)
        except Exception:
            pass

    return PolicyTarget(
        policy_id=module_id,
        owner=owner,
        framework="torch",  # the new stack's modules are torch modules (checked above)
        pre=pre,
        action_space=action_space,
        action=action_entry(config, action_space, dist_cls, "new", module),
        raw_outputs=raw_outputs,
        reference=functools.partial(rllib, raw_outputs=tuple(raw_outputs)),
        details=_details(module_id, fetched, config),
        state=state,
        module=call,
        dist_class=dist_cls,
    )
