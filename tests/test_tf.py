"""TensorFlow exports (old API stack): tf1 session path and tf2 eager path.

tf (graph mode) cases carry the tf1 marker and run in their own pytest process.
Every artifact is opened in a Ray-free worker with its own runtime
(tf.saved_model.load, tf_keras / Keras 3 load_model with no custom_objects,
onnxruntime) and through load_policy, and compared with the live policy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exportable_trainers.contract.manifest import read_manifest
from exportable_trainers.contract.spaces import space_from_dict
from tests.configs import ppo_config
from tests.live import assert_close, live_outputs
from tests.strategies import observation_batches

pytestmark = pytest.mark.requires_tf
ATOL = 1e-5
FORMATS = ["savedmodel", "h5", "keras", "onnx"]
MODELS = {
    "cartpole": ("CartPole-v1", None),
    "pendulum": ("Pendulum-v1", None),
    "user-keras-model": ("CartPole-v1", "user_keras_model"),
}
FRAMEWORKS = [pytest.param("tf", marks=pytest.mark.tf1), "tf2"]
PARAMS = [
    pytest.param((fw, model), marks=[pytest.mark.tf1] if fw == "tf" else [], id=f"{fw}-{model}")
    for fw in ("tf", "tf2")
    for model in MODELS
]


def _config(framework: str, model: str, eager_tracing: bool = False):
    from tests import tf_models

    tf_models.register()
    env, custom = MODELS[model]
    config = ppo_config(env, "old", framework)
    if custom:
        config = config.training(model={"custom_model": custom, "vf_share_layers": True})
    if framework == "tf2":
        config = config.framework("tf2", eager_tracing=eager_tracing)
    return config


@pytest.fixture(scope="module", params=PARAMS)
def trained(request, ray_session, tmp_path_factory):
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting

    framework, model = request.param
    # eager_tracing on for the custom model, off for the others: both tf2 modes run.
    config = _config(framework, model, eager_tracing=model == "user-keras-model")
    algo = make_exporting(PPO, formats=FORMATS, on_error="raise")(config=config)
    space = algo.get_policy().observation_space
    space.seed(0)
    fixed = [space.sample() for _ in range(32)]
    initial = live_outputs(algo, "default_policy", fixed)
    exports = []
    for _ in range(2):
        # Two checkpoints: the second one's graphs are the first one's with new weights.
        algo.train()
        checkpoint = algo.save(str(tmp_path_factory.mktemp(f"{framework}-{model}")))
        exports.append(Path(checkpoint.checkpoint.path) / "export" / "default_policy")
    yield algo, exports[1], fixed, initial, exports[0]
    algo.stop()


HYPOTHESIS = settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("fmt", FORMATS)
@HYPOTHESIS
@given(data=st.data())
def test_artifact_in_its_own_runtime_matches_live_policy(trained, rayfree, fmt, data):
    algo, export_dir, _, _, _ = trained
    manifest = read_manifest(export_dir)
    space = space_from_dict(manifest["observation_space"])
    observations = data.draw(observation_batches(space, 64))
    feeds = {"obs": np.stack(observations)}
    exported = rayfree.run(export_dir, fmt, feeds, mode="raw")
    live = live_outputs(algo, "default_policy", observations)
    names = ["action_dist_inputs", "vf_preds"] if fmt in ("h5", "keras") else None
    assert_close(live, exported, ATOL, names=names)
    exported = rayfree.run(export_dir, fmt, feeds, mode="load_policy")
    assert_close(live, exported, ATOL)


def test_export_holds_trained_not_initial_weights(trained, rayfree):
    """RLlib's own tf1 SavedModel held the initial weights; ours must hold the trained ones."""
    algo, export_dir, fixed, initial, _ = trained
    live = live_outputs(algo, "default_policy", fixed)
    feeds = {"obs": np.stack(fixed)}
    for fmt in FORMATS:
        exported = rayfree.run(export_dir, fmt, feeds, mode="load_policy")
        assert_close(live, exported, ATOL)
        moved = np.abs(exported["action_dist_inputs"] - initial["action_dist_inputs"]).max()
        assert moved > 1e-4, f"{fmt}: exported outputs equal the untrained policy's"


def test_manifest_of_tf_export(trained):
    algo, export_dir, _, _, _ = trained
    manifest = read_manifest(export_dir)
    assert manifest["framework"] == algo.config.framework_str
    assert manifest["status"] == "ok", manifest["errors"]
    assert set(manifest["files"]) == set(FORMATS)
    assert manifest["files"]["onnx"]["opset"] >= 17
    assert manifest["network"]["head"] == "action_dist_inputs"
    assert {"tensorflow", "tf_keras"} <= set(manifest["versions"])


def test_later_checkpoint_reuses_the_onnx_graph_with_its_own_weights(trained, rayfree):
    """Checkpoints reuse the graph converted at build time, each with its own weights."""
    algo, second, fixed, _, first = trained
    assert read_manifest(first)["files"]["onnx"]["graph_reused"] is True
    assert read_manifest(second)["files"]["onnx"]["graph_reused"] is True
    live = live_outputs(algo, "default_policy", fixed)
    feeds = {"obs": np.stack(fixed)}
    assert_close(live, rayfree.run(second, "onnx", feeds), ATOL)
    old = rayfree.run(first, "onnx", feeds)
    assert np.abs(old["action_dist_inputs"] - live["action_dist_inputs"]).max() > 1e-4


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_model_without_keras_model_gets_a_clear_error_for_keras_formats(
    framework, ray_session, tmp_path
):
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import ExportFailedError, make_exporting
    from tests import tf_models

    tf_models.register()
    config = ppo_config("CartPole-v1", "old", framework).training(
        model={"custom_model": "no_keras_model", "vf_share_layers": True}
    )
    algo = make_exporting(PPO, formats=["savedmodel", "onnx"], on_error="raise")(config=config)
    try:
        algo.train()
        checkpoint = Path(algo.save(str(tmp_path / "ok")).checkpoint.path)
        manifest = read_manifest(checkpoint / "export" / "default_policy")
        assert set(manifest["files"]) == {"savedmodel", "onnx"}
        from exportable_trainers import ExportOptions

        with pytest.raises(
            ExportFailedError, match=r"tests\.tf_models\.NoKerasModel holds no Keras model"
        ):
            algo.export_policies(tmp_path / "h5", ExportOptions(formats=("h5",), on_error="raise"))
        assert not (tmp_path / "h5" / "export" / "default_policy").exists()
    finally:
        algo.stop()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_impossible_keras_format_is_named_when_the_algorithm_is_built(
    framework, ray_session, caplog
):
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import InvalidOptionError, make_exporting
    from tests import tf_models

    tf_models.register()
    config = ppo_config("CartPole-v1", "old", framework).training(
        model={"custom_model": "no_keras_model", "vf_share_layers": True}
    )
    with pytest.raises(InvalidOptionError, match=r"NoKerasModel holds no Keras model"):
        make_exporting(PPO, formats=["h5"], on_error="raise")(config=config)
    algo = make_exporting(PPO, formats=["h5", "onnx"], on_error="warn")(config=config)
    try:
        assert "NoKerasModel holds no Keras model" in caplog.text
    finally:
        algo.stop()
