"""Users' own networks: RLlib's example RLModules and ModelV2s, exported and matched or refused by name.

Each case of tests/example_modules.py trains one iteration with
``make_exporting(..., on_error="raise")`` and saves a checkpoint. "matched": RLlib's
env runner then acts in whole episodes with ``sample(explore=False)`` (old stack:
``compute_single_action(explore=False)``), recorded at the env, and
``load_policy(checkpoint).compute_action`` in a process without Ray takes the same
actions step by step (exact for discrete parts unless the artifact's own logits
tie within 1e-5, atol 1e-5 for continuous ones),
recurrent state carried. "refused": the build raises UnsupportedPolicyError
naming the class. With EXPORTABLE_TRAINERS_MATRIX_DIR set, each outcome is
recorded; `make matrix` renders them into docs/compatibility.md.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import uuid
from pathlib import Path

import pytest

from exportable_trainers.contract.manifest import EXPORT_DIRNAME, read_manifest
from tests.example_modules import NEW, OLD, Case, make_env, new_stack_cases, old_stack_cases
from tests.replay import (
    assert_same_actions,
    per_agent,
    recorded_env,
    replay_feeds,
    sample_new_stack,
    sample_old_stack,
    sample_old_stack_multi,
)

pytestmark = pytest.mark.slow
CASES = new_stack_cases()
OLD_CASES = old_stack_cases()
RUNNABLE = ("onnx", "torchscript", "savedmodel", "h5", "keras")


def _record(case: Case, outcome: str, detail: str) -> None:
    out = os.environ.get("EXPORTABLE_TRAINERS_MATRIX_DIR")
    if not out:
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out) / f"custom-{os.getpid()}.jsonl", "a", encoding="utf-8") as f:
        for cls in case.classes:
            row = {
                "table": "custom_modules",
                "case": case.id,
                "stack": case.stack,
                "framework": case.framework,
                "class": cls,
                "outcome": outcome,
                "detail": detail,
            }
            f.write(json.dumps(row) + "\n")


def _build(case: Case):
    from ray.tune.registry import register_env

    from exportable_trainers import make_exporting

    env, env_config = case.env
    if case.stack == "new":
        name = recorded_env(env, env_config)
    else:
        name = f"example_env_{case.id}"
        register_env(name, lambda config, _env=env: make_env(_env, config))
    algo_cls, config = case.build(name)
    config = config.environment(name, env_config=env_config)
    options = {"on_error": "raise"}
    if case.policies is not None:
        options["policies"] = case.policies
    if case.formats is not None:
        options["formats"] = case.formats
    return make_exporting(algo_cls, **options), config, name


def _param(case: Case):
    marks = []
    if case.framework == "tf":
        marks.append(pytest.mark.tf1)
    if case.framework != "torch":
        marks.append(pytest.mark.requires_tf)
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES + OLD_CASES if c.outcome != "not tried"])
def test_example_module(case, ray_session, rayfree, tmp_path):
    from exportable_trainers import UnsupportedPolicyError

    cls, config, env_name = _build(case)
    if case.outcome == "refused":
        with pytest.raises(UnsupportedPolicyError, match=case.refusal) as caught:
            cls(config=config)
        reason = str(caught.value).split(": ", 1)[-1]
        _record(case, "refused", reason)
        return
    algo = cls(config=config)
    try:
        algo.train()
        checkpoint = Path(algo.save(str(tmp_path / uuid.uuid4().hex)).checkpoint.path)
        exports = sorted(p for p in (checkpoint / EXPORT_DIRNAME).iterdir() if p.is_dir())
        trained = sorted(algo.config.policies_to_train or algo.config.policies)
        if case.stack == "old":
            trained = sorted(algo.env_runner.get_policies_to_train())
        assert [p.name for p in exports] == trained, "one export per trained policy"
        mapping = lambda agent: algo.config.policy_mapping_fn(agent, None)  # noqa: E731
        if case.stack == "new":
            episodes = sample_new_stack(algo, env_name, episodes=2)
        elif algo.config.is_multi_agent:
            episodes = sample_old_stack_multi(algo, make_env(*case.env), mapping)
        else:
            episodes = sample_old_stack(algo, make_env(*case.env))
        if algo.config.is_multi_agent:
            by_policy = per_agent(episodes, mapping)
        else:
            by_policy = {exports[0].name: episodes}
        steps = 0
        for export_dir in exports:
            manifest = read_manifest(export_dir)
            assert manifest["status"] == "ok", manifest["errors"]
            assert all(v["passed"] for v in manifest["verification"].values())
            feeds, expected = replay_feeds(manifest, by_policy[export_dir.name])
            for fmt in [f for f in manifest["files"] if f in RUNNABLE]:
                got = rayfree.run(export_dir, fmt, dict(feeds), mode="replay")
                assert_same_actions(expected, got, atol=1e-5)
            steps += len(feeds["episode_start"])
        _record(case, "matched", f"{case.reason}; {steps} steps of RLlib's own episodes replayed")
    finally:
        algo.stop()


def _defined_classes(package: str, bases: tuple[type, ...]) -> tuple[set[str], set[str]]:
    """(``module.Class`` of every subclass of ``bases`` defined in the package, modules
    that cannot be imported here)."""
    found, failed = set(), set()
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        try:
            module = importlib.import_module(f"{package}.{info.name}")
        except Exception:  # e.g. mobilenet_rlm imports torchvision (and trains) at import
            failed.add(info.name)
            continue
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and issubclass(obj, bases)
            ):
                found.add(f"{info.name}.{name}")
    return found, failed


def test_every_example_rl_module_is_a_case():
    from ray.rllib.core.rl_module.rl_module import RLModule

    defined, unimportable = _defined_classes(NEW, (RLModule,))
    covered = {cls for case in CASES for cls in case.classes}
    assert defined - covered == set(), "example RLModules without a case"
    not_tried = {
        c.split(".")[0] for case in CASES if case.outcome == "not tried" for c in case.classes
    }
    assert unimportable <= not_tried, (
        "example files that cannot be imported need a 'not tried' case"
    )
    for case in CASES:
        if case.outcome == "not tried":
            _record(case, "not tried", case.reason)


def test_every_old_stack_example_model_is_a_case():
    from ray.rllib.models.modelv2 import ModelV2
    from ray.rllib.models.tf.tf_action_dist import ActionDistribution
    from ray.rllib.models.torch.torch_action_dist import TorchDistributionWrapper

    defined, unimportable = _defined_classes(
        OLD, (ModelV2, ActionDistribution, TorchDistributionWrapper)
    )
    covered = {cls for case in OLD_CASES for cls in case.classes}
    assert defined - covered == set(), "old-stack example models without a case"
    not_tried = {
        c.split(".")[0] for case in OLD_CASES if case.outcome == "not tried" for c in case.classes
    }
    assert unimportable <= not_tried, (
        "example files that cannot be imported need a 'not tried' case"
    )
    for case in OLD_CASES:
        if case.outcome == "not tried":
            _record(case, "not tried", case.reason)


def test_a_module_that_raises_inside_forward_inference_is_named(ray_session):
    import torch
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.core.rl_module.torch import TorchRLModule

    from exportable_trainers import UnsupportedPolicyError, make_exporting

    class ExplodingRLModule(TorchRLModule):
        def setup(self):
            self._net = torch.nn.Linear(self.observation_space.shape[0], self.action_space.n)

        def _forward_train(self, batch, **kwargs):
            return {Columns.ACTION_DIST_INPUTS: self._net(batch[Columns.OBS])}

        def _forward_inference(self, batch, **kwargs):
            raise TypeError("unsupported operand type(s) for +: 'Tensor' and 'dict'")

    from ray.rllib.algorithms.ppo import PPO

    from tests.configs import ppo_config

    config = ppo_config("CartPole-v1").rl_module(
        rl_module_spec=RLModuleSpec(module_class=ExplodingRLModule)
    )
    with pytest.raises(UnsupportedPolicyError) as caught:
        make_exporting(PPO, on_error="raise")(config=config)
    message = str(caught.value)
    assert "ExplodingRLModule" in message and "forward_inference" in message, message
    assert "unsupported operand" in message, message


def _learnable_or_heuristic(agent, *args, **kwargs) -> str:
    return "learnable" if agent == 0 else "heuristic"


def test_a_deterministic_torch_heuristic_exports_when_asked_for(ray_session, rayfree, tmp_path):
    """An untrained opponent is skipped by default and exported on request, if it is torch."""
    from ray.rllib.algorithms.ppo import PPO
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.envs.classes.multi_agent import MultiAgentCartPole

    from exportable_trainers import make_exporting
    from tests.configs import ppo_config
    from tests.heuristics import PushTowardsThePole

    name = recorded_env(MultiAgentCartPole, {"num_agents": 2})
    config = (
        ppo_config("CartPole-v1")
        .environment(name, env_config={"num_agents": 2})
        .multi_agent(
            policies={"learnable", "heuristic"},
            policy_mapping_fn=_learnable_or_heuristic,
            policies_to_train=["learnable"],
        )
        .rl_module(
            rl_module_spec=MultiRLModuleSpec(
                rl_module_specs={
                    "learnable": RLModuleSpec(),
                    "heuristic": RLModuleSpec(module_class=PushTowardsThePole),
                }
            )
        )
    )
    default = make_exporting(PPO, on_error="raise")(config=config)
    try:
        default.train()
        checkpoint = Path(default.save(str(tmp_path / "default")).checkpoint.path)
        assert sorted(p.name for p in (checkpoint / EXPORT_DIRNAME).iterdir()) == ["learnable"]
    finally:
        default.stop()
    asked = make_exporting(PPO, on_error="raise", policies=("learnable", "heuristic"))(
        config=config
    )
    try:
        asked.train()
        checkpoint = Path(asked.save(str(tmp_path / "asked")).checkpoint.path)
        export_dir = checkpoint / EXPORT_DIRNAME / "heuristic"
        manifest = read_manifest(export_dir)
        assert manifest["action"]["source"] == "module", manifest["action"]
        episodes = per_agent(
            sample_new_stack(asked, name), lambda agent: asked.config.policy_mapping_fn(agent, None)
        )
        feeds, expected = replay_feeds(manifest, episodes["heuristic"])
        for fmt in ("onnx", "torchscript"):
            assert_same_actions(expected, rayfree.run(export_dir, fmt, dict(feeds), mode="replay"))
    finally:
        asked.stop()
