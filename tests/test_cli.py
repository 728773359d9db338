"""The exportable-trainers command line, run as users run it (a subprocess)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.commands import cli
from tests.configs import ppo_config
from tests.tuning import fit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def experiment(ray_session, tmp_path_factory) -> Path:
    """A Tune experiment of ExportingPPO with two checkpoints."""
    from ray.rllib.algorithms.ppo import PPO

    from exportable_trainers import make_exporting

    storage = tmp_path_factory.mktemp("cli")
    fit(make_exporting(PPO), ppo_config("CartPole-v1"), storage, 2, name="exp")
    return storage / "exp"


def _checkpoints(experiment: Path) -> list[Path]:
    return sorted(experiment.glob("*/checkpoint_*"))


def test_ls_lists_checkpoints_by_iteration(experiment):
    out = cli("ls", experiment)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("default_policy") == 2
    for checkpoint in _checkpoints(experiment):  # whole names, though stdout is no terminal
        assert str(checkpoint.relative_to(experiment)) in out.stdout, out.stdout
    rows = json.loads(cli("ls", experiment, "--json").stdout)
    assert [r["training_iteration"] for r in rows] == [1, 2]
    assert all(r["policies"]["default_policy"]["verified"] for r in rows)
    assert all(r["episode_return_mean"] is not None for r in rows)


def test_inspect_shows_the_manifest(experiment):
    checkpoint = _checkpoints(experiment)[-1]
    out = cli("inspect", checkpoint)
    assert out.returncode == 0, out.stderr
    for text in (
        "default_policy",
        "onnx",
        "torchscript",
        "safetensors",
        "action_dist_inputs",
        "passed",
    ):
        assert text in out.stdout
    manifest = json.loads(cli("inspect", checkpoint, "--json").stdout)
    assert manifest["training_iteration"] == 2


def test_verify_passes_then_detects_a_changed_byte(experiment, tmp_path):
    out = cli("verify", experiment)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("outputs ok") >= 4  # 2 checkpoints x onnx, torchscript
    copy = tmp_path / "copy"
    shutil.copytree(experiment, copy)
    model = _checkpoints(copy)[0] / "export" / "default_policy" / "model.onnx"
    data = bytearray(model.read_bytes())
    data[100] ^= 1
    model.write_bytes(bytes(data))
    out = cli("verify", copy, "--no-outputs")
    assert out.returncode == 1
    assert "CORRUPT" in out.stdout and "model.onnx" in out.stdout
    assert out.stderr.strip().startswith("error:") and len(out.stderr.strip().splitlines()) == 1


def test_evaluate_prints_a_row_per_checkpoint_and_writes_a_plot(experiment, tmp_path):
    plot = tmp_path / "returns.png"
    out = cli(
        "evaluate",
        experiment,
        "--env",
        "CartPole-v1",
        "--episodes",
        "2",
        "--seed",
        "3",
        "--plot",
        plot,
    )
    assert out.returncode == 0, out.stderr
    assert len(re.findall(r"checkpoint_\d+", out.stdout)) == 2
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_reports_a_corrupt_checkpoint_as_a_row_and_evaluates_the_rest(
    experiment, tmp_path
):
    copy = tmp_path / "copy"
    shutil.copytree(experiment, copy)
    first, second = _checkpoints(copy)
    model = first / "export" / "default_policy" / "model.onnx"
    model.write_bytes(model.read_bytes()[:-10])
    plot = tmp_path / "returns.png"
    out = cli("evaluate", copy, "--env", "CartPole-v1", "--episodes", "1", "--plot", plot)
    assert out.returncode == 1, out.stdout + out.stderr
    rows = {line.split()[1]: line for line in out.stdout.splitlines() if "checkpoint_" in line}
    assert "NOT EVALUATED" in rows[first.name] and "model.onnx" in rows[first.name], out.stdout
    assert "NOT EVALUATED" not in rows[second.name] and "±" in rows[second.name], out.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stderr.strip() == "error: 1 of 2 checkpoint(s) could not be evaluated"


@pytest.fixture(scope="module")
def exported(request, ray_session, tmp_path_factory):
    """A plain RLlib PPO checkpoint of ``request.param``'s stack, then ``export`` on it."""
    from ray.rllib.algorithms.ppo import PPO

    algo = PPO(config=ppo_config("CartPole-v1", request.param))
    algo.train()
    plain = tmp_path_factory.mktemp(f"plain-{request.param}")
    checkpoint = Path(algo.save(str(plain)).checkpoint.path)
    algo.stop()
    assert not (checkpoint / "export").exists()
    return request.param, checkpoint, cli("export", checkpoint, "--formats", "onnx,model")


