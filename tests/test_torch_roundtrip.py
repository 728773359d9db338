"""torch exports reproduce the live policy, loaded where Ray cannot be imported.

For each API stack and environment, an ExportingPPO trains, checkpoints, trains
again and checkpoints again (so the second export reuses the converted ONNX
graph with new weights). Hypothesis draws observation batches; RLlib's own
explore=False outputs are compared with every artifact, atol=1e-5.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exportable_trainers.contract.manifest import check_files, read_manifest
from exportable_trainers.contract.observations import batch_to_leaves, observation_leaves
from exportable_trainers.contract.spaces import space_from_dict
from tests.configs import ppo_config
from tests.live import assert_close, live_outputs
from tests.strategies import observation_batches

ATOL = 1e-5
BATCH = 64
CASES = [
    ("new", "CartPole-v1"),
    ("new", "Pendulum-v1"),
    ("old", "CartPole-v1"),
    ("old", "Pendulum-v1"),
]
HYPOTHESIS = settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module", params=CASES, ids=["-".join(c) for c in CASES])
def trained(request, ray_session, tmp_path_factory):
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting

    stack, env = request.param
    algo = make_exporting(PPO)(config=ppo_config(env, stack))
    root = tmp_path_factory.mktemp(f"{stack}-{env}")
    algo.train()
    first = algo.save(str(root / "first")).checkpoint.path
    algo.train()
    second = algo.save(str(root / "second")).checkpoint.path
    yield algo, first, second
    algo.stop()


def _feeds(space, observations: list) -> dict:
    leaves = batch_to_leaves(space, observations)
    return {name: leaf for (name, _), leaf in zip(observation_leaves(space), leaves)}


def _export_dir(checkpoint):
    from pathlib import Path

    return Path(checkpoint) / "export" / "default_policy"


@pytest.mark.parametrize(
    "fmt, mode",
    [
        ("onnx", "raw"),
        ("torchscript", "raw"),
        ("safetensors", "raw"),
        ("onnx", "load_policy"),
        ("torchscript", "load_policy"),
    ],
)
@HYPOTHESIS
@given(data=st.data())
def test_export_matches_live_policy(trained, rayfree, fmt, mode, data):
    """raw: the artifact in its own runtime; load_policy: through ExportedPolicy."""
    algo, _, checkpoint = trained
    export_dir = _export_dir(checkpoint)
    manifest = read_manifest(export_dir)
    space = space_from_dict(manifest["observation_space"])
    observations = data.draw(observation_batches(space, BATCH))
    exported = rayfree.run(export_dir, fmt, _feeds(space, observations), mode=mode)
    assert_close(live_outputs(algo, "default_policy", observations), exported, ATOL)


def test_manifest_records_what_was_written(trained):
    algo, first, second = trained
    stack = "new" if algo.config.enable_rl_module_and_learner else "old"
    for checkpoint, iteration in ((first, 1), (second, 2)):
        export_dir = _export_dir(checkpoint)
        manifest = read_manifest(export_dir)
        check_files(export_dir, manifest)
        assert manifest["status"] == "ok", manifest["errors"]
        assert manifest["training_iteration"] == iteration
        assert manifest["env_steps_sampled"] == 128 * iteration
        assert manifest["api_stack"] == stack and manifest["framework"] == "torch"
        assert manifest["algorithm"] == "PPO"
        assert manifest["algorithm_class"].endswith("ExportingPPO"), manifest["algorithm_class"]
        assert set(manifest["files"]) == {"onnx", "torchscript", "safetensors"}
        assert manifest["files"]["onnx"]["opset"] >= 17
        assert {"ray", "torch", "python"} <= set(manifest["versions"])
        assert [o["name"] for o in manifest["outputs"]] == [
            "action",
            "action_dist_inputs",
            "vf_preds",
        ]
        assert all(o["shape"][0] is None for o in manifest["outputs"] + manifest["inputs"])
        assert all(r["passed"] for r in manifest["verification"].values())
        json.dumps(manifest, allow_nan=False)  # strict JSON, spaces as data
    # The build-time dry run converted the graph; every checkpoint swaps in its weights.
    assert read_manifest(_export_dir(first))["files"]["onnx"]["graph_reused"] is True
    assert read_manifest(_export_dir(second))["files"]["onnx"]["graph_reused"] is True


def test_exports_hold_the_weights_of_their_checkpoint(trained, rayfree):
    """The second checkpoint's export matches the live policy; the first one's does not."""
    algo, first, second = trained
    manifest = read_manifest(_export_dir(second))
    space = space_from_dict(manifest["observation_space"])
    space.seed(0)
    observations = [space.sample() for _ in range(BATCH)]
    live = live_outputs(algo, "default_policy", observations)
    feeds = _feeds(space, observations)
    new = rayfree.run(_export_dir(second), "onnx", feeds)
    old = rayfree.run(_export_dir(first), "onnx", feeds)
    assert_close(live, new, ATOL)
    assert np.abs(old["action_dist_inputs"] - live["action_dist_inputs"]).max() > 1e-4


def test_safetensors_equal_the_learner_weights(trained):
    from safetensors.numpy import load_file

    algo, _, checkpoint = trained
    if algo.config.enable_rl_module_and_learner:
        state = algo.learner_group._learner.module["default_policy"].state_dict()
    else:
        state = algo.get_policy().model.state_dict()
    weights = load_file(str(_export_dir(checkpoint) / "weights.safetensors"))
    assert set(weights) == set(state)
    for name, tensor in state.items():
        np.testing.assert_array_equal(weights[name], tensor.detach().cpu().numpy(), err_msg=name)
