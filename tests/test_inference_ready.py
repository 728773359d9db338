"""Exports act like RLlib with explore=False, from raw observations of any common space.

For each API stack and a set of observation / action spaces, with and without
MeanStdFilter and with normalize_actions on and off, a trained ExportingPPO's
export, loaded without Ray, must give RLlib's own action: exactly for discrete
actions, atol=1e-5 for continuous ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exportable_trainers.contract.manifest import read_manifest
from exportable_trainers.contract.observations import batch_to_leaves, observation_leaves
from exportable_trainers.contract.spaces import space_from_dict
from tests.configs import spaces_config
from tests.live import assert_close, live_outputs
from tests.strategies import observation_batches

ATOL = 1e-5
# (observation space, action space, MeanStdFilter, normalize_actions, clip_actions)
CASES = [
    ("box", "discrete", False, True, False),
    ("discrete", "multidiscrete", False, True, False),
    ("multidiscrete", "box", False, True, False),
    ("dict", "box", False, False, True),
    ("tuple", "discrete", True, True, False),
    ("dict", "multidiscrete", True, True, False),
    ("box", "box", True, False, False),
]
# TensorFlow (old stack) runs a subset that still covers every space and MeanStdFilter.
TF_CASES = [CASES[i] for i in (1, 2, 3, 4, 6)]
STACKS = [
    ("new", "torch", CASES),
    ("old", "torch", CASES),
    ("old", "tf2", TF_CASES),
    ("old", "tf", TF_CASES),
]


def _id(stack, framework, obs, action, mean_std, normalize, clip):
    return (
        f"{stack}-{framework}-{obs}-{action}"
        + ("-meanstd" if mean_std else "")
        + ("" if normalize else ("-clip" if clip else "-raw"))
    )


PARAMS = [
    pytest.param(
        (stack, framework, *case),
        marks=([pytest.mark.tf1] if framework == "tf" else [])
        + ([pytest.mark.requires_tf] if framework != "torch" else []),
        id=_id(stack, framework, *case),
    )
    for stack, framework, cases in STACKS
    for case in cases
]


@pytest.fixture(scope="module", params=PARAMS)
def trained(request, ray_session, tmp_path_factory):
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting

    stack, framework, obs, action, mean_std, normalize, clip = request.param
    config = spaces_config(obs, action, stack, mean_std, normalize, clip, framework)
    algo = make_exporting(PPO, on_error="raise")(config=config)
    algo.train()
    algo.train()
    checkpoint = algo.save(str(tmp_path_factory.mktemp(_id(*request.param)))).checkpoint.path
    yield algo, Path(checkpoint) / "export" / "default_policy", request.param
    algo.stop()


def _feeds(space, observations):
    leaves = batch_to_leaves(space, observations)
    return {name: leaf for (name, _), leaf in zip(observation_leaves(space), leaves)}


@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_exported_policy_acts_like_rllib(trained, rayfree, data):
    algo, export_dir, _ = trained
    manifest = read_manifest(export_dir)
    space = space_from_dict(manifest["observation_space"])
    observations = data.draw(observation_batches(space, 64))
    live = live_outputs(algo, "default_policy", observations)
    feeds = _feeds(space, observations)
    # The native whole-policy format of the framework, and ONNX.
    native = "torchscript" if "torchscript" in manifest["files"] else "savedmodel"
    for fmt in (native, "onnx"):
        batch = rayfree.run(export_dir, fmt, feeds, mode="load_policy")
        assert_close(live, batch, ATOL)
    single = rayfree.run(export_dir, "onnx", feeds, mode="compute_action")
    assert_close(live, single, ATOL, names=["action"])


def test_manifest_describes_preprocessing(trained):
    _, export_dir, (_, _, obs, _, mean_std, _, _) = trained
    manifest = read_manifest(export_dir)
    ops = [step["op"] for step in manifest["preprocessing"]]
    assert ("flatten" in ops) == (obs != "box")
    assert ("mean_std" in ops) == mean_std
    if mean_std:
        step = manifest["preprocessing"][ops.index("mean_std")]
        assert np.any(np.asarray(step["mean"]) != 0.0), "filter statistics were not captured"
    expected_type = {"box": "Box", "discrete": "Discrete", "multidiscrete": "MultiDiscrete"}
    expected_type |= {"dict": "Dict", "tuple": "Tuple"}
    assert manifest["observation_space"]["type"] == expected_type[obs]
    space = space_from_dict(manifest["observation_space"])
    assert [i["name"] for i in manifest["inputs"]] == [n for n, _ in observation_leaves(space)]
