"""Turn RLlib action-distribution classes into the data spec of actions.py."""

from __future__ import annotations

import functools
from typing import Any

from ..actions import action_dtype, action_shape, postprocess_spec
from ..exceptions import InvalidOptionError

_PREFIXES = ("Torch", "Tf", "TF")

# RLlib class name (prefix removed) -> spec kind.
_KINDS = {
    "Categorical": "categorical",
    "MultiCategorical": "multi_categorical",
    "DiagGaussian": "diag_gaussian",
    "SquashedGaussian": "squashed_gaussian",
    "Deterministic": "deterministic",
}


def _unwrap(dist_cls: Any) -> tuple[type, dict]:
    keywords: dict = {}
    while isinstance(dist_cls, functools.partial):
        keywords = {**dist_cls.keywords, **keywords}
        dist_cls = dist_cls.func
    return dist_cls, keywords


def _base_name(cls: type) -> str:
    name = cls.__name__
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def action_spec(
    dist_cls: Any,
    action_space: Any,
    api_stack: str,
    normalize_actions: bool,
    clip_actions: bool,
) -> dict:
    """Describe RLlib's deterministic (``explore=False``) action as data.

    Args:
        dist_cls: The policy's / module's inference action-distribution class
            (possibly a functools.partial, as RLlib builds them).
        action_space: The environment's action space.
        api_stack: "new" or "old"; the SquashedGaussian differs between them.
        normalize_actions: The config's ``normalize_actions``.
        clip_actions: The config's ``clip_actions``.

    Raises:
        InvalidOptionError: A distribution this package cannot put into a graph.
    """
    cls, keywords = _unwrap(dist_cls)
    # Walk the MRO so user subclasses of RLlib's distributions are recognised.
    kind = next((_KINDS[_base_name(c)] for c in cls.__mro__ if _base_name(c) in _KINDS), None)
    if kind is None:
        raise InvalidOptionError(
            f"action distribution {cls.__module__}.{cls.__name__} cannot be exported; "
            f"supported: {', '.join(sorted(_KINDS))} (Torch/TF variants)"
        )
    spec: dict[str, Any] = {
        "distribution": kind,
        "rllib_class": f"{cls.__module__}.{cls.__name__}",
        "dtype": action_dtype(action_space),
        "shape": action_shape(action_space),
    }
    if kind == "multi_categorical":
        input_lens = keywords.get("input_lens")
        if input_lens is None and hasattr(action_space, "nvec"):
            input_lens = [int(n) for n in action_space.nvec]
        spec["input_lens"] = [int(n) for n in input_lens]
    if kind == "squashed_gaussian":
        # New stack: to_deterministic() returns the pre-tanh mean (RLlib behaviour,
        # matched on purpose); old stack: deterministic_sample() squashes into
        # [low, high] (defaults -1, 1 unless the policy passed bounds).
        spec["squash"] = api_stack == "old"
        if spec["squash"]:
            spec["low"] = float(keywords.get("low", -1.0))
            spec["high"] = float(keywords.get("high", 1.0))
    spec["postprocess"] = postprocess_spec(action_space, normalize_actions, clip_actions)
    return spec
