"""Gymnasium spaces as JSON-ready data, and back, without pickle."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from gymnasium import spaces

from ..exceptions import ManifestError

SUPPORTED = ("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")


def _encode_number(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    return int(x)


def _decode_number(x: Any) -> float | int:
    if isinstance(x, str):
        if x not in ("inf", "-inf", "nan"):
            raise ManifestError(f"bad number {x!r} in a space description")
        return float(x)
    return x


def _encode_array(a: np.ndarray) -> Any:
    """A scalar when every element is equal (the usual Box bound), else nested lists."""
    a = np.asarray(a)
    flat = a.reshape(-1)
    if flat.size and (np.all(flat == flat[0]) or np.all(np.isnan(flat))):
        return _encode_number(flat[0])
    return np.vectorize(_encode_number, otypes=[object])(a).tolist() if a.size else []


def _decode_array(v: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if isinstance(v, list):
        arr = np.array(_decode_nested(v), dtype=dtype)
        return arr.reshape(shape)
    return np.full(shape, _decode_number(v), dtype=dtype)


def _decode_nested(v: Any) -> Any:
    if isinstance(v, list):
        return [_decode_nested(x) for x in v]
    return _decode_number(v)


def space_to_dict(space: spaces.Space) -> dict[str, Any]:
    """Describe a gymnasium space as JSON-ready data.

    Args:
        space: Box, Discrete, MultiDiscrete, MultiBinary, Dict or Tuple (nested).

    Raises:
        TypeError: The space type has no data description.
    """
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": np.dtype(space.dtype).name,
            "low": _encode_array(space.low),
            "high": _encode_array(space.high),
        }
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {
            "type": "MultiDiscrete",
            "nvec": np.asarray(space.nvec).tolist(),
            "start": np.asarray(space.start).tolist(),
            "dtype": np.dtype(space.dtype).name,
        }
    if isinstance(space, spaces.MultiBinary):
        n = space.n
        return {"type": "MultiBinary", "n": list(n) if not isinstance(n, int) else int(n)}
    if isinstance(space, spaces.Dict):
        return {
            "type": "Dict",
            "spaces": [[key, space_to_dict(sub)] for key, sub in space.spaces.items()],
        }
    if isinstance(space, spaces.Tuple):
        return {"type": "Tuple", "spaces": [space_to_dict(sub) for sub in space.spaces]}
    raise TypeError(
        f"cannot describe a {type(space).__name__} space; supported spaces: {', '.join(SUPPORTED)}"
    )


def space_from_dict(data: dict[str, Any]) -> spaces.Space:
    """Rebuild a gymnasium space from :func:`space_to_dict` data.

    Raises:
        ManifestError: The data does not describe a supported space.
    """
    try:
        kind = data["type"]
        if kind == "Box":
            shape = tuple(int(d) for d in data["shape"])
            dtype = np.dtype(data["dtype"])
            return spaces.Box(
                low=_decode_array(data["low"], shape, dtype),
                high=_decode_array(data["high"], shape, dtype),
                shape=shape,
                dtype=dtype,
            )
        if kind == "Discrete":
            return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
        if kind == "MultiDiscrete":
            return spaces.MultiDiscrete(
                np.array(data["nvec"]),
                dtype=np.dtype(data.get("dtype", "int64")),
                start=np.array(data.get("start", 0)),
            )
        if kind == "MultiBinary":
            return spaces.MultiBinary(data["n"])
        if kind == "Dict":
            return spaces.Dict({key: space_from_dict(sub) for key, sub in data["spaces"]})
        if kind == "Tuple":
            return spaces.Tuple([space_from_dict(sub) for sub in data["spaces"]])
    except ManifestError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise ManifestError(f"invalid space description {data!r}: {e}") from None
    raise ManifestError(
        f"unknown space type {data.get('type')!r}; supported: {', '.join(SUPPORTED)}"
    )


def sample_observations(space: Any, n: int, seed: int) -> list[Any]:
    """``n`` observations drawn from ``space`` with a fixed seed (the space itself is left as it was)."""
    space = copy.deepcopy(space)
    space.seed(int(seed))
    return [space.sample() for _ in range(n)]
