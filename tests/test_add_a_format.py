"""docs/architecture.md's "add a format" recipe, followed by a format that only this test knows.

The ``npz`` format holds a torch network's weights as a numpy ``.npz`` file. It
is declared and registered here, touching no package file: if the recipe needs
more than a Format declaration, this test cannot pass.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from exportable_trainers.contract.formats import (
    DEFAULT_FORMATS,
    FORMATS,
    Format,
    register_format,
    resolve_formats,
    unregister_format,
)
from exportable_trainers.contract.manifest import EXPORT_DIRNAME, read_manifest

NAME = "npz"


def _write_npz(exporter, path: Path) -> dict:
    np.savez(path, **exporter.weights())
    return {"tensors": len(exporter.weights())}


def _write_npz_off_by_one_ulp(exporter, path: Path) -> dict:
    weights = exporter.weights()
    first = sorted(weights)[0]
    weights[first] = np.nextafter(weights[first], np.inf).astype(weights[first].dtype)
    np.savez(path, **weights)
    return {}


def _read_npz(path: Path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _card(record: dict, manifest: dict) -> list[str]:
    return ["## npz (numpy weights)", "", f'`numpy.load("{record["path"]}")`']


def _npz(writer) -> Format:
    return Format(
        name=NAME,
        path="weights.npz",
        frameworks=frozenset({"torch"}),
        description="the network's weights as a numpy .npz file",
        writer=writer,
        whole_policy=False,
        verify="weights",
        card=_card,
        read_weights=_read_npz,
    )


@pytest.fixture()
def npz_format():
    """``npz_format(writer)`` registers the npz format for this test only."""
    registered = []

    def register(writer=_write_npz) -> Format:
        registered.append(register_format(_npz(writer)))
        return registered[-1]

    yield register
    for _ in registered:
        unregister_format(NAME)
    assert NAME not in FORMATS


def test_a_registered_format_is_validated_like_a_builtin(npz_format):
    from exportable_trainers import InvalidOptionError

    with pytest.raises(InvalidOptionError, match="unknown export format 'npz'"):
        resolve_formats([NAME], "torch")
    npz_format()
    assert resolve_formats(["onnx", NAME], "torch") == ("onnx", NAME)
    assert NAME not in DEFAULT_FORMATS["torch"]  # asked for, never written by default
    with pytest.raises(InvalidOptionError, match=r"'npz' cannot be written for framework='tf2'"):
        resolve_formats([NAME], "tf2")
    with pytest.raises(InvalidOptionError, match="already registered"):
        npz_format()


@pytest.mark.slow
def test_a_registered_format_is_written_verified_and_described(ray_session, tmp_path, npz_format):
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting
    from tests.configs import ppo_config

    npz_format()
    algo = make_exporting(PPO, formats=["onnx", NAME], on_error="raise")(
        config=ppo_config("CartPole-v1")
    )
    try:
        algo.train()
        checkpoint = Path(algo.save(str(tmp_path / "a")).checkpoint.path)
        export_dir = checkpoint / EXPORT_DIRNAME / "default_policy"
        manifest = read_manifest(export_dir)
        assert manifest["status"] == "ok", manifest["errors"]
        assert manifest["verification"][NAME]["passed"] is True
        assert manifest["files"][NAME]["tensors"] == manifest["verification"][NAME]["tensors"]
        stored = _read_npz(export_dir / "weights.npz")
        # The learner's module as the checkpoint holds it (the env runner's copy
        # is inference-only and lacks the value branch).
        module_dir = checkpoint / "learner_group" / "learner" / "rl_module" / "default_policy"
        with open(module_dir / "module_state.pkl", "rb") as f:
            live = {k: np.asarray(v) for k, v in pickle.load(f).items()}
        assert set(stored) == set(live)
        for key, value in live.items():
            np.testing.assert_array_equal(stored[key], value, err_msg=key)
        assert "## npz (numpy weights)" in (export_dir / "README.md").read_text()
    finally:
        algo.stop()


@pytest.mark.slow
def test_a_registered_format_that_drifts_is_dropped(ray_session, tmp_path, npz_format):
    """One weight one ulp off: the weights check refuses the file, the other formats stay."""
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting
    from tests.configs import ppo_config

    npz_format(_write_npz_off_by_one_ulp)
    algo = make_exporting(PPO, formats=["onnx", NAME], on_error="warn")(
        config=ppo_config("CartPole-v1")
    )
    try:
        checkpoint = Path(algo.save(str(tmp_path / "b")).checkpoint.path)
        manifest = read_manifest(checkpoint / EXPORT_DIRNAME / "default_policy")
        assert NAME not in manifest["files"] and "onnx" in manifest["files"]
        assert manifest["errors"][NAME].startswith("verification failed")
        assert not (checkpoint / EXPORT_DIRNAME / "default_policy" / "weights.npz").exists()
    finally:
        algo.stop()
