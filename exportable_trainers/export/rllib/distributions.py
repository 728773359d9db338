"""Name RLlib action-distribution classes, and find the numpy action head of the known ones.

Whole-policy graphs trace the distribution's own code; the numpy head found here
is only for formats that hold the network alone (h5, keras), whose action the
loader computes.
"""

from __future__ import annotations

import functools
from typing import Any

_PREFIXES = ("Torch", "Tf", "TF")

# RLlib class name (prefix removed) -> numpy kind (see exportable_trainers.contract.actions).
_KINDS = {
    "Categorical": "categorical",
    "MultiCategorical": "multi_categorical",
    "DiagGaussian": "diag_gaussian",
    "SquashedGaussian": "squashed_gaussian",
    "Deterministic": "deterministic",
}


def unwrap(dist_cls: Any) -> tuple[type, dict]:
    """(class, keyword arguments) of a distribution class or a functools.partial of one."""
    keywords: dict = {}
    while isinstance(dist_cls, functools.partial):
        keywords = {**dist_cls.keywords, **keywords}
        dist_cls = dist_cls.func
    return dist_cls, keywords


def class_name(obj: Any) -> str:
    """Readable dotted name of a class, a partial of one, or an instance's class."""
    cls = unwrap(obj)[0]
    if not isinstance(cls, type):
        cls = type(cls)
    return f"{cls.__module__}.{cls.__qualname__}"


def _base_name(cls: type) -> str:
    name = cls.__name__
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def numpy_head(dist_cls: Any, action_space: Any, api_stack: str) -> dict | None:
    """``{"distribution": kind, ...}`` for the numpy action head, or None if it has none.

    Args:
        dist_cls: The policy's / module's inference action-distribution class
            (possibly a functools.partial, as RLlib builds them).
        action_space: The environment's action space.
        api_stack: "new" or "old"; the SquashedGaussian differs between them.
    """
    cls, keywords = unwrap(dist_cls)
    if not isinstance(cls, type):
        return None
    kind = next((_KINDS[_base_name(c)] for c in cls.__mro__ if _base_name(c) in _KINDS), None)
    if kind is None:
        return None
    head: dict[str, Any] = {"distribution": kind}
    if kind == "multi_categorical":
        input_lens = keywords.get("input_lens")
        if input_lens is None and hasattr(action_space, "nvec"):
            input_lens = [int(n) for n in action_space.nvec]
        if input_lens is None:
            return None
        head["input_lens"] = [int(n) for n in input_lens]
    if kind == "squashed_gaussian":
        # New stack: to_deterministic() returns the pre-tanh mean (RLlib behaviour);
        # old stack: deterministic_sample() squashes into [low, high] (defaults -1, 1
        # unless the policy passed bounds).
        head["squash"] = api_stack == "old"
        if head["squash"]:
            head["low"] = float(keywords.get("low", -1.0))
            head["high"] = float(keywords.get("high", 1.0))
    return head
