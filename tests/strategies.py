"""Hypothesis strategies: observations drawn from a gymnasium space."""

from __future__ import annotations

import copy

import numpy as np
from gymnasium import spaces
from hypothesis import strategies as st

# Unbounded Box dimensions are drawn from this range: wide enough to leave the
# training distribution, small enough for float32 networks to stay finite.
UNBOUNDED = 10.0


def _box(space: spaces.Box) -> st.SearchStrategy:
    low = np.maximum(np.asarray(space.low, np.float64), -UNBOUNDED).reshape(-1)
    high = np.minimum(np.asarray(space.high, np.float64), UNBOUNDED).reshape(-1)
    if np.issubdtype(space.dtype, np.integer):
        elems = [st.integers(int(lo), int(hi)) for lo, hi in zip(low, high)]
    else:
        width = 32 if space.dtype == np.float32 else 64
        elems = [
            st.floats(float(lo), float(hi), width=width, allow_nan=False, allow_infinity=False)
            for lo, hi in zip(low, high)
        ]
    return st.tuples(*elems).map(lambda v: np.array(v, dtype=space.dtype).reshape(space.shape))


def observations(space: spaces.Space) -> st.SearchStrategy:
    """Single observations of ``space`` (Box, Discrete, MultiDiscrete, MultiBinary, Dict, Tuple)."""
    if isinstance(space, spaces.Box):
        return _box(space)
    if isinstance(space, spaces.Discrete):
        return st.integers(int(space.start), int(space.start + space.n - 1))
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        start = np.asarray(space.start).reshape(-1)
        return st.tuples(*[st.integers(int(s), int(s + n - 1)) for n, s in zip(nvec, start)]).map(
            lambda v: np.array(v, dtype=space.dtype).reshape(space.shape)
        )
    if isinstance(space, spaces.MultiBinary):
        n = int(np.prod(space.shape))
        return st.lists(st.integers(0, 1), min_size=n, max_size=n).map(
            lambda v: np.array(v, dtype=space.dtype).reshape(space.shape)
        )
    if isinstance(space, spaces.Dict):
        return st.fixed_dictionaries({k: observations(s) for k, s in space.spaces.items()})
    if isinstance(space, spaces.Tuple):
        return st.tuples(*[observations(s) for s in space.spaces])
    raise TypeError(f"no strategy for {space}")


@st.composite
def observation_batches(draw: st.DrawFn, space: spaces.Space, size: int = 64) -> list:
    """Lists of ``size`` observations: a few drawn by hypothesis, the rest seeded samples.

    Hypothesis' own first examples are its simplest (every observation all
    zeros); mixing in ``space.sample()`` from a drawn seed keeps every batch
    varied, while the drawn part still reaches bounds and shrinks on failure.
    """
    drawn = draw(st.lists(observations(space), min_size=1, max_size=min(8, size)))
    seed = draw(st.integers(0, 2**32 - 1))
    sampler = copy.deepcopy(space)
    sampler.seed(seed)
    batch = drawn + [_bounded(sampler, sampler.sample()) for _ in range(size - len(drawn))]
    order = np.random.default_rng(seed).permutation(size)
    return [batch[i] for i in order]


def _bounded(space: spaces.Space, obs):
    # space.sample() of an unbounded Box is normal(0, 1): already in range; the
    # clip only guards float32 networks against a rare far tail.
    if isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.floating):
        return np.clip(obs, -UNBOUNDED, UNBOUNDED).astype(space.dtype)
    if isinstance(space, spaces.Dict):
        return {k: _bounded(s, obs[k]) for k, s in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(_bounded(s, o) for s, o in zip(space.spaces, obs))
    return obs
