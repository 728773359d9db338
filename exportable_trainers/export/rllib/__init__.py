"""Find the exportable policies of a live RLlib Algorithm, framework-neutrally.

A :class:`PolicyTarget` holds what every exporter needs: the spaces, the
observation preprocessing and action spec as data, a live handle on the network,
and a ``reference`` function computing RLlib's own outputs for verification.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...exceptions import InvalidOptionError
from ..options import check_policy_id


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


def is_new_api_stack(algo: Any) -> bool:
    """True when the algorithm runs RLModules and Learners (Ray's default)."""
    return bool(getattr(algo.config, "enable_rl_module_and_learner", False))


def framework_of(algo: Any) -> str:
    """The algorithm's framework: "torch", "tf" or "tf2"."""
    return algo.config.framework_str


def select_policy_ids(
    available: list[str], trained: list[str], requested: tuple[str, ...] | None
) -> list[str]:
    """Pick the ids to export: the requested ones (which must exist) or all trained.

    Args:
        available: Every policy / module id the algorithm has.
        trained: The ids that are trained (the default selection).
        requested: The ``policies`` option, or None.

    Raises:
        InvalidOptionError: A requested id does not exist.
    """
    if requested is None:
        chosen = list(trained)
    else:
        unknown = [p for p in requested if p not in available]
        if unknown:
            raise InvalidOptionError(
                f"policies option names unknown policy id(s) {', '.join(map(repr, unknown))}; "
                f"this algorithm has: {', '.join(map(repr, available)) or 'none'}"
            )
        chosen = list(requested)
    for pid in chosen:
        check_policy_id(pid)
    return chosen


def policy_ids(algo: Any) -> tuple[list[str], list[str]]:
    """(all ids, trained ids) of a live algorithm, on either API stack."""
    if is_new_api_stack(algo):
        from .new_stack import module_ids

        return module_ids(algo)
    from .old_stack import policy_ids as old_ids

    return old_ids(algo)


def collect_target_builders(
    algo: Any, requested: tuple[str, ...] | None, checkpoint_dir: Any = None
) -> dict[str, Callable[[], PolicyTarget]]:
    """A builder of a :class:`PolicyTarget` for every policy to export.

    Builders are called one at a time by the export, so a policy that cannot be
    described fails on its own without stopping the others.

    Args:
        algo: A live, built Algorithm.
        requested: The ``policies`` option, or None for every trained policy.
        checkpoint_dir: The RLlib checkpoint just written, if any: new-stack
            modules then take their weights from it, so that the export holds
            exactly the checkpoint's weights even while an asynchronous learner
            (APPO, IMPALA) keeps training.
    """
    available, trained = policy_ids(algo)
    ids = select_policy_ids(available, trained, requested)
    if is_new_api_stack(algo):
        from .new_stack import targets_for

        return targets_for(algo, ids, checkpoint_dir)
    from .old_stack import targets_for as old_targets_for

    return old_targets_for(algo, ids)


def exclusive_access(algo: Any, policy_id: str) -> AbstractContextManager:
    """Hold a policy's own lock while it is exported.

    Old-stack IMPALA / APPO train the local policy in a background learner
    thread; without the lock, weights can change between writing an artifact
    and verifying it, and a forward pass of ours can overwrite the model's
    cached value output while RLlib's loss still reads it. RLlib's torch and
    tf2 policies take the same lock in ``learn_on_batch`` and
    ``compute_actions``; new-stack modules are exported from a copy.

    Args:
        algo: A live, built Algorithm.
        policy_id: The policy about to be exported.
    """
    if is_new_api_stack(algo):
        return nullcontext()
    lock = getattr(algo.get_policy(policy_id), "_lock", None)
    return lock if lock is not None else nullcontext()
