"""torch export wrappers: raw observations in, action and raw outputs out.

Each wrapper owns a CPU copy of the network, so tracing and ONNX conversion never
touch the live (learner / policy) module.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ..exceptions import InvalidOptionError
from ..recurrent import nest_state, pick_state
from .graph_common import leaf_encoders, mean_std_constants


def cpu_copy(module: nn.Module) -> nn.Module:
    """A frozen CPU copy of ``module`` in eval mode.

    ModelV2s keep the last forward pass's outputs (non-leaf tensors) as
    attributes, which deepcopy refuses; those are copied detached.
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

    for sub in module.modules():
        for value in vars(sub).values():
            detach_into_memo(value)
    clone = copy.deepcopy(module, memo).to("cpu").eval()
    for p in clone.parameters():
        p.requires_grad_(False)
    return clone


class ObservationEncoder(nn.Module):
    """Turn the raw observation leaves into the network input.

    Mirrors :func:`exportable_trainers.preprocess.apply_steps`: steps act on a
    list of tensors; ``flatten`` makes one float vector, ``mean_std`` needs one.

    Args:
        steps: The target's preprocessing steps.
        n_leaves: Number of graph inputs (leaves of the observation space).
    """

    def __init__(self, steps: list[dict], n_leaves: int) -> None:
        super().__init__()
        self.ops: list[tuple] = []
        count = n_leaves
        for i, step in enumerate(steps):
            if step["op"] == "flatten":
                self.ops.append(("flatten", leaf_encoders(step)))
                count = 1
            elif step["op"] == "mean_std":
                if count != 1:
                    raise InvalidOptionError("a mean_std step needs a single observation")
                mean, denom, clip = mean_std_constants(step)
                self.register_buffer(f"mean_{i}", torch.as_tensor(mean))
                self.register_buffer(f"denom_{i}", torch.as_tensor(denom))
                self.ops.append(("mean_std", i, float(clip or 0.0)))
            else:
                raise InvalidOptionError(f"unknown preprocessing step {step['op']!r}")
        if count != 1:
            raise InvalidOptionError("several observation leaves need a 'flatten' step")

    @staticmethod
    def _encode(x: torch.Tensor, kind: str, sizes: list[int], starts: list[int]) -> torch.Tensor:
        batch = x.shape[0]
        if kind in ("box", "binary"):
            return x.reshape(batch, -1).to(torch.float32)
        # onehot (Discrete) and multi_onehot (MultiDiscrete), index shifted by start.
        idx = x.reshape(batch, -1).to(torch.int64)
        parts = [
            nn.functional.one_hot(idx[:, j] - start, n).to(torch.float32)
            for j, (n, start) in enumerate(zip(sizes, starts))
        ]
        return torch.cat(parts, dim=-1)

    def forward(self, leaves: list[torch.Tensor]) -> torch.Tensor:
        state = list(leaves)
        for op in self.ops:
            if op[0] == "flatten":
                parts = [
                    self._encode(x, kind, sizes, starts)
                    for x, (kind, sizes, starts) in zip(state, op[1])
                ]
                state = [torch.cat(parts, dim=-1)]
            else:
                _, i, clip = op
                x = (state[0].to(torch.float32) - getattr(self, f"mean_{i}")) / getattr(
                    self, f"denom_{i}"
                )
                if clip > 0:
                    x = torch.clamp(x, -clip, clip)
                state = [x]
        return state[0]


class ActionHead(nn.Module):
    """RLlib's deterministic action from distribution inputs, then unsquash / clip.

    Args:
        spec: The target's action spec (see exportable_trainers.actions).
    """

    def __init__(self, spec: dict) -> None:
        super().__init__()
        self.kind = spec["distribution"]
        self.input_lens = [int(n) for n in spec.get("input_lens", [])]
        self.squash = bool(spec.get("squash", False))
        self.shape = [int(d) for d in spec.get("shape", [])]
        post = spec.get("postprocess", {"kind": "none"})
        self.post = post["kind"]
        self.register_buffer("sq_low", torch.tensor(spec.get("low", -1.0), dtype=torch.float32))
        self.register_buffer("sq_high", torch.tensor(spec.get("high", 1.0), dtype=torch.float32))
        low = post.get("low", [0.0])
        high = post.get("high", [0.0])
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(high, dtype=torch.float32))
        self.int_action = spec.get("dtype", "float32").startswith("int")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "categorical":
            a = torch.argmax(x, dim=-1)
        elif self.kind == "multi_categorical":
            a = torch.stack(
                [torch.argmax(p, dim=-1) for p in torch.split(x, self.input_lens, dim=-1)],
                dim=-1,
            )
        elif self.kind in ("diag_gaussian", "squashed_gaussian"):
            a = torch.chunk(x, 2, dim=-1)[0]
            if self.squash:
                a = ((torch.tanh(a) + 1.0) / 2.0) * (self.sq_high - self.sq_low) + self.sq_low
                a = torch.clamp(a, self.sq_low, self.sq_high)
        elif self.kind in ("deterministic", "direct"):
            a = x
        else:
            raise InvalidOptionError(f"unknown action distribution {self.kind!r}")
        if self.post == "unsquash":
            a = self.low + (a + 1.0) * (self.high - self.low) / 2.0
            a = torch.clamp(a, self.low, self.high)
        elif self.post == "clip":
            a = torch.clamp(a, self.low, self.high)
        elif self.post == "shift":
            a = a + self.low.to(a.dtype)
        if self.shape:
            a = a.reshape([a.shape[0], *self.shape])
        return a.to(torch.int64) if self.int_action else a.to(torch.float32)


