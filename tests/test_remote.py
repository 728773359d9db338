"""Remote learners and env runners: exports hold the learner's weights and the runners' filter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from exportable_trainers import load_policy, make_exporting
from exportable_trainers.contract.manifest import EXPORT_DIRNAME, read_manifest
from tests.configs import Connectors, ppo_config

pytestmark = pytest.mark.slow


def _remote_filter_mean(algo) -> np.ndarray:
    def mean(runner):
        (connector,) = [
            c for c in runner._env_to_module.connectors if type(c).__name__ == "MeanStdFilter"
        ]
        return connector._filters[None].running_stats.mean

    (value,) = algo.env_runner_group.foreach_env_runner(mean, local_env_runner=False)
    return np.asarray(value)


@pytest.mark.parametrize("remote", [True, False], ids=["1-learner-1-runner", "local-only"])
def test_new_stack_export_holds_the_learners_weights(remote, ray_session, tmp_path):
    import torch
    from ray.rllib.algorithms.ppo import PPO

    n = 1 if remote else 0
    config = (
        ppo_config("Pendulum-v1")
        .learners(num_learners=n)
        .env_runners(num_env_runners=n, env_to_module_connector=Connectors(False, True))
    )
    algo = make_exporting(PPO, on_error="raise")(config=config)
    try:
        assert algo.learner_group.is_local != remote
        algo.train()
        algo.train()
        checkpoint = Path(algo.save(str(tmp_path)).checkpoint.path)
        export_dir = checkpoint / EXPORT_DIRNAME / "default_policy"

        # Weights: bit for bit the learner's (fetched from the remote learner).
        learner_weights = algo.learner_group.get_weights()["default_policy"]
        exported = load_file(str(export_dir / "weights.safetensors"))
        assert set(exported) == set(learner_weights)
        for name, value in learner_weights.items():
            np.testing.assert_array_equal(exported[name], value, err_msg=name)

        # Outputs: the learner's own forward pass on the network input, run on the learner.
        manifest = read_manifest(export_dir)
        mean_std = next(s for s in manifest["preprocessing"] if s["op"] == "mean_std")
        rng = np.random.default_rng(0)
        raw = rng.uniform(-1, 1, (32, 3)).astype(np.float32)
        normalized = (raw - np.float32(mean_std["mean"])) / np.float32(mean_std["denom"])
        normalized = np.clip(normalized, -mean_std["clip"], mean_std["clip"]).astype(np.float32)

        def learner_forward(learner, x=normalized):
            module = learner.module["default_policy"]
            with torch.no_grad():
                batch = {"obs": torch.as_tensor(x).to(next(module.parameters()).device)}
                return module.forward_inference(batch)["action_dist_inputs"].cpu().numpy()

        results = algo.learner_group.foreach_learner(learner_forward)
        want = next(iter(results)).get()
        got = load_policy(checkpoint).forward(raw)["action_dist_inputs"]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)

        # Observation filter: the statistics the (remote) env runners normalize with.
        if remote:
            np.testing.assert_allclose(
                mean_std["mean"], _remote_filter_mean(algo), rtol=0, atol=1e-12
            )
    finally:
        algo.stop()


def test_old_stack_with_a_remote_env_runner_exports_the_synced_filter(ray_session, tmp_path):
    from ray.rllib.algorithms.ppo import PPO

    config = ppo_config("Pendulum-v1", "old").env_runners(
        num_env_runners=1, observation_filter="MeanStdFilter"
    )
    algo = make_exporting(PPO, on_error="raise")(config=config)
    try:
        algo.train()
        algo.train()
        checkpoint = Path(algo.save(str(tmp_path)).checkpoint.path)
        manifest = read_manifest(checkpoint / EXPORT_DIRNAME / "default_policy")
        mean = next(s for s in manifest["preprocessing"] if s["op"] == "mean_std")["mean"]

        def remote_mean(worker):
            connectors = worker.get_policy().agent_connectors.connectors
            (connector,) = [c for c in connectors if "MeanStd" in type(c).__name__]
            return connector.filter.running_stats.mean

        (remote,) = algo.env_runner_group.foreach_env_runner(remote_mean, local_env_runner=False)
        np.testing.assert_allclose(mean, remote, rtol=0, atol=1e-12)
        observations = [np.array([0.5, -0.5, 1.0], np.float32)] * 4
        action = algo.compute_single_action(observations[0], explore=False)
        np.testing.assert_allclose(
            load_policy(checkpoint).compute_action(observations[0]), action, atol=1e-5
        )
    finally:
        algo.stop()
