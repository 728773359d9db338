"""Deployment-grade ONNX: onnx / onnx_actor / onnx_int8 at an opset, self-describing, portable.

Each case trains one iteration and saves; every ONNX file is then checked with
onnx's full checker, run in a process without Ray (through load_policy, and as a
bare file copied out of its export), under onnx's ReferenceEvaluator and under
OpenVINO, and compared with RLlib's own explore=False outputs (tests/live.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from exportable_trainers.contract.formats import MIN_AGREEMENT
from exportable_trainers.contract.formats.onnx import METADATA_KEY
from exportable_trainers.contract.manifest import read_manifest
from exportable_trainers.contract.observations import batch_to_leaves, observation_leaves
from exportable_trainers.contract.spaces import sample_observations, space_from_dict
from tests.configs import ppo_config
from tests.live import assert_close, live_outputs

FORMATS = ["onnx", "onnx_actor", "onnx_int8"]
ATOL = 1e-5  # ONNX Runtime against RLlib, as for every other format
PORTABLE_ATOL = 1e-4  # other runtimes sum in another order (the bound)
DEFAULT_OPSET = {"torch": 18, "tf2": 17}
# id: (env, stack, framework, onnx_opset)
CASES = {
    "cartpole-new-torch-15": ("CartPole-v1", "new", "torch", 15),
    "cartpole-new-torch-default": ("CartPole-v1", "new", "torch", None),
    "pendulum-new-torch-15": ("Pendulum-v1", "new", "torch", 15),
    "cartpole-old-tf2-15": ("CartPole-v1", "old", "tf2", 15),
    "cartpole-old-tf2-default": ("CartPole-v1", "old", "tf2", None),
}
CONTINUOUS = "pendulum-new-torch-15"


@pytest.fixture(scope="module", params=list(CASES))
def trained(request, ray_session, tmp_path_factory):
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting

    case_id = request.param
    env, stack, framework, opset = CASES[case_id]
    if framework != "torch":
        pytest.importorskip("tensorflow")
    config = ppo_config(env, stack, framework).debugging(seed=0)
    cls = make_exporting(PPO, formats=FORMATS, onnx_opset=opset, on_error="raise")
    algo = cls(config=config)
    algo.train()
    checkpoint = Path(algo.save(str(tmp_path_factory.mktemp(case_id))).checkpoint.path)
    export_dir = checkpoint / "export" / "default_policy"
    yield {
        "algo": algo,
        "dir": export_dir,
        "manifest": read_manifest(export_dir),
        "opset": opset or DEFAULT_OPSET[framework],
        "case": case_id,
    }
    algo.stop()


def _observations(manifest: dict, n: int, seed: int):
    """``n`` raw observations of the export's space, and their leaves by input name."""
    space = space_from_dict(manifest["observation_space"])
    obs = sample_observations(space, n, seed)
    leaves = batch_to_leaves(space, obs)
    return obs, {name: leaf for (name, _), leaf in zip(observation_leaves(space), leaves)}


def _agreement(live: dict, got: dict, manifest: dict) -> float:
    """The share of observations whose action is the policy's, by the export's own rule."""
    from exportable_trainers.export.verification import action_agreement

    atol = manifest["verification"]["onnx_int8"]["int8_atol"]
    return action_agreement(live, got, manifest["action"], atol)["action_agreement"]


def test_every_file_is_checked_at_its_opset_and_carries_its_contract(trained):
    import onnx

    manifest = trained["manifest"]
    assert set(manifest["files"]) == set(FORMATS), manifest["errors"]
    for fmt in FORMATS:
        record = manifest["files"][fmt]
        model = onnx.load(str(trained["dir"] / record["path"]))
        onnx.checker.check_model(model, full_check=True)
        opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
        assert opsets["ai.onnx"] == trained["opset"] == record["opset"], (fmt, opsets)
        contract = json.loads({p.key: p.value for p in model.metadata_props}[METADATA_KEY])
        assert contract["policy_id"] == "default_policy"
        assert contract["training_iteration"] == manifest["training_iteration"]
        assert contract["action"] == manifest["action"]
        assert contract["observation_space"] == manifest["observation_space"]
        assert list(contract["files"]) == [fmt]
        names = [o.name for o in model.graph.output]
        assert [o["name"] for o in contract["outputs"]] == names
    actor = onnx.load(str(trained["dir"] / manifest["files"]["onnx_actor"]["path"]))
    assert [o.name for o in actor.graph.output] == ["action"]  # no value, no logits
    full = onnx.load(str(trained["dir"] / manifest["files"]["onnx"]["path"]))
    assert len(actor.graph.node) < len(full.graph.node)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_acts_like_rllib_in_a_process_without_ray(trained, rayfree, fmt):
    manifest, algo = trained["manifest"], trained["algo"]
    if fmt == "onnx_int8":
        # The observations the export judged it on (seeded by the iteration).
        obs, feeds = _observations(manifest, 512, manifest["training_iteration"] + 1)
    else:
        obs, feeds = _observations(manifest, 64, 7)
    live = live_outputs(algo, "default_policy", obs)
    got = rayfree.run(trained["dir"], fmt, feeds, mode="load_policy")
    if fmt == "onnx":
        assert_close(live, got, ATOL)
    elif fmt == "onnx_actor":
        assert sorted(got) == ["action"]
        assert_close(live, got, ATOL, names=["action"])
    else:
        share = _agreement(live, got, manifest)
        assert share >= MIN_AGREEMENT
        assert share == pytest.approx(manifest["files"][fmt]["action_agreement"], abs=1e-6)


