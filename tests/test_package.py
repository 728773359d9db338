"""Package-level guarantees that need no training: light import, spaces, manifests, staging."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st

from exportable_trainers import (
    ExportNotFoundError,
    IntegrityError,
    ManifestError,
    ObservationError,
)
from exportable_trainers.contract.manifest import (
    PROTOCOL,
    check_files,
    file_record,
    read_manifest,
    validate_manifest,
    write_manifest,
)
from exportable_trainers.contract.observations import batch_to_leaves, single_to_leaves
from exportable_trainers.contract.spaces import space_from_dict, space_to_dict
from exportable_trainers.export.staging import STAGING_MARK, staged_directory
from tests.strategies import observations

HEAVY = ("ray", "torch", "tensorflow", "keras", "onnxruntime", "tf_keras")


@pytest.mark.parametrize(
    "statement",
    [
        "import exportable_trainers",
        "from exportable_trainers import load_policy, list_exports, ExportedPolicy, ExportOptions",
        "from exportable_trainers import ExportingMixin",
        "from exportable_trainers import compare_exports, Comparison",
    ],
)
def test_import_pulls_no_heavy_framework(statement):
    code = f"{statement}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# Spaces made of small random parts, nested once.
_leaf_spaces = st.one_of(
    st.builds(
        lambda lo, span, shape: spaces.Box(lo, lo + span, shape=shape, dtype=np.float32),
        st.floats(-5, 5),
        st.floats(0.5, 5),
        st.sampled_from([(1,), (3,), (2, 2)]),
    ),
    st.builds(
        lambda shape: spaces.Box(-np.inf, np.inf, shape=shape), st.sampled_from([(2,), (4,)])
    ),
    st.builds(lambda n, s: spaces.Discrete(n, start=s), st.integers(1, 6), st.integers(-2, 2)),
    st.builds(
        lambda v: spaces.MultiDiscrete(v), st.lists(st.integers(1, 4), min_size=1, max_size=3)
    ),
    st.builds(spaces.MultiBinary, st.integers(1, 4)),
)
_spaces = st.one_of(
    _leaf_spaces,
    st.dictionaries(
        st.sampled_from(["a", "pos", "mode", "z"]), _leaf_spaces, min_size=1, max_size=3
    ).map(spaces.Dict),
    st.lists(_leaf_spaces, min_size=1, max_size=3).map(spaces.Tuple),
)


@settings(max_examples=60, deadline=None)
@given(space=_spaces)
def test_space_json_round_trip(space):
    data = json.loads(json.dumps(space_to_dict(space), allow_nan=False))
    assert space_from_dict(data) == space


@settings(max_examples=40, deadline=None)
@given(data=st.data(), space=_spaces)
def test_valid_observations_split_into_leaves(data, space):
    obs = data.draw(observations(space))
    leaves = single_to_leaves(space, obs)
    assert all(leaf.shape[0] == 1 for leaf in leaves)
    batch = batch_to_leaves(space, [obs, obs])
    assert [b.shape[0] for b in batch] == [2] * len(leaves)


@pytest.mark.parametrize(
    "space, obs, fragment",
    [
        (spaces.Box(-1, 1, (3,)), np.zeros(4), "shape (4,), not (3,)"),
        (spaces.Box(-1, 1, (3,)), np.array([0.0, np.nan, 0.0]), "NaN"),
        (spaces.Box(-1, 1, (3,)), np.array(["a", "b", "c"]), "not a number"),
        (spaces.Discrete(3), 3, "outside the space"),
        (spaces.Discrete(3), 1.5, "non-integer"),
        (spaces.Dict({"a": spaces.Discrete(2)}), {"b": 1}, "missing: 'a'; unexpected: 'b'"),
        (spaces.Dict({"a": spaces.Discrete(2)}), [1], "not a dict"),
        (spaces.Tuple([spaces.Discrete(2)] * 2), (1,), "has 1 items, not 2"),
    ],
)
def test_bad_observation_names_problem_and_space(space, obs, fragment):
    with pytest.raises(ObservationError) as info:
        single_to_leaves(space, obs)
    assert fragment in str(info.value)
    assert "expected an element of" in str(info.value)


def test_batch_of_mixed_shapes_is_rejected_with_index():
    space = spaces.Box(-1, 1, (2,))
    with pytest.raises(ObservationError, match="batch item 1"):
        batch_to_leaves(space, [np.zeros(2), np.zeros(3)])


def _manifest(**changes):
    base = {
        "protocol": PROTOCOL,
        "policy_id": "p",
        "framework": "torch",
        "api_stack": "new",
        "algorithm": "PPO",
        "training_iteration": 1,
        "observation_space": None,
        "action_space": None,
        "inputs": [],
        "outputs": [],
        "files": {},
        "status": "ok",
    }
    base.update(changes)
    return base


def test_manifest_of_newer_protocol_is_refused():
    with pytest.raises(ManifestError, match="newer than this exportable_trainers reads"):
        validate_manifest(_manifest(protocol=PROTOCOL + 1), "x")


def test_manifest_paths_cannot_leave_the_export_dir():
    bad = _manifest(files={"onnx": {"path": "../../etc/passwd", "sha256": "0" * 64}})
    with pytest.raises(ManifestError, match="leaves the export directory"):
        validate_manifest(bad, "x")


def test_manifest_missing_keys_are_named():
    data = _manifest()
    del data["files"]
    with pytest.raises(ManifestError, match="lacks required key.*files"):
        validate_manifest(data, "x")


def test_hashes_detect_a_changed_byte(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"\x00" * 100)
    write_manifest(tmp_path, _manifest(files={"onnx": file_record(tmp_path, "model.onnx")}))
    manifest = read_manifest(tmp_path)
    check_files(tmp_path, manifest)
    data = bytearray((tmp_path / "model.onnx").read_bytes())
    data[50] ^= 1
    (tmp_path / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="model.onnx.*does not match its manifest"):
        check_files(tmp_path, manifest)


def test_reading_a_non_export_names_the_path(tmp_path):
    with pytest.raises(ExportNotFoundError, match="holds no manifest.json"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_staging_publishes_only_complete_directories(tmp_path):
    final = tmp_path / "export" / "p"
    with staged_directory(final) as staging:
        (staging / "a").write_text("1")
        assert not final.exists()
        assert staging.name.startswith(STAGING_MARK)
    assert (final / "a").read_text() == "1"
    with pytest.raises(RuntimeError), staged_directory(final) as staging:
        (staging / "a").write_text("2")
        raise RuntimeError("exporter crashed")
    assert (final / "a").read_text() == "1"
    assert [p.name for p in final.parent.iterdir()] == ["p"]
    with staged_directory(final) as staging:
        (staging / "b").write_text("3")
    assert sorted(p.name for p in final.iterdir()) == ["b"]


def test_declared_python_versions_are_the_tested_ones():
    """setup.cfg claims only Pythons this suite runs on (CI: 3.11); the running one is among them."""
    import configparser
    import sys

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).parents[1] / "setup.cfg")
    lowest = cfg["options"]["python_requires"].strip().removeprefix(">=")
    classifiers = [
        line.rsplit("::", 1)[1].strip()
        for line in cfg["metadata"]["classifiers"].splitlines()
        if line.strip().startswith("Programming Language :: Python :: 3.")
    ]
    assert lowest == min(classifiers, key=lambda v: tuple(map(int, v.split("."))))
    assert sys.version_info[:2] >= tuple(map(int, lowest.split(".")))


@pytest.mark.parametrize(
    "spec, scores",
    [({"distribution": "categorical"}, "action_dist_inputs"), ({"distribution": None}, "q_values")],
    ids=["logits", "q_values"],
)
def test_verification_excuses_exact_ties_only(spec, scores):
    """An argmax over equal scores may pick either action; unequal scores may not differ."""
    from exportable_trainers.export.verification import compare_outputs

    tie = np.array([[0.5, 0.5, 0.1], [0.2, 0.9, 0.3]], np.float32)
    reference = {"action": np.array([0, 1]), scores: tie}
    other_choice = {"action": np.array([1, 1]), scores: tie}
    assert compare_outputs(reference, other_choice, 1e-5, 1e-5, spec)["passed"]
    wrong = {"action": np.array([0, 2]), scores: tie}
    result = compare_outputs(reference, wrong, 1e-5, 1e-5, spec)
    assert not result["passed"] and "differs in 1 of 2" in result["problems"][0]


@pytest.mark.parametrize(
    "spec, width",
    [
        ({"distribution": "categorical"}, 4),
        ({"distribution": "multi_categorical", "input_lens": [2, 3]}, 5),
        ({"distribution": "diag_gaussian"}, 6),
        ({"distribution": "squashed_gaussian"}, 4),
    ],
    ids=["categorical", "multi_categorical", "diag_gaussian", "squashed_gaussian"],
)
def test_compare_kl_equals_torch_distributions(spec, width):
    """compare's numpy KL(P || Q) against torch.distributions' (an independent implementation)."""
    import torch
    from torch.distributions import Categorical, Independent, Normal, kl_divergence

    from exportable_trainers.load.comparison import kl_divergence as ours

    rng = np.random.default_rng(3)
    p, q = rng.normal(0, 1, (32, width)), rng.normal(0, 1, (32, width))
    got = ours(spec, p, q)
    tp, tq = torch.as_tensor(p), torch.as_tensor(q)
    if spec["distribution"] == "categorical":
        want = kl_divergence(Categorical(logits=tp), Categorical(logits=tq))
    elif spec["distribution"] == "multi_categorical":
        want = sum(
            kl_divergence(Categorical(logits=a), Categorical(logits=b))
            for a, b in zip(tp.split(spec["input_lens"], -1), tq.split(spec["input_lens"], -1))
        )
    else:  # squashing by tanh is invertible: the KL is the Gaussians'
        (mp, sp), (mq, sq) = tp.chunk(2, -1), tq.chunk(2, -1)
        want = kl_divergence(
            Independent(Normal(mp, sp.exp()), 1), Independent(Normal(mq, sq.exp()), 1)
        )
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-9, atol=1e-12)
