"""load_policy / ExportedPolicy: choosing what to load, and errors that say what is wrong."""

from __future__ import annotations

import json
import shutil
import subprocess
import venv
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from exportable_trainers import (
    ExportNotFoundError,
    IntegrityError,
    InvalidOptionError,
    ManifestError,
    ObservationError,
    PolicySelectionError,
    load_policy,
)
from exportable_trainers.contract.manifest import MANIFEST_NAME
from tests.configs import ppo_config
from tests.live import live_outputs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checkpoint(ray_session, tmp_path_factory):
    """A checkpoint of PPO on CartPole with one export, plus the live algorithm."""
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting

    algo = make_exporting(PPO)(config=ppo_config("CartPole-v1"))
    algo.train()
    path = Path(algo.save(str(tmp_path_factory.mktemp("loader"))).checkpoint.path)
    yield algo, path
    algo.stop()


def _copy(checkpoint: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ckpt"
    shutil.copytree(checkpoint, target)
    return target


def test_checkpoint_export_dir_and_policy_dir_all_load(checkpoint):
    _, path = checkpoint
    for where in (path, path / "export", path / "export" / "default_policy"):
        policy = load_policy(where)
        assert policy.policy_id == "default_policy" and policy.format == "onnx"
    assert load_policy(path, format="torchscript").format == "torchscript"


@pytest.mark.parametrize(
    "spelling, fmt",
    [
        ("ONNX", "onnx"),
        (" Onnx ", "onnx"),
        ("TorchScript", "torchscript"),
        ("model", "torchscript"),
    ],
)
def test_format_names_are_spelled_as_export_options_accept_them(checkpoint, spelling, fmt):
    """The native alias "model" is the framework's native format (torchscript for torch)."""
    _, path = checkpoint
    assert load_policy(path, format=spelling).format == fmt


def test_list_exports_accepts_every_path_load_policy_accepts(checkpoint, tmp_path):
    from exportable_trainers import list_exports

    _, path = checkpoint
    copy = _copy(path, tmp_path)
    blue = copy / "export" / "player_blue"
    shutil.copytree(copy / "export" / "default_policy", blue)
    manifest = json.loads((blue / MANIFEST_NAME).read_text())
    (blue / MANIFEST_NAME).write_text(json.dumps({**manifest, "policy_id": "player_blue"}))
    for where, ids in (
        (copy, ["default_policy", "player_blue"]),
        (copy / "export", ["default_policy", "player_blue"]),
        (blue, ["player_blue"]),
    ):
        (entry,) = list_exports(where)
        assert entry.checkpoint == copy and sorted(entry.policy_ids) == ids, where


def test_several_policies_need_a_policy_id(checkpoint, tmp_path):
    _, path = checkpoint
    copy = _copy(path, tmp_path)
    shutil.copytree(copy / "export" / "default_policy", copy / "export" / "player_blue")
    with pytest.raises(PolicySelectionError, match="'default_policy', 'player_blue'"):
        load_policy(copy)
    with pytest.raises(PolicySelectionError, match="no export of policy 'player_red'"):
        load_policy(copy, policy_id="player_red")
    assert load_policy(copy, policy_id="player_blue").policy_id == "default_policy"


def test_format_choice_errors(checkpoint):
    _, path = checkpoint
    with pytest.raises(InvalidOptionError, match="holds weights only"):
        load_policy(path, format="safetensors")
    with pytest.raises(InvalidOptionError, match="holds no 'savedmodel' export"):
        load_policy(path, format="savedmodel")


def test_missing_path_and_non_export(tmp_path):
    with pytest.raises(ExportNotFoundError, match="does not exist"):
        load_policy(tmp_path / "nope")
    with pytest.raises(ExportNotFoundError, match="no export found"):
        load_policy(tmp_path)


def test_changed_byte_is_refused_naming_the_file(checkpoint, tmp_path):
    _, path = checkpoint
    copy = _copy(path, tmp_path)
    model = copy / "export" / "default_policy" / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="model.onnx"):
        load_policy(copy)


def test_newer_manifest_protocol_is_refused(checkpoint, tmp_path):
    import json

    _, path = checkpoint
    copy = _copy(path, tmp_path)
    manifest_path = copy / "export" / "default_policy" / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["protocol"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="protocol 99 is newer"):
        load_policy(copy)


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (np.zeros(5, np.float32), "shape (5,), not (4,)"),
        (np.array([0.0, np.nan, 0.0, 0.0], np.float32), "contains NaN"),
        ({"obs": np.zeros(4)}, "not a number"),
    ],
)
def test_bad_observation_names_the_space(checkpoint, bad, fragment):
    _, path = checkpoint
    policy = load_policy(path)
    with pytest.raises(ObservationError) as info:
        policy.compute_action(bad)
    assert fragment in str(info.value) and "Box(" in str(info.value)


def test_batches_in_either_form_give_the_same_actions(checkpoint):
    algo, path = checkpoint
    policy = load_policy(path)
    rng = np.random.default_rng(1)
    observations = [rng.normal(size=4).astype(np.float32) for _ in range(16)]
    as_list = policy.compute_actions(observations)
    as_array = policy.compute_actions(np.stack(observations))
    singles = np.array([policy.compute_action(o) for o in observations])
    np.testing.assert_array_equal(as_list, as_array)
    np.testing.assert_array_equal(as_list, singles)
    np.testing.assert_array_equal(
        as_list, live_outputs(algo, "default_policy", observations)["action"]
    )


@pytest.mark.slow
def test_minimal_environment_numpy_gymnasium_onnxruntime_only(checkpoint, tmp_path):
    """A virtualenv with only numpy, gymnasium and onnxruntime runs an export."""
    algo, path = checkpoint
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pins = [f"{p}=={version(p)}" for p in ("numpy", "gymnasium", "onnxruntime")]
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *pins], check=True)
    subprocess.run([*pip, "--no-deps", str(ROOT)], check=True)
    observation = [0.02, -0.3, 0.01, 0.4]
    script = f"""
import sys
from exportable_trainers import load_policy, MissingRuntimeError
policy = load_policy({str(path)!r})
print(policy.compute_action({observation!r}))
try:
    load_policy({str(path)!r}, format="torchscript")
except MissingRuntimeError as e:
    print("missing:", e)
for name in ("ray", "torch", "tensorflow"):
    try:
        __import__(name)
        print("importable:", name)
    except ImportError:
        pass
"""
    out = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    live = live_outputs(algo, "default_policy", [np.array(observation, np.float32)])["action"][0]
    assert lines[0] == str(int(live))
    assert lines[1].startswith("missing:") and "exportable_trainers[torch]" in lines[1]
    assert len(lines) == 2, f"heavy packages importable in the minimal env: {lines[2:]}"