@pytest.mark.parametrize("runtime", ["reference", "openvino"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_runs_in_other_onnx_runtimes(trained, rayfree, fmt, runtime):
    if runtime == "openvino":
        pytest.importorskip("openvino")
    manifest, algo = trained["manifest"], trained["algo"]
    n, seed = (512, manifest["training_iteration"] + 1) if fmt == "onnx_int8" else (64, 7)
    obs, feeds = _observations(manifest, n, seed)
    live = live_outputs(algo, "default_policy", obs)
    got = rayfree.run(trained["dir"], fmt, feeds, mode=runtime)
    if fmt == "onnx_int8":
        assert _agreement(live, got, manifest) >= MIN_AGREEMENT
    else:
        assert_close(live, got, PORTABLE_ATOL, names=["action"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bare_file_copied_alone_acts_like_its_export(trained, rayfree, tmp_path, fmt):
    manifest = trained["manifest"]
    alone = tmp_path / "somewhere" / "policy.onnx"
    alone.parent.mkdir()
    shutil.copy(trained["dir"] / manifest["files"][fmt]["path"], alone)
    _, feeds = _observations(manifest, 64, 11)
    from_file = rayfree.run(alone, fmt, feeds, mode="file")
    from_export = rayfree.run(trained["dir"], fmt, feeds, mode="load_policy")
    assert sorted(from_file) == sorted(from_export)
    for name in from_export:
        np.testing.assert_array_equal(from_file[name], from_export[name], err_msg=name)


# Continuous actions: with int8_atol=0 no int8 action can agree.
@pytest.mark.parametrize("trained", [CONTINUOUS], indirect=True)
def test_int8_below_the_agreement_rule_is_refused_with_its_figure(trained, tmp_path):
    algo = trained["algo"]
    strict = algo.export_options.replace(int8_atol=0.0, on_error="warn")
    manifests = algo.export_policies(tmp_path, strict)
    manifest = manifests["default_policy"]
    assert "onnx_int8" not in manifest["files"]
    assert not (tmp_path / "export" / "default_policy" / "actor.int8.onnx").exists()
    share = manifest["verification"]["onnx_int8"]["action_agreement"]
    assert share < MIN_AGREEMENT  # only actions clipped at the bounds can still agree
    assert (
        f"agree with the policy's in {share:.1%} of 512 observations, below the 99%"
        in manifest["errors"]["onnx_int8"]
    )
    assert {"onnx", "onnx_actor"} <= set(manifest["files"])


@pytest.mark.parametrize("bad", [3, 13, 19, "15", 15.0, True])
def test_an_unsupported_opset_is_refused_when_the_class_is_made(bad):
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting

    with pytest.raises(ValueError, match=rf"onnx_opset={bad!r} is not supported.*14 to 18"):
        make_exporting(PPO, formats=["onnx"], onnx_opset=bad, name=f"BadOpset{abs(hash(bad))}")


def test_an_unsupported_opset_in_the_config_is_refused_when_the_algorithm_is_built(ray_session):
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting

    config = ppo_config("CartPole-v1")
    config.exporting = {"onnx_opset": 3}
    with pytest.raises(ValueError, match=r"onnx_opset=3 is not supported"):
        make_exporting(PPO)(config=config)


def test_int8_without_verification_is_refused():
    from exportable_trainers import ExportOptions

    with pytest.raises(ValueError, match=r"onnx_int8 .*verify=False cannot judge"):
        ExportOptions(formats=["onnx_int8"], verify=False)


DOC_SNIPPET_GUARD = """
import sys
loaded = sorted(m for m in ("ray", "torch", "tensorflow", "exportable_trainers") if m in sys.modules)
assert not loaded, loaded
"""


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("trained", ["cartpole-new-torch-15", "cartpole-old-tf2-15"], indirect=True)
def test_the_deploying_snippet_runs_a_bare_file_as_written(trained, tmp_path, fmt):
    import re
    import subprocess
    import sys

    from exportable_trainers import load_policy

    page = (Path(__file__).resolve().parent.parent / "docs" / "formats.md").read_text()
    section = page.split("## Deploying", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    manifest = trained["manifest"]
    shutil.copy(trained["dir"] / manifest["files"][fmt]["path"], tmp_path / "policy.onnx")
    out = subprocess.run(
        [sys.executable, "-c", snippet + DOC_SNIPPET_GUARD],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    zeros = np.zeros((1, *manifest["observation_space"]["shape"]), np.float32)
    want = load_policy(trained["dir"], format=fmt).compute_actions(zeros)
    assert out.stdout.strip() == f"action {want[0].tolist()} in Discrete", out.stdout
