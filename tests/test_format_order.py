"""The order of ``formats`` changes nothing: every order writes the same files, each verified.

Writing one format must not change what the next one sees (Keras 3's
``from_config`` once edited the config the h5 writer read next). One trained
algorithm writes every format its framework can write in each rotation of the
list and of its reverse, at one checkpoint each: every format is written at
every position, and every pair of formats in both orders (all n! permutations
would be 720 exports for tf2). Byte-deterministic files must be identical
across orders, and every file must pass verification against the live policy.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from exportable_trainers import load_policy, make_exporting
from exportable_trainers.contract.formats import FORMATS
from exportable_trainers.contract.manifest import EXPORT_DIRNAME, MANIFEST_NAME
from tests.configs import ppo_config

# Formats whose bytes depend on the weights only. SavedModel and .keras files
# embed ids and timestamps, and safetensors writes its metadata map in a
# random order: their outputs, or their tensors, are compared instead.
DETERMINISTIC = {"onnx", "onnx_actor", "onnx_int8", "h5"}
OBS = np.random.default_rng(0).uniform(-0.2, 0.2, (16, 4)).astype(np.float32)

CASES = [
    pytest.param("torch", "new", id="torch-new"),
    pytest.param("torch", "old", id="torch-old"),
    pytest.param("tf2", "old", id="tf2-old", marks=pytest.mark.requires_tf),
    pytest.param("tf", "old", id="tf-old", marks=[pytest.mark.requires_tf, pytest.mark.tf1]),
]


def _orders(names: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Each rotation of ``names`` and of its reverse."""
    return [seq[i:] + seq[:i] for seq in (names, tuple(reversed(names))) for i in range(len(names))]


@pytest.mark.parametrize("framework, stack", CASES)
def test_every_order_of_formats_writes_the_same_verified_files(
    ray_session, tmp_path, framework, stack
):
    from ray.rllib.algorithms.ppo import PPO

    every = tuple(n for n, f in FORMATS.items() if framework in f.frameworks)
    config = ppo_config("CartPole-v1", stack=stack, framework=framework)
    # "warn", not "raise": an agreement-judged format (onnx_int8) may be refused
    # by its rule on some trained weights; the refusal must then be the same in
    # every order, like everything else.
    algo = make_exporting(PPO, on_error="warn")(config=config)
    try:
        algo.train()
        results = {}
        for i, order in enumerate(_orders(every)):
            checkpoint = tmp_path / f"order-{i}"
            algo.export_policies(checkpoint, algo.export_options.replace(formats=order))
            export_dir = checkpoint / EXPORT_DIRNAME / "default_policy"
            manifest = json.loads((export_dir / MANIFEST_NAME).read_text())
            refused = set(manifest["errors"])
            assert all(
                FORMATS[f].verify == "agreement" and "agree with the policy's" in why
                for f, why in manifest["errors"].items()
            ), (order, manifest["errors"])
            written = [f for f in every if f not in refused]
            assert sorted(manifest["files"]) == sorted(written), order
            assert all(manifest["verification"][f]["passed"] for f in written), order
            actions = {
                f: load_policy(export_dir, format=f).compute_actions(OBS)
                for f in written
                if FORMATS[f].runtime is not None
            }
            weights = {
                f: FORMATS[f].read_weights(export_dir / manifest["files"][f]["path"])
                for f in written
                if FORMATS[f].read_weights is not None
            }
            results[order] = (manifest["errors"], manifest["files"], actions, weights)
    finally:
        algo.stop()
    (first_errors, first_files, first_actions, first_weights), *rest = results.values()
    for order, (errors, files, actions, weights) in zip(list(results)[1:], rest):
        assert errors == first_errors, order
        for f in files:
            if f in DETERMINISTIC:
                assert files[f]["sha256"] == first_files[f]["sha256"], (order, f)
        for f, got in actions.items():
            np.testing.assert_array_equal(got, first_actions[f], err_msg=f"{order} {f}")
        for f, tensors in weights.items():
            assert sorted(tensors) == sorted(first_weights[f]), (order, f)
            for name, value in tensors.items():
                np.testing.assert_array_equal(value, first_weights[f][name], err_msg=f"{order} {f}")
