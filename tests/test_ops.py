"""The numpy, torch and TF forms of every preprocessing and action operation agree (no Ray).

Each operation is written once in contract/ops.py against a backend; these
properties run the loader's numpy form, the torch graph modules and the TF
graph functions on the same random spaces, steps and inputs, and demand equal
results (float32 rounding allowed, integers exact).
"""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exportable_trainers.contract.actions import finish_leaf
from exportable_trainers.contract.observations import (
    apply_steps,
    batch_to_leaves,
    flatten_step,
    mean_std_step,
)
from tests.conftest import TF_INSTALLED
from tests.strategies import observation_batches

pytestmark = pytest.mark.skipif(not TF_INSTALLED, reason="needs TensorFlow for the TF form")

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def leaf_spaces(draw) -> spaces.Space:
    kind = draw(st.sampled_from(["box", "discrete", "multi_discrete", "multi_binary"]))
    if kind == "box":
        shape = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
        return spaces.Box(-5.0, 5.0, shape, np.float32)
    if kind == "discrete":
        return spaces.Discrete(draw(st.integers(1, 5)), start=draw(st.integers(-2, 2)))
    if kind == "multi_discrete":
        nvec = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
        start = draw(st.lists(st.integers(-2, 2), min_size=len(nvec), max_size=len(nvec)))
        return spaces.MultiDiscrete(nvec, start=start)
    return spaces.MultiBinary(draw(st.integers(1, 4)))


@st.composite
def observation_spaces(draw) -> spaces.Space:
    structure = draw(st.sampled_from(["leaf", "dict", "tuple"]))
    if structure == "leaf":
        return draw(leaf_spaces())
    leaves = draw(st.lists(leaf_spaces(), min_size=1, max_size=3))
    if structure == "dict":
        return spaces.Dict({f"k{i}": s for i, s in enumerate(leaves)})
    return spaces.Tuple(leaves)


@st.composite
def preprocessing_cases(draw):
    """(space, steps, batch): a flatten step, maybe a MeanStdFilter, and observations."""
    space = draw(observation_spaces())
    steps = [flatten_step(space, honor_start=draw(st.booleans()))]
    if draw(st.booleans()):
        width = int(spaces.flatdim(space))
        floats = st.floats(-3.0, 3.0, width=32)
        mean = draw(st.lists(floats, min_size=width, max_size=width))
        std = draw(st.lists(st.floats(0.125, 4.0, width=32), min_size=width, max_size=width))
        clip = draw(st.sampled_from([None, 0.5, 2.0]))
        steps.append(mean_std_step(mean, std, True, True, clip, 1e-8))
    batch = draw(observation_batches(space, size=draw(st.integers(1, 6))))
    return space, steps, batch


def _valid(steps: list[dict], space: spaces.Space, batch: list) -> bool:
    """One-hot indices in range: a flatten without ``start`` needs values from 0."""
    leaves = batch_to_leaves(space, batch)
    for x, leaf in zip(leaves, steps[0]["leaves"]):
        if leaf["kind"] in ("onehot", "multi_onehot"):
            index = x.reshape(len(x), -1) - np.asarray(leaf["starts"])
            if (index < 0).any() or (index >= np.asarray(leaf["sizes"])).any():
                return False
    return True


@SETTINGS
@given(case=preprocessing_cases())
def test_preprocessing_forms_agree(case):
    import tensorflow as tf
    import torch

    from exportable_trainers.export.tf.graph import encode_observation
    from exportable_trainers.export.torch.graph import ObservationEncoder

    space, steps, batch = case
    if not _valid(steps, space, batch):
        return
    leaves = batch_to_leaves(space, batch)
    expected = apply_steps(steps, leaves)
    with torch.no_grad():
        got_torch = ObservationEncoder(steps, space)([torch.as_tensor(x) for x in leaves]).numpy()
    got_tf = encode_observation([tf.constant(x) for x in leaves], steps).numpy()
    assert expected.dtype == got_torch.dtype == got_tf.dtype == np.float32
    np.testing.assert_allclose(got_torch, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got_tf, expected, rtol=1e-6, atol=1e-6)


@st.composite
def action_cases(draw):
    """(leaf spec, batch of computed actions) over RLlib's postprocess kinds."""
    from exportable_trainers.contract.actions import leaf_specs

    kind = draw(st.sampled_from(["float_box", "int_box", "discrete", "multi_discrete"]))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    if kind == "float_box":
        low = draw(st.floats(-4.0, 0.0, width=32))
        space = spaces.Box(low, low + draw(st.floats(0.5, 4.0, width=32)), shape, np.float32)
    elif kind == "int_box":
        space = spaces.Box(-3, 3, shape, np.int64)
    elif kind == "discrete":
        space = spaces.Discrete(4)
    else:
        space = spaces.MultiDiscrete([3] * shape[0])
    normalize, clip = draw(st.booleans()), draw(st.booleans())
    (leaf,) = leaf_specs(space, normalize, clip)
    n = draw(st.integers(1, 5))
    per_sample = [int(np.prod(leaf["shape"]))] if leaf["shape"] else []
    if kind == "float_box":
        size = n * per_sample[0]
        values = draw(st.lists(st.floats(-3.0, 3.0, width=32), min_size=size, max_size=size))
        actions = np.asarray(values, np.float32).reshape(n, *leaf["shape"])
    else:
        size = n * (per_sample[0] if per_sample else 1)
        values = draw(st.lists(st.integers(-5, 5), min_size=size, max_size=size))
        actions = np.asarray(values, np.int64).reshape(n, *leaf["shape"])
    return {**leaf, "name": "action"}, actions


@SETTINGS
@given(case=action_cases())
def test_action_forms_agree(case):
    import tensorflow as tf
    import torch

    from exportable_trainers.export.tf.graph import finish_actions
    from exportable_trainers.export.torch.graph import ActionFinisher

    leaf, actions = case
    expected = finish_leaf(leaf, actions)
    with torch.no_grad():
        (got_torch,) = ActionFinisher([leaf])([torch.as_tensor(actions)])
    (got_tf,) = finish_actions([tf.constant(actions)], [leaf])
    got_torch, got_tf = got_torch.numpy(), got_tf.numpy()
    assert expected.dtype == got_torch.dtype == got_tf.dtype == np.dtype(leaf["dtype"])
    assert expected.shape == got_torch.shape == got_tf.shape
    np.testing.assert_allclose(got_torch, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got_tf, expected, rtol=1e-6, atol=1e-6)
