"""What one exportable policy is: spaces, preprocessing and action spec as data, a live handle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class PolicyTarget:
    """One policy (old stack) or RLModule (new stack) to export.

    Args:
        policy_id: Policy / module id; becomes the export directory name.
        framework: "torch", "tf" or "tf2".
        api_stack: "new" (RLModule + Learner) or "old" (Policy + ModelV2).
        observation_space: The space of raw observations the export accepts.
        action_space: The environment's action space.
        model_observation_space: The space of what the network itself receives.
        preprocessing: Steps from raw observation to network input, as data.
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
        state_template: New stack: ``get_initial_state()``, the structure that
            ``state_in`` is rebuilt into.
        owner: How errors name this policy, e.g. ``module 'p0' (MyTorchRLModule)``.
    """

    policy_id: str
    framework: str
    api_stack: str
    observation_space: Any
    action_space: Any
    model_observation_space: Any
    preprocessing: list[dict]
    action: dict
    raw_outputs: list[str]
    reference: Callable[[list, dict | None], dict[str, np.ndarray]]
    details: dict = field(default_factory=dict)
    state: list[dict] = field(default_factory=list)
    module: Any = None
    policy: Any = None
    dist_class: Any = None
    state_template: Any = None
    owner: str = ""

    @property
    def action_names(self) -> list[str]:
        """Graph output names of the action leaves (``action``, ``action.0``, ...)."""
        return [leaf["name"] for leaf in self.action["leaves"]]
