"""The bad-input catalogue: every case raises a documented error and changes no file.

Each case names (1) what it does, (2) the exception class, (3) a fragment naming
the bad value and (4) a fragment naming what is valid. The export and checkpoint
directories are hashed before and after each case.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from exportable_trainers import (
    ArtifactLoadError,
    ExportNotFoundError,
    ExportOptions,
    IntegrityError,
    InvalidOptionError,
    ManifestError,
    ObservationError,
    PolicySelectionError,
    list_exports,
    load_policy,
    make_exporting,
)
from exportable_trainers.contract.formats import FORMATS
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


def _edit_files(checkpoint: Path, fmt: str, **changes) -> None:
    manifest_path = _export(checkpoint) / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][fmt].update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del manifest["files"][fmt][key]
    manifest_path.write_text(json.dumps(manifest))


def _symlink_outside(path: Path) -> None:
    """model.onnx becomes a link to a same-content file outside the export directory."""
    model = _export(path) / "model.onnx"
    outside = path.parent / "elsewhere.onnx"
    outside.write_bytes(model.read_bytes())
    model.unlink()
    model.symlink_to(outside)


def _garbage_with_matching_sha(path: Path) -> None:
    import hashlib

    model = _export(path) / "model.onnx"
    model.write_bytes(b"this is not an ONNX model" * 10)
    _edit_files(path, "onnx", sha256=hashlib.sha256(model.read_bytes()).hexdigest())


def _readme_outside(path: Path) -> None:
    manifest_path = _export(path) / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["readme"]["path"] = "../../../elsewhere.md"
    manifest_path.write_text(json.dumps(manifest))


def _manifest_text(text: str):
    return lambda c: (_export(c) / MANIFEST_NAME).write_text(text)


GOOD = {"mode": 1, "pos": np.array([0.1, -0.2], np.float32)}
BOX = "Box(-1.0, 1.0, (2,), float32)"

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
        "Formats for torch: "
        + ", ".join(sorted(n for n, f in FORMATS.items() if "torch" in f.frameworks)),
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

# The second catalogue: paths an attacker controls, manifests a tool mangled,
# numbers a user mistyped.
CASES += [
    # --- paths read from the manifest
    (
        "artifact symlinked outside the export directory",
        _symlink_outside,
        lambda c: load_policy(c),
        ManifestError,
        "files['onnx'] path 'model.onnx' leaves the export directory",
        "elsewhere.onnx",
    ),
    (
        "absolute artifact path",
        lambda c: _edit_files(c, "onnx", path="/etc/passwd"),
        lambda c: load_policy(c),
        ManifestError,
        "'/etc/passwd'",
        "leaves the export directory",
    ),
    (
        "artifact path with ..",
        lambda c: _edit_files(c, "onnx", path="../../model.onnx"),
        lambda c: load_policy(c),
        ManifestError,
        "'../../model.onnx'",
        "leaves the export directory",
    ),
    (
        "README path escape",
        _readme_outside,
        lambda c: load_policy(c),
        ManifestError,
        "readme path '../../../elsewhere.md'",
        "leaves the export directory",
    ),
    # --- mangled manifests
    (
        "manifest that is a JSON list, not an object",
        _manifest_text("[1, 2, 3]"),
        lambda c: load_policy(c),
        ManifestError,
        "got list",
        "must be a JSON object",
    ),
    (
        "manifest protocol that is not an integer",
        lambda c: _edit_manifest(c, protocol="1"),
        lambda c: load_policy(c),
        ManifestError,
        "got '1'",
        "'protocol' must be an integer",
    ),
    (
        "manifest without required keys",
        _manifest_text('{"protocol": 1}'),
        lambda c: load_policy(c),
        ManifestError,
        "lacks required key(s): policy_id",
        "observation_space",
    ),
    (
        "files that is not an object",
        lambda c: _edit_manifest(c, files=["model.onnx"]),
        lambda c: load_policy(c),
        ManifestError,
        "'files'",
        "must map format names to file records",
    ),
    (
        "file entry without sha256",
        lambda c: _edit_files(c, "onnx", sha256=None),
        lambda c: load_policy(c),
        ManifestError,
        "files['onnx']",
        "must have 'path' and 'sha256' strings",
    ),
    (
        "listed file missing",
        lambda c: (_export(c) / "model.onnx").unlink(),
        lambda c: load_policy(c, format="onnx"),
        IntegrityError,
        "model.onnx",
        "listed in the manifest (onnx) but missing",
    ),
    (
        "corrupt file whose sha256 matches",
        _garbage_with_matching_sha,
        lambda c: load_policy(c, format="onnx"),
        ArtifactLoadError,
        "cannot open",
        "model.onnx",
    ),
    (
        "unknown preprocessing op",
        lambda c: _edit_manifest(c, preprocessing=[{"op": "frobnicate"}]),
        lambda c: load_policy(c),
        ManifestError,
        "'frobnicate'",
        "knows: flatten, mean_std",
    ),
    (
        "export that failed when it was written",
        lambda c: _edit_manifest(c, files={}, status="failed", errors={"onnx": "boom"}),
        lambda c: load_policy(c),
        ManifestError,
        "failed when it was written",
        "onnx: boom",
    ),
    # --- load_policy arguments
    (
        "policy id with separators at load",
        None,
        lambda c: load_policy(c, policy_id="../default_policy"),
        PolicySelectionError,
        "'../default_policy'",
        "it holds: 'default_policy'",
    ),
    (
        "unknown format at load",
        None,
        lambda c: load_policy(c, format="h6"),
        InvalidOptionError,
        "'h6'",
        "valid formats: h5, keras, onnx",
    ),
    (
        "weights-only format at load",
        None,
        lambda c: load_policy(c, format="safetensors"),
        InvalidOptionError,
        "'safetensors' holds weights only",
        "loadable formats here: onnx, torchscript",
    ),
    (
        "format that is not a name",
        None,
        lambda c: load_policy(c, format=5),
        InvalidOptionError,
        "5",
        "valid formats",
    ),
    (
        "path that is a file",
        lambda c: (c / "afile").write_text("x"),
        lambda c: load_policy(c / "afile"),
        ExportNotFoundError,
        "afile",
        "is a file; give an export or checkpoint directory, or an .onnx file",
    ),
    # --- numbers
    (
        "+inf in an observation",
        None,
        lambda c: load_policy(c).compute_action({"mode": 1, "pos": [np.inf, 0.0]}),
        ObservationError,
        "contains +inf or -inf",
        BOX,
    ),
    (
        "-inf in a batch",
        None,
        lambda c: load_policy(c).compute_actions([GOOD, {"mode": 1, "pos": [0.0, -np.inf]}]),
        ObservationError,
        "contains +inf or -inf",
        BOX,
    ),
    (
        "inf in a batched array",
        None,
        lambda c: load_policy(c).forward(
            {"mode": np.array([1]), "pos": np.array([[np.inf, 0]], np.float32)}
        ),
        ObservationError,
        "contains +inf or -inf",
        BOX,
    ),
    (
        "non-integer value for a Discrete leaf",
        None,
        lambda c: load_policy(c).compute_action({"mode": 1.5, "pos": [0, 0]}),
        ObservationError,
        "non-integer values",
        "Discrete(3)",
    ),
    (
        "negative Discrete value",
        None,
        lambda c: load_policy(c).compute_action({"mode": -1, "pos": [0, 0]}),
        ObservationError,
        "values outside the space",
        "Discrete(3)",
    ),
    (
        "a string where a Dict observation belongs",
        None,
        lambda c: load_policy(c).compute_action("observation"),
        ObservationError,
        "str",
        "Dict(",
    ),
    (
        "state given to a stateless policy",
        None,
        lambda c: load_policy(c).forward([GOOD], state={"h": np.zeros((1, 4))}),
        ObservationError,
        "takes no state",
        "state=None",
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


@pytest.fixture(scope="module")
def lstm_checkpoint(ray_session, tmp_path_factory) -> Path:
    """A checkpoint of a new-stack LSTM PPO on CartPole (state h, c of size 8)."""
    from ray.rllib.algorithms.ppo import PPO
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    config = ppo_config("CartPole-v1").rl_module(
        model_config=DefaultModelConfig(use_lstm=True, lstm_cell_size=8, max_seq_len=4)
    )
    algo = make_exporting(PPO, on_error="raise")(config=config)
    algo.train()
    path = Path(algo.save(str(tmp_path_factory.mktemp("catalogue-lstm"))).checkpoint.path)
    algo.stop()
    return path


OBS4 = [np.zeros(4, np.float32)]
# (id, state for a batch of one CartPole observation, names-the-bad-value, names-what-is-valid)
H = np.zeros((1, 1, 8))  # batch, layers, cell
RECURRENT_CASES = [
    ("state keys misspelled", {"hh": H, "c": H}, "'hh'", "['c', 'h']"),
    ("state key missing", {"h": H}, "got ['h']", "keys ['c', 'h']"),
    (
        "state of the wrong size",
        {"h": np.zeros((1, 1, 9)), "c": H},
        "'h' has shape (1, 1, 9)",
        "expected (1, 1, 8)",
    ),
    (
        "state for another batch size",
        {"h": np.zeros((3, 1, 8)), "c": np.zeros((3, 1, 8))},
        "has shape (3, 1, 8)",
        "for a batch of 1",
    ),
    ("state that is not a dict", [H, H], "got list", "keys ['c', 'h']"),
]


@pytest.mark.parametrize(
    "state, bad, valid", [c[1:] for c in RECURRENT_CASES], ids=[c[0] for c in RECURRENT_CASES]
)
def test_bad_recurrent_state(lstm_checkpoint, tmp_path, state, bad, valid):
    copy = _copy(lstm_checkpoint, tmp_path)
    before = _tree_hash(tmp_path)
    policy = load_policy(copy)
    assert sorted(policy.initial_state()) == ["c", "h"]
    with pytest.raises(ObservationError) as info:
        policy.forward(OBS4, state=state)
    message = str(info.value)
    assert bad in message and valid in message, message
    assert _tree_hash(tmp_path) == before


def _fail_with(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.fixture(scope="module")
def live(ray_session):
    """A trained algorithm exporting under on_error="warn"."""
    from ray.rllib.algorithms.ppo import PPO

    algo = make_exporting(PPO, on_error="warn")(config=ppo_config("CartPole-v1"))
    algo.train()
    yield algo
    algo.stop()


def _block_with_a_file(target: Path, monkeypatch) -> None:
    target.mkdir()
    (target / EXPORT_DIRNAME).write_text("a file where the export directory belongs")


def _disk_full_at_flush(target: Path, monkeypatch) -> None:
    from exportable_trainers.export import staging

    monkeypatch.setattr(staging, "_fsync_tree", _fail_with(errno.ENOSPC))


def _permission_denied_at_manifest(target: Path, monkeypatch) -> None:
    from exportable_trainers.export import pipeline

    monkeypatch.setattr(pipeline, "write_manifest", _fail_with(errno.EACCES))


# (id, prepare(target, monkeypatch), what the warning names)
WRITE_FAULTS = [
    ("a file named export blocks the directory", _block_with_a_file, "export"),
    ("ENOSPC while the export is flushed", _disk_full_at_flush, "No space left on device"),
    ("EACCES while the manifest is written", _permission_denied_at_manifest, "Permission denied"),
]


@pytest.mark.parametrize(
    "prepare, named", [c[1:] for c in WRITE_FAULTS], ids=[c[0] for c in WRITE_FAULTS]
)
def test_write_fault_keeps_the_checkpoint_hides_the_export_and_training_goes_on(
    live, tmp_path, monkeypatch, caplog, prepare, named
):
    target = tmp_path / "ckpt"
    prepare(target, monkeypatch)
    with caplog.at_level("WARNING", logger="exportable_trainers"):
        checkpoint = Path(live.save(str(target)).checkpoint.path)
    assert named in caplog.text, caplog.text
    assert (checkpoint / "rllib_checkpoint.json").is_file()
    assert (checkpoint / "algorithm_state.pkl").is_file()
    assert list_exports(checkpoint) == []  # nothing half-written is visible
    export = checkpoint / EXPORT_DIRNAME
    if export.is_dir():
        assert [p.name for p in export.iterdir()] == [], "a staging leftover stayed"
    monkeypatch.undo()
    before = live.iteration
    live.train()
    assert live.iteration == before + 1
    restored = type(live).from_checkpoint(str(checkpoint))  # RLlib's checkpoint is intact
    try:
        assert restored.iteration == before
    finally:
        restored.stop()


def test_float64_and_int_observations_act_like_float32(checkpoint):
    policy = load_policy(checkpoint)
    rng = np.random.default_rng(0)
    pos = rng.uniform(-1, 1, (32, 2)).astype(np.float32)
    mode = rng.integers(0, 3, 32)
    want = policy.compute_actions({"mode": mode, "pos": pos})
    as64 = policy.compute_actions({"mode": mode.astype(np.float64), "pos": pos.astype(np.float64)})
    np.testing.assert_array_equal(as64, want)
    singles = [
        policy.compute_action({"mode": int(m), "pos": p.astype(np.float64)})
        for m, p in zip(mode, pos)
    ]
    np.testing.assert_array_equal(singles, want)
    corners = np.array([[-1, 1], [0, 0], [1, -1]])  # ints: exactly representable in float32
    np.testing.assert_array_equal(
        policy.compute_actions({"mode": np.array([0, 1, 2]), "pos": corners}),
        policy.compute_actions({"mode": np.array([0, 1, 2]), "pos": corners.astype(np.float32)}),
    )


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_an_empty_batch_gives_an_empty_result(checkpoint, fmt):
    policy = load_policy(checkpoint, format=fmt)
    assert policy.compute_actions([]).shape == (0,)
    empty = {"mode": np.zeros(0, np.int64), "pos": np.zeros((0, 2), np.float32)}
    outs = policy.forward(empty)
    assert outs["action"].shape == (0,) and outs["action_dist_inputs"].shape == (0, 3)


def test_catalogue_has_at_least_forty_cases():
    assert len(CASES) + len(RECURRENT_CASES) + len(WRITE_FAULTS) >= 40


def test_good_observation_still_works(checkpoint):
    assert load_policy(checkpoint).compute_action(GOOD) in (0, 1, 2)
