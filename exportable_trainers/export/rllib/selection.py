"""Find the exportable policies of a live RLlib Algorithm, on either API stack."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from ...exceptions import InvalidOptionError
from ..options import check_policy_id
from .target import PolicyTarget


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