class RLModuleNet(nn.Module):
    """A new-stack RLModule as a function of tensors, one time step.

    Args:
        module: CPU copy of the learner's RLModule.
        names: Outputs to return, the action head's input first: any of
            "action_dist_inputs", "actions", "vf_preds", "q_values".
        state_keys: Dotted keys of the recurrent state (empty when stateless).
    """

    def __init__(self, module: nn.Module, names: list[str], state_keys: list[str]) -> None:
        super().__init__()
        self.module = module
        self.names = list(names)
        self.state_keys = list(state_keys)

    def forward(self, obs: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.state_keys:
            # Stateful modules take [B, T, ...]; the export is a single step (T=1).
            batch = {"obs": obs.unsqueeze(1), "state_in": nest_state(self.state_keys, list(states))}
        else:
            batch = {"obs": obs}
        out = {}
        if {"action_dist_inputs", "actions"} & set(self.names) or self.state_keys:
            out = self.module.forward_inference(batch)

        def step(t: torch.Tensor) -> torch.Tensor:
            return t[:, 0] if self.state_keys else t

        results = []
        for name in self.names:
            if name == "vf_preds":
                results.append(step(self.module.compute_values(batch)))
            elif name == "q_values":
                results.append(step(self.module.compute_q_values(batch)["qf_preds"]))
            else:
                results.append(step(out[name]))
        if self.state_keys:
            results += pick_state(out["state_out"], self.state_keys)
        return tuple(results)


class ModelV2Net(nn.Module):
    """An old-stack TorchModelV2 as a function of tensors, one time step.

    Args:
        model: CPU copy of the policy's model.
        raw_outputs: Names to return, e.g. ["action_dist_inputs", "vf_preds"].
        n_state: Number of recurrent state tensors (0 when stateless).
    """

    def __init__(self, model: nn.Module, raw_outputs: list[str], n_state: int) -> None:
        super().__init__()
        self.model = model
        self.raw_outputs = list(raw_outputs)
        self.n_state = n_state
        # SAC-style models return an embedding; the policy head is separate.
        self.action_head = hasattr(model, "get_action_model_outputs")

    def forward(self, obs: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        input_dict = {"obs": obs, "obs_flat": obs, "is_training": False}
        if self.n_state:
            # One time step per sequence: RLlib adds the time axis from seq_lens' shape.
            seq_lens = torch.ones(obs.shape[0], dtype=torch.int32)
            logits, state_out = self.model(input_dict, list(states), seq_lens)
        else:
            logits, state_out = self.model(input_dict, [], None)
        if self.action_head:
            logits, _ = self.model.get_action_model_outputs(logits)
        results = [logits]
        if "vf_preds" in self.raw_outputs:
            results.append(self.model.value_function())
        return (*results, *state_out[: self.n_state])


class PolicyGraph(nn.Module):
    """(raw observation leaves, state...) -> (action, raw outputs..., next state...).

    Args:
        encoder: Builds the network input from the leaves.
        net: RLModuleNet or ModelV2Net; its first output feeds the action head.
        head: The action head.
        keep_first: Whether the net's first output is also a raw output
            (distribution inputs are; directly computed actions are not).
        n_leaves: Number of observation inputs; the rest are state inputs.
    """

    def __init__(
        self,
        encoder: ObservationEncoder,
        net: nn.Module,
        head: ActionHead,
        keep_first: bool,
        n_leaves: int,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.net = net
        self.head = head
        self.keep_first = keep_first
        self.n_leaves = n_leaves

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        leaves, states = inputs[: self.n_leaves], inputs[self.n_leaves :]
        outs = self.net(self.encoder(list(leaves)), *states)
        n_main = len(outs) - len(states)
        main, state_out = outs[:n_main], outs[n_main:]
        action = self.head(main[0])
        rest = main if self.keep_first else main[1:]
        return (action, *rest, *state_out)


def build_policy_graph(target: Any, network_copy: nn.Module) -> PolicyGraph:
    """Assemble the export wrapper for a target around a CPU copy of its network."""
    from ..preprocess import observation_leaves

    n_leaves = len(observation_leaves(target.observation_space))
    encoder = ObservationEncoder(target.preprocessing, n_leaves)
    if target.api_stack == "new":
        names = [target.head_input] + [n for n in target.raw_outputs if n != target.head_input]
        net: nn.Module = RLModuleNet(network_copy, names, [s["key"] for s in target.state])
    else:
        net = ModelV2Net(network_copy, target.raw_outputs, len(target.state))
    keep_first = target.head_input != "actions"
    graph = PolicyGraph(encoder, net, ActionHead(target.action), keep_first, n_leaves)
    return graph.eval()
