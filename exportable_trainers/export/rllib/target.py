"""What one exportable policy is: spaces, preprocessing and action spec as data, a live handle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...contract.actions import action_spec
from .connectors import Preprocessing
from .distributions import class_name, numpy_head


@dataclass
class PolicyTarget:
    """One policy (old stack) or RLModule (new stack) to export.

    Args:
        policy_id: Policy / module id; becomes the export directory name.
        framework: "torch", "tf" or "tf2".
        pre: Raw observation -> network input: both spaces, the steps as
            data, and RLlib's own preprocessing (for the reference).
        action_space: The environment's action space.
        action: The manifest's action entry (see :mod:`exportable_trainers.contract.actions`).
        raw_outputs: Names of the network outputs kept beside the action
            (``action_dist_inputs``, ``vf_preds``, ``q_values``).
        reference: Maps (raw observations, recurrent state or None) to RLlib's own
            outputs (each action leaf, each raw output, ``state_out.<key>``) as numpy arrays.
        details: Extra facts for the manifest (module / model class, ...).
        state: Recurrent state entries: ``{"key", "shape", "dtype", "initial"}``
            (per-sample shape, initial value as an array); empty when stateless.
        module: New stack: the CPU copy of the learner's module, called through
            ``ModuleCall`` (which routes through a MultiRLModule that shares parts).
        policy: Old stack: the live Policy (its model, session and dist_class).
        dist_class: The action-distribution class whose deterministic sample is
            the action (None when the module returns actions itself).
        owner: How errors name this policy, e.g. ``module 'p0' (MyTorchRLModule)``.
    """

    policy_id: str
    framework: str
    pre: Preprocessing
    action_space: Any
    action: dict
    raw_outputs: list[str]
    reference: Callable[[list, dict | None], dict[str, np.ndarray]]
    details: dict = field(default_factory=dict)
    state: list[dict] = field(default_factory=list)
    module: Any = None
    policy: Any = None
    dist_class: Any = None
    owner: str = ""

    @property
    def api_stack(self) -> str:
        """ "new" (an RLModule + Learner) or "old" (a Policy + ModelV2)."""
        return "old" if self.policy is not None else "new"

    @property
    def observation_space(self) -> Any:
        """The space of raw observations the export accepts."""
        return self.pre.raw_space

    @property
    def model_observation_space(self) -> Any:
        """The space of what the network itself receives."""
        return self.pre.model_space

    @property
    def preprocessing(self) -> list[dict]:
        """Steps from raw observation to network input, as data."""
        return self.pre.steps

    @property
    def action_names(self) -> list[str]:
        """Graph output names of the action leaves (``action``, ``action.0``, ...)."""
        return [leaf["name"] for leaf in self.action["leaves"]]


def action_entry(
    config: Any, space: Any, dist_class: Any, api_stack: str, actor: Any = None
) -> dict:
    """The manifest's action entry: RLlib's deterministic sample of ``dist_class``, or ``actor``'s own.

    Args:
        config: The AlgorithmConfig (its normalize_actions and clip_actions).
        space: The environment's action space.
        dist_class: The action-distribution class, or None when ``actor``
            (a module) returns actions itself.
        api_stack: "new" or "old".
        actor: The module, named by the entry when it has no distribution.
    """
    source = "module" if dist_class is None else "distribution"
    named = class_name(actor if dist_class is None else dist_class)
    head = None if dist_class is None else numpy_head(dist_class, space, api_stack)
    return action_spec(space, config.normalize_actions, config.clip_actions, source, named, head)
