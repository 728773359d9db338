"""torch export wrappers: raw observations in, RLlib's explore=False action and raw outputs out.

What RLlib computes with torch is traced, not re-implemented: a new-stack module's
``forward_inference`` (through its MultiRLModule when that routes batches) and its
inference distribution's ``from_logits(...).to_deterministic().sample()``; an
old-stack model and its ``dist_class(...).deterministic_sample()``. Only RLlib's
numpy connectors are re-implemented here, after exportable_trainers.contract.observations
and exportable_trainers.contract.actions: observation flattening / MeanStdFilter and
NormalizeAndClipActions.

Each wrapper owns a CPU copy of the network, so tracing and ONNX conversion never
touch the live (learner / policy) module.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ...contract.ops import TorchBackend, action_bounds, finish_action, mean_std_arrays, preprocess
from ...contract.recurrent import state_values
from ...exceptions import InvalidOptionError

ACTION_DIST_INPUTS = "action_dist_inputs"
ACTIONS = "actions"


def _torch_modules(obj: Any) -> list[nn.Module]:
    if isinstance(obj, nn.Module):
        return [obj]
    # A MultiRLModule is not an nn.Module itself; its sub-modules are.
    subs = getattr(obj, "_rl_modules", None)
    return [m for m in (subs or {}).values() if isinstance(m, nn.Module)]


def cpu_copy(module: Any) -> Any:
    """A frozen CPU copy of ``module`` (an nn.Module or a MultiRLModule) in eval mode.

    ModelV2s keep the last forward pass's outputs (non-leaf tensors) as
    attributes, which deepcopy refuses; those are copied detached. Objects that
    hold no torch module are deep-copied as they are.
    """
    memo: dict[int, Any] = {}

    def detach_into_memo(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            if value.grad_fn is not None:
                memo[id(value)] = value.detach()
        elif isinstance(value, dict):
            for item in value.values():
                detach_into_memo(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                detach_into_memo(item)

    for top in _torch_modules(module):
        for sub in top.modules():
            for value in vars(sub).values():
                detach_into_memo(value)
    clone = copy.deepcopy(module, memo)
    for top in _torch_modules(clone):
        top.to("cpu").eval()
        for p in top.parameters():
            p.requires_grad_(False)
    return clone


class ObservationEncoder(nn.Module):
    """Turn the raw observation leaves into the network input.

    The torch form of :func:`exportable_trainers.contract.ops.preprocess`, the
    MeanStdFilter statistics held as buffers. Without steps, a Dict / Tuple
    observation reaches the network as the same structure of tensors (the
    module consumes it as RLlib batches it).

    Args:
        steps: The target's preprocessing steps.
        space: The raw observation space (its leaves are the graph inputs).
    """

    def __init__(self, steps: list[dict], space: Any) -> None:
        from ...contract.observations import observation_leaves

        super().__init__()
        self.space = space
        self.steps = steps
        self.backend = TorchBackend()
        n_leaves = len(observation_leaves(space))
        self.nest = not steps and n_leaves > 1
        for i, step in enumerate(steps):
            if step.get("op") == "mean_std":
                mean, denom = mean_std_arrays(step)
                self.register_buffer(f"mean_{i}", torch.as_tensor(mean))
                self.register_buffer(f"denom_{i}", torch.as_tensor(denom))

    def forward(self, leaves: list[torch.Tensor]) -> Any:
        if self.nest:
            from ...contract.observations import nest_leaves

            return nest_leaves(self.space, list(leaves))
        return preprocess(
            self.backend, self.steps, list(leaves), lambda name, _: getattr(self, name)
        )


class ActionFinisher(nn.Module):
    """RLlib's NormalizeAndClipActions on each action leaf, then the leaf's dtype.

    The torch form of :func:`exportable_trainers.contract.ops.finish_action`,
    the bounds held as buffers.

    Args:
        leaves: The action spec's ``leaves`` (name, dtype, shape, postprocess).
    """

    def __init__(self, leaves: list[dict]) -> None:
        super().__init__()
        self.leaves = leaves
        self.backend = TorchBackend()
        for i, leaf in enumerate(leaves):
            if leaf["dtype"] not in TorchBackend.DTYPES:
                raise InvalidOptionError(
                    f"action {leaf['name']}: unsupported dtype {leaf['dtype']}"
                )
            for name, values in action_bounds(leaf).items():
                self.register_buffer(f"{name}_{i}", torch.as_tensor(values))

    def forward(self, actions: list[torch.Tensor]) -> list[torch.Tensor]:
        return [
            finish_action(self.backend, a, leaf, lambda name, _, i=i: getattr(self, f"{name}_{i}"))
            for i, (a, leaf) in enumerate(zip(actions, self.leaves))
        ]


def _flatten_actions(actions: Any) -> list[torch.Tensor]:
    import tree

    return list(tree.flatten(actions))


class ModuleStep(nn.Module):
    """A new-stack RLModule's explore=False step, as RLlib's env runner computes it.

    ``forward_inference`` (through the MultiRLModule when it routes batches),
    then the module's ``actions`` or its inference distribution's deterministic
    sample, the single time step removed for stateful modules.

    Args:
        target: The PolicyTarget (its ``module`` call, state and raw outputs).
        raw_outputs: The raw outputs to give; default: the target's.
    """

    def __init__(self, target: Any, raw_outputs: list[str] | None = None) -> None:
        super().__init__()
        call = target.module
        self.call = call
        self.module = call.module
        shared = target.details.get("shared_modules", [])
        # Registered so their weights are the graph's parameters (and refreshed).
        self.shared = nn.ModuleDict(
            {
                mid: call.container[mid]
                for mid in shared
                if isinstance(call.container[mid], nn.Module)
            }
        )
        self.dist_cls = target.dist_class
        self.raw_outputs = list(target.raw_outputs if raw_outputs is None else raw_outputs)
        self.state_keys = [s["key"] for s in target.state]
        self.template = call.state_template

    def _batch(self, obs: Any, states: tuple) -> dict:
        import tree

        # New containers for every call: modules may pop keys from their batch.
        if not self.state_keys:
            return {"obs": tree.map_structure(lambda t: t, obs)}
        # Stateful modules take [B, T, ...]; the export is a single step (T=1).
        return {
            "obs": tree.map_structure(lambda t: t.unsqueeze(1), obs),
            "state_in": tree.unflatten_as(self.template, list(states)),
        }

    def forward(self, obs: Any, *states: torch.Tensor) -> tuple[list, list, list]:
        out = self.call(self._batch(obs, states))

        def step(t: torch.Tensor) -> torch.Tensor:
            return t[:, 0] if self.state_keys else t

        raw = {}
        if ACTION_DIST_INPUTS in out:
            raw[ACTION_DIST_INPUTS] = out[ACTION_DIST_INPUTS]
        if ACTIONS in out:
            actions = out[ACTIONS]
        else:
            # A distribution may change its inputs in place (logits /= temperature).
            dist = self.dist_cls.from_logits(out[ACTION_DIST_INPUTS].clone())
            actions = dist.to_deterministic().sample()
        leaves = [step(a) for a in _flatten_actions(actions)]
        results = []
        for name in self.raw_outputs:
            if name == "vf_preds":
                results.append(step(self.module.compute_values(self._batch(obs, states))))
            elif name == "q_values":
                q = self.module.compute_q_values(self._batch(obs, states))["qf_preds"]
                results.append(step(q))
            else:
                results.append(step(raw[name]))
        state_out = state_values(out["state_out"], self.state_keys) if self.state_keys else []
        return leaves, results, state_out


class ModelV2Step(nn.Module):
    """An old-stack TorchModelV2 and its ``dist_class(...).deterministic_sample()``, one step.

    Args:
        model: CPU copy of the policy's model.
        dist_class: The policy's action-distribution class.
        raw_outputs: Names to return, e.g. ["action_dist_inputs", "vf_preds"].
        n_state: Number of recurrent state tensors (0 when stateless).
    """

    def __init__(
        self, model: nn.Module, dist_class: Any, raw_outputs: list[str], n_state: int
    ) -> None:
        super().__init__()
        self.model = model
        self.dist_class = dist_class
        self.raw_outputs = list(raw_outputs)
        self.n_state = n_state
        # SAC-style models return an embedding; the policy head is separate.
        self.action_model = hasattr(model, "get_action_model_outputs")

    def forward(self, obs: torch.Tensor, *states: torch.Tensor) -> tuple[list, list, list]:
        input_dict = {"obs": obs, "obs_flat": obs, "is_training": False}
        if self.n_state:
            # One time step per sequence: RLlib adds the time axis from seq_lens' shape.
            seq_lens = torch.ones(obs.shape[0], dtype=torch.int32)
            logits, state_out = self.model(input_dict, list(states), seq_lens)
        else:
            logits, state_out = self.model(input_dict, [], None)
        if self.action_model:
            logits, _ = self.model.get_action_model_outputs(logits)
        dist = self.dist_class(logits, self.model)
        leaves = _flatten_actions(dist.deterministic_sample())
        results = []
        for name in self.raw_outputs:
            results.append(self.model.value_function() if name == "vf_preds" else logits)
        return leaves, results, list(state_out[: self.n_state])


class PolicyGraph(nn.Module):
    """(raw observation leaves, state...) -> (action leaves..., raw outputs..., next state...).

    Args:
        encoder: Builds the network input from the leaves.
        step: ModuleStep or ModelV2Step.
        finisher: RLlib's unsquash / clip of each action leaf.
        n_leaves: Number of observation inputs; the rest are state inputs.
    """

    def __init__(
        self, encoder: ObservationEncoder, step: nn.Module, finisher: ActionFinisher, n_leaves: int
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.step = step
        self.finisher = finisher
        self.n_leaves = n_leaves

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        leaves, states = inputs[: self.n_leaves], inputs[self.n_leaves :]
        actions, raw, state_out = self.step(self.encoder(list(leaves)), *states)
        return (*self.finisher(actions), *raw, *state_out)


def build_policy_graph(
    target: Any, model_copy: nn.Module | None = None, raw_outputs: list[str] | None = None
) -> PolicyGraph:
    """Assemble the export wrapper for a target.

    Args:
        target: The PolicyTarget.
        model_copy: Old stack: a CPU copy of the policy's model (new-stack
            targets already hold a CPU copy of the module).
        raw_outputs: The raw outputs to give; default: the target's; ``[]``
            for the acting graph (action and next state only).
    """
    raw_outputs = list(target.raw_outputs if raw_outputs is None else raw_outputs)
    from ...contract.observations import observation_leaves

    n_leaves = len(observation_leaves(target.observation_space))
    encoder = ObservationEncoder(target.preprocessing, target.observation_space)
    if target.api_stack == "new":
        step: nn.Module = ModuleStep(target, raw_outputs)
    else:
        step = ModelV2Step(model_copy, target.dist_class, raw_outputs, len(target.state))
    graph = PolicyGraph(encoder, step, ActionFinisher(target.action["leaves"]), n_leaves)
    return graph.eval()