@pytest.mark.parametrize("exported", ["new", "old"], indirect=True)
def test_export_adds_exports_to_plain_rllib_checkpoints(exported):
    stack, checkpoint, out = exported
    assert out.returncode == 0, out.stdout + out.stderr
    manifest = json.loads((checkpoint / "export" / "default_policy" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"onnx", "torchscript"} and manifest["status"] == "ok"
    assert manifest["api_stack"] == stack and manifest["training_iteration"] == 1


# The skip/force/add logic reads manifests only: one stack shows it. It runs
# after the test above and changes the shared export, so it comes last.
@pytest.mark.parametrize("exported", ["new"], indirect=True)
def test_export_again_skips_forces_and_adds_missing_formats(exported):
    _, checkpoint, out = exported
    assert out.returncode == 0, out.stdout + out.stderr
    again = cli("export", checkpoint, "--formats", "onnx,model")
    assert again.returncode == 0 and "already exported" in again.stdout
    forced = cli("export", checkpoint, "--formats", "onnx", "--force")
    assert forced.returncode == 0, forced.stderr
    replaced = json.loads((checkpoint / "export" / "default_policy" / "manifest.json").read_text())
    assert set(replaced["files"]) == {"onnx"}
    assert [p.name for p in (checkpoint / "export").iterdir()] == ["default_policy"]

    # A format the export lacks is added; the ones it has stay.
    added = cli("export", checkpoint, "--formats", "onnx,safetensors")
    assert added.returncode == 0 and "already exported" not in added.stdout, added.stdout
    grown = json.loads((checkpoint / "export" / "default_policy" / "manifest.json").read_text())
    assert set(grown["files"]) == {"onnx", "safetensors"} and grown["status"] == "ok"


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["ls", "/does/not/exist"], 1, "does not exist"),
        (["inspect", "/does/not/exist"], 1, "does not exist"),
        (["evaluate", "/does/not/exist", "--env", "CartPole-v1"], 1, "does not exist"),
        (["evaluate", "{exp}", "--env", "CartPole-v1", "--episodes", "0"], 2, "--episodes"),
        (["evaluate", "{exp}", "--env", "CartPole-v1", "--plot", "out.txt"], 2, ".png"),
        (["evaluate", "{exp}", "--env", "Pendulum-v1"], 1, "observes"),
        (["evaluate", "{exp}", "--env", "NoSuchEnv-v9"], 1, "NoSuchEnv"),
        (["export", "{exp}"], 1, "not an RLlib checkpoint"),
        (["export", "{ckpt}", "--formats", "h6"], 1, "unknown export format 'h6'"),
        (["inspect", "{ckpt}", "--policy-id", "player_red"], 1, "player_red"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(experiment, args, code, fragment):
    ckpt = _checkpoints(experiment)[0]
    args = [a.format(exp=experiment, ckpt=ckpt) for a in args]
    out = cli(*args)
    assert out.returncode == code, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_export_readme_onnx_snippet_runs_as_written(experiment):
    export_dir = _checkpoints(experiment)[0] / "export" / "default_policy"
    readme = (export_dir / "README.md").read_text()
    section = readme.split("## ONNX", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    run = subprocess.run(
        [sys.executable, "-c", code + "\nprint(outputs[0])"],
        cwd=export_dir,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
