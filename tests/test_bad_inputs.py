"""The bad-input catalogue: every case raises a documented error and changes no file.

Each case names (1) what it does, (2) the exception class, (3) a fragment naming
the bad value and (4) a fragment naming what is valid. The export and checkpoint
directories are hashed before and after each case.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from exportable_trainers import (
    ExportNotFoundError,
    ExportOptions,
    IntegrityError,
    InvalidOptionError,
    ManifestError,
    ObservationError,
    PolicySelectionError,
    load_policy,
    make_exporting,
)
from exportable_trainers.contract.manifest import EXPORT_DIRNAME, MANIFEST_NAME
from tests.configs import ppo_config, spaces_config


@pytest.fixture(scope="module")
def checkpoint(ray_session, tmp_path_factory) -> Path:
    """A checkpoint of PPO on a Dict({mode: Discrete(3), pos: Box(2)}) observation."""
    from ray.rllib.algorithms.ppo import PPO

    algo = make_exporting(PPO)(config=spaces_config("dict", "discrete", "new"))
    algo.train()
    path = Path(algo.save(str(tmp_path_factory.mktemp("catalogue"))).checkpoint.path)
    algo.stop()
    return path


def _tree_hash(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _copy(checkpoint: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ckpt"
    shutil.copytree(checkpoint, copy)
    return copy


def _export(path: Path) -> Path:
    return path / EXPORT_DIRNAME / "default_policy"


def _edit_manifest(path: Path, **changes) -> None:
    manifest_path = _export(path) / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest.update(changes)
    manifest_path.write_text(json.dumps(manifest))


def _truncate(path: Path) -> None:
    model = _export(path) / "model.onnx"
    model.write_bytes(model.read_bytes()[:1000])


def _flip(path: Path) -> None:
    model = _export(path) / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 3] ^= 0x01
    model.write_bytes(bytes(data))


GOOD = {"mode": 1, "pos": np.array([0.1, -0.2], np.float32)}

# (id, prepare(copy) or None, action(copy), exception, names-the-bad-value, names-what-is-valid)
CASES = [
    # --- configuration
    (
        "unknown format",
        None,
        lambda c: ExportOptions(formats=["h6"]),
        InvalidOptionError,
        "'h6'",
        "valid formats: h5, keras, onnx",
    ),
    (
        "format impossible for the framework",
        None,
        lambda c: make_exporting_ppo(formats=["h5"])(config=ppo_config("CartPole-v1")),
        InvalidOptionError,
        "'h5'",
        "Formats for torch: onnx, safetensors, torchscript",
    ),
    (
        "bad on_error",
        None,
        lambda c: ExportOptions(on_error="ignore"),
        InvalidOptionError,
        "on_error='ignore'",
        "'warn', 'raise'",
    ),
    (
        "bad verify",
        None,
        lambda c: ExportOptions(verify="yes"),
        InvalidOptionError,
        "'yes'",
        "True or False",
    ),
    (
        "unknown policy in policies",
        None,
        lambda c: make_exporting_ppo(policies=["player_red"])(config=ppo_config("CartPole-v1")),
        InvalidOptionError,
        "'player_red'",
        "has: 'default_policy'",
    ),
    (
        "unsafe policy id",
        None,
        lambda c: ExportOptions(policies=["../escape"]),
        InvalidOptionError,
        "'../escape'",
        "must be non-empty",
    ),
    (
        "unknown key in config['exporting']",
        None,
        lambda c: ExportOptions().with_config({"exporting": {"fromats": ["onnx"]}}),
        InvalidOptionError,
        "'fromats'",
        "valid options: formats, policies",
    ),
    (
        "unknown algorithm",
        None,
        lambda c: make_exporting("NoSuchAlgo"),
        InvalidOptionError,
        "'NoSuchAlgo'",
        "PPO",
    ),
    # --- files
    (
        "missing manifest",
        lambda c: (_export(c) / MANIFEST_NAME).unlink(),
        lambda c: load_policy(c),
        ExportNotFoundError,
        "no export found",
        "export/<policy_id>/manifest.json",
    ),
    (
        "manifest of a newer protocol",
        lambda c: _edit_manifest(c, protocol=99),
        lambda c: load_policy(c),
        ManifestError,
        "protocol 99",
        "protocol <= 1",
    ),
    (
        "manifest that is not JSON",
        lambda c: (_export(c) / MANIFEST_NAME).write_text("{oops"),
        lambda c: load_policy(c),
        ManifestError,
        "manifest.json",
        "not valid JSON",
    ),
    (
        "truncated ONNX file",
        _truncate,
        lambda c: load_policy(c),
        IntegrityError,
        "model.onnx",
        "does not match its manifest",
    ),
    (
        "changed byte",
        _flip,
        lambda c: load_policy(c),
        IntegrityError,
        "model.onnx",
        "does not match its manifest",
    ),
    (
        "empty directory",
        lambda c: shutil.rmtree(c / EXPORT_DIRNAME),
        lambda c: load_policy(c),
        ExportNotFoundError,
        "no export found at /",  # names the directory
        "expected an export directory",
    ),
    (
        "path that does not exist",
        None,
        lambda c: load_policy(c / "nope"),
        ExportNotFoundError,
        "nope",
        "does not exist",
    ),
    (
        "format not in the export",
        None,
        lambda c: load_policy(c, format="savedmodel"),
        InvalidOptionError,
        "'savedmodel'",
        "it holds: onnx, torchscript, safetensors",
    ),
    (
        "unknown policy id",
        None,
        lambda c: load_policy(c, policy_id="player_red"),
        PolicySelectionError,
        "'player_red'",
        "it holds: 'default_policy'",
    ),
    # --- inference
    (
        "wrong shape",
        None,
        lambda c: load_policy(c).compute_action({"mode": 1, "pos": np.zeros(3)}),
        ObservationError,
        "obs.pos: has shape (3,)",
        "not (2,)",
    ),
    (
        "wrong dtype",
        None,
        lambda c: load_policy(c).compute_action({"mode": 1, "pos": ["a", "b"]}),
        ObservationError,
        "dtype <U1",
        "expected an element of Box(-1.0, 1.0, (2,), float32)",
    ),
    (
        "wrong Dict keys",
        None,
        lambda c: load_policy(c).compute_action({"mode": 1, "position": [0, 0]}),
        ObservationError,
        "unexpected: 'position'",
        "missing: 'pos'",
    ),
    (
        "batch of mixed shapes",
        None,
        lambda c: load_policy(c).compute_actions([GOOD, {"mode": 1, "pos": np.zeros(4)}]),
        ObservationError,
        "batch item 1",
        "not (2,)",
    ),
    (
        "NaN in an observation (refused, by design)",
        None,
        lambda c: load_policy(c).compute_action({"mode": 1, "pos": [np.nan, 0.0]}),
        ObservationError,
        "contains NaN",
        "expected an element of Box(-1.0, 1.0, (2,), float32)",
    ),
    (
        "Discrete value outside the space",
        None,
        lambda c: load_policy(c).compute_action({"mode": 7, "pos": [0, 0]}),
        ObservationError,
        "obs.mode: has values outside the space",
        "Discrete(3)",
    ),
]


def make_exporting_ppo(**defaults):
    from ray.rllib.algorithms.ppo import PPO

    return make_exporting(PPO, **defaults)


@pytest.mark.parametrize(
    "prepare, action, error, bad, valid",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input(checkpoint, tmp_path, prepare, action, error, bad, valid):
    copy = _copy(checkpoint, tmp_path)
    if prepare:
        prepare(copy)
    before = _tree_hash(tmp_path)
    with pytest.raises(error) as info:
        action(copy)
    message = str(info.value)
    assert bad in message, f"{message!r} does not name {bad!r}"
    assert valid in message, f"{message!r} does not name {valid!r}"
    assert _tree_hash(tmp_path) == before, "the failed call changed a file"


def test_catalogue_has_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_good_observation_still_works(checkpoint):
    assert load_policy(checkpoint).compute_action(GOOD) in (0, 1, 2)
