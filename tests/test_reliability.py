"""Failure isolation, Tune fault tolerance and safe loading."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from exportable_trainers import (
    ArtifactLoadError,
    ExportFailedError,
    IntegrityError,
    list_exports,
    load_policy,
    make_exporting,
)
from exportable_trainers.contract.manifest import (
    EXPORT_DIRNAME,
    MANIFEST_NAME,
    file_record,
    read_manifest,
)
from tests.callbacks import fail_once_at_iteration_2
from tests.configs import ppo_config
from tests.tuning import fit, tuner

pytestmark = pytest.mark.slow
OBS = [0.01, -0.2, 0.03, 0.1]


def _restores(checkpoint: Path) -> None:
    from ray.rllib.algorithms.algorithm import Algorithm

    Algorithm.from_checkpoint(str(checkpoint)).stop()


@pytest.fixture()
def broken_onnx(monkeypatch):
    """``broken_onnx()`` makes the torch exporter's ONNX writer crash from then on.

    Called after the algorithm is built: the build's own dry-run export would
    otherwise meet the crash and (under on_error="raise") refuse the build.
    """
    from exportable_trainers.export.torch.exporter import TorchExporter

    original = TorchExporter.write

    def write(self, fmt, directory):
        if fmt == "onnx":
            raise RuntimeError("simulated converter crash")
        return original(self, fmt, directory)

    return lambda: monkeypatch.setattr(TorchExporter, "write", write)


def test_failed_format_under_warn_keeps_checkpoint_and_training(
    ray_session, tmp_path, broken_onnx, caplog
):
    from ray.rllib.algorithms.ppo import PPO

    algo = make_exporting(PPO, on_error="warn")(config=ppo_config("CartPole-v1"))
    broken_onnx()
    try:
        algo.train()
        with caplog.at_level(logging.WARNING, logger="exportable_trainers"):
            checkpoint = Path(algo.save(str(tmp_path / "a")).checkpoint.path)
        warnings = [r for r in caplog.records if r.name == "exportable_trainers"]
        assert len(warnings) == 1
        assert "'default_policy'" in warnings[0].message and "onnx" in warnings[0].message
        manifest = read_manifest(checkpoint / EXPORT_DIRNAME / "default_policy")
        assert manifest["status"] == "partial"
        assert "simulated converter crash" in manifest["errors"]["onnx"]
        assert set(manifest["files"]) == {"torchscript", "safetensors"}
        assert not (checkpoint / EXPORT_DIRNAME / "default_policy" / "model.onnx").exists()
        _restores(checkpoint)
        algo.train()  # training goes on
        assert algo.iteration == 2
    finally:
        algo.stop()


def test_failed_format_under_raise_fails_the_save_but_not_the_checkpoint(
    ray_session, tmp_path, broken_onnx, monkeypatch
):
    from ray.rllib.algorithms.ppo import PPO

    algo = make_exporting(PPO, on_error="raise")(config=ppo_config("CartPole-v1"))
    broken_onnx()
    try:
        algo.train()
        target = tmp_path / "b"
        with pytest.raises(ExportFailedError) as info:
            algo.save(str(target))
        message = str(info.value)
        assert (
            "'default_policy'" in message
            and "onnx" in message
            and "simulated converter crash" in message
        )
        assert not (target / EXPORT_DIRNAME / "default_policy").exists()
        assert (
            not [p for p in (target / EXPORT_DIRNAME).iterdir()]
            if (target / EXPORT_DIRNAME).exists()
            else True
        )
        # RLlib's part was complete before the export began. The restore builds
        # the algorithm again, so the converter is mended first: under "raise" the
        # rebuilt algorithm's own dry run would otherwise refuse the build.
        monkeypatch.undo()
        _restores(target)
    finally:
        algo.stop()


def test_an_exporting_save_writes_what_rllib_writes_and_only_adds_export(
    ray_session, tmp_path, monkeypatch
):
    """Compared with a plain RLlib save: the same files outside ``export/``, unchanged by it."""
    from ray.rllib.algorithms.ppo import PPO

    def files(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    config = ppo_config("CartPole-v1")
    plain = PPO(config=config)
    try:
        plain.train()
        rllib_files = files(Path(plain.save(str(tmp_path / "plain")).checkpoint.path))
    finally:
        plain.stop()

    algo = make_exporting(PPO, on_error="raise")(config=config)
    before_export = {}
    original = type(algo).export_policies

    def export_policies(self, checkpoint_dir, options=None):
        before_export.update(files(Path(checkpoint_dir)))  # what RLlib wrote, as it wrote it
        return original(self, checkpoint_dir, options)

    monkeypatch.setattr(type(algo), "export_policies", export_policies)
    try:
        algo.train()
        after = files(Path(algo.save(str(tmp_path / "exporting")).checkpoint.path))
    finally:
        algo.stop()
    outside = {k: v for k, v in after.items() if not k.startswith(f"{EXPORT_DIRNAME}/")}
    assert sorted(outside) == sorted(rllib_files)  # the same files as a plain RLlib save
    assert outside == before_export  # and the export changed none of them
    assert any(k.startswith(f"{EXPORT_DIRNAME}/default_policy/") for k in after)


def test_failed_verification_drops_the_artifact_and_records_why(ray_session, tmp_path, caplog):
    """atol=rtol=0: ONNX Runtime and torch differ by float32 rounding, a real mismatch."""
    from ray.rllib.algorithms.ppo import PPO

    algo = make_exporting(PPO, atol=0.0, rtol=0.0)(config=ppo_config("Pendulum-v1"))
    try:
        algo.train()
        with caplog.at_level(logging.WARNING, logger="exportable_trainers"):
            checkpoint = Path(algo.save(str(tmp_path / "c")).checkpoint.path)
        export_dir = checkpoint / EXPORT_DIRNAME / "default_policy"
        manifest = read_manifest(export_dir)
        assert "onnx" not in manifest["files"]
        assert not (export_dir / "model.onnx").exists()  # the wrong artifact is gone from disk
        assert manifest["errors"]["onnx"].startswith("verification failed")
        assert manifest["verification"]["onnx"]["passed"] is False
        assert manifest["verification"]["torchscript"]["passed"] is True  # same kernels: exact
        assert "onnx" in caplog.text and "verification failed" in caplog.text
        (entry,) = list_exports(checkpoint)
        assert entry.policies["default_policy"].verified is False
        _restores(checkpoint)
    finally:
        algo.stop()


def test_crashed_trial_resumes_from_its_checkpoint_and_keeps_exporting(ray_session, tmp_path):
    from ray import tune
    from ray.rllib.algorithms.ppo import PPO

    config = ppo_config("CartPole-v1").callbacks(on_train_result=fail_once_at_iteration_2)
    config.test_fail_marker = str(tmp_path / "crashed")
    result = tuner(
        make_exporting(PPO),
        config,
        tmp_path,
        3,
        failure_config=tune.FailureConfig(max_failures=1),
    ).fit()[0]
    assert result.error is None, result.error
    assert (tmp_path / "crashed").exists(), "the trial never crashed"
    iterations = [e.training_iteration for e in list_exports(result.path)]
    assert iterations == [1, 2, 3]


def test_num_to_keep_removes_exports_with_their_checkpoints(ray_session, tmp_path):
    from ray.rllib.algorithms.ppo import PPO

    result = fit(make_exporting(PPO), ppo_config("CartPole-v1"), tmp_path, 4, keep=2)
    trial = Path(result.path)
    assert len(list(trial.glob("checkpoint_*"))) == 2
    assert [e.training_iteration for e in list_exports(trial)] == [3, 4]
    assert sorted(p.parents[2].name for p in trial.rglob(MANIFEST_NAME)) == sorted(
        p.name for p in trial.glob("checkpoint_*")
    )


# ------------------------------------------------------------------ safe loading


@pytest.fixture(scope="module")
def export_dir(ray_session, tmp_path_factory) -> Path:
    from ray.rllib.algorithms.ppo import PPO

    algo = make_exporting(PPO)(config=ppo_config("CartPole-v1"))
    algo.train()
    checkpoint = Path(algo.save(str(tmp_path_factory.mktemp("safe"))).checkpoint.path)
    algo.stop()
    return checkpoint / EXPORT_DIRNAME / "default_policy"


def _swap(export_dir: Path, tmp_path: Path, fmt: str, write, extra: dict | None = None) -> Path:
    """A copy of the export whose ``fmt`` file is replaced, with a matching manifest."""
    copy = tmp_path / "export" / "default_policy"
    shutil.copytree(export_dir, copy)
    manifest = json.loads((copy / MANIFEST_NAME).read_text())
    rel = (
        manifest["files"].get(fmt, {}).get("path")
        or {"h5": "model.h5", "keras": "model.keras"}[fmt]
    )
    (copy / rel).unlink(missing_ok=True)
    write(copy / rel)
    manifest["files"][fmt] = file_record(copy, rel)
    manifest.update(extra or {})
    (copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    return copy


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_in_place_of_torchscript_is_not_unpickled(export_dir, tmp_path):
    import torch

    marker = tmp_path / "code-ran"
    copy = _swap(export_dir, tmp_path, "torchscript", lambda p: torch.save(_Payload(marker), p))
    with pytest.raises(ArtifactLoadError, match="cannot open .*model.pt"):
        load_policy(copy, format="torchscript")
    assert not marker.exists()


@pytest.mark.requires_tf
def test_h5_with_a_lambda_layer_is_refused_before_loading(export_dir, tmp_path):
    import tf_keras

    def write(path):
        inputs = tf_keras.Input((4,), name="observations")
        outputs = tf_keras.layers.Lambda(lambda x: x * 2.0)(inputs)
        tf_keras.Model(inputs, outputs).save(str(path), save_format="h5")

    network = {
        "network": {
            "inputs": [{"name": "observations", "shape": [None, 4], "dtype": "float32"}],
            "outputs": [{"name": "action_dist_inputs", "index": 0, "shape": [None, 4]}],
            "head": "action_dist_inputs",
        }
    }
    copy = _swap(export_dir, tmp_path, "h5", write, network)
    with pytest.raises(IntegrityError, match="Lambda layer.*would run Python code"):
        load_policy(copy, format="h5")


@pytest.mark.requires_tf
def test_keras3_file_with_a_lambda_layer_is_refused(export_dir, tmp_path):
    import keras

    def write(path):
        inputs = keras.Input((4,), name="observations")
        keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(inputs)).save(str(path))

    network = {
        "network": {
            "inputs": [{"name": "observations", "shape": [None, 4], "dtype": "float32"}],
            "outputs": [{"name": "action_dist_inputs", "index": 0, "shape": [None, 4]}],
            "head": "action_dist_inputs",
        }
    }
    copy = _swap(export_dir, tmp_path, "keras", write, network)
    # Keras' safe mode refuses the Lambda by name; any other failure would not prove it.
    with pytest.raises(ArtifactLoadError, match=r"cannot open .*model\.keras.*Lambda"):
        load_policy(copy, format="keras")


def test_weights_are_read_with_safetensors_not_pickle(export_dir, tmp_path):
    """The package's own weights reader (verification, ``verify``) refuses a planted pickle."""
    import torch

    from exportable_trainers.contract.formats import FORMATS

    read = FORMATS["safetensors"].read_weights
    weights = read(export_dir / "weights.safetensors")
    assert weights and all(isinstance(v, np.ndarray) for v in weights.values())
    marker = tmp_path / "code-ran"
    planted = tmp_path / "weights.safetensors"
    torch.save({"w": _Payload(marker)}, planted)  # a pickle with the safetensors name
    with pytest.raises(Exception, match="header|Safetensor|invalid") as info:
        read(planted)
    assert "pickle" not in type(info.value).__module__
    assert not marker.exists()


def test_old_stack_export_holds_the_policy_lock(ray_session, tmp_path, monkeypatch):
    """A background learner thread (old-stack IMPALA / APPO) cannot train mid-export."""
    from ray.rllib.algorithms.ppo import PPO

    import exportable_trainers.export.checkpoint as checkpoint_export

    held = []
    original = checkpoint_export.export_policy

    def export_policy(build, policy_id, *args, **kwargs):
        # Another thread (the learner's) tries to take the policy lock mid-export.
        lock, got = algo.get_policy(policy_id)._lock, []

        def learner() -> None:
            got.append(lock.acquire(timeout=0.5))
            if got[-1]:
                lock.release()

        thread = threading.Thread(target=learner)
        thread.start()
        thread.join()
        held.append(got == [False])
        return original(build, policy_id, *args, **kwargs)

    algo = make_exporting(PPO, on_error="raise")(config=ppo_config("CartPole-v1", stack="old"))
    monkeypatch.setattr(checkpoint_export, "export_policy", export_policy)
    try:
        algo.train()
        algo.save(str(tmp_path / "c"))
    finally:
        algo.stop()
    assert held == [True]
