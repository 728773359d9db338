"""Small, fast algorithm configs for the tests."""

from __future__ import annotations

from typing import Any


def ppo_config(env: str, stack: str = "new", framework: str = "torch", **training: Any):
    """PPO with tiny batches, no remote env runners, on the chosen API stack."""
    from ray.rllib.algorithms.ppo import PPOConfig

    config = PPOConfig().environment(env).framework(framework).env_runners(num_env_runners=0)
    if stack == "old":
        config = config.api_stack(
            enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False
        )
        config = config.training(train_batch_size=128, minibatch_size=64, num_epochs=1)
    else:
        config = config.training(train_batch_size_per_learner=128, minibatch_size=64, num_epochs=1)
    if training:
        config = config.training(**training)
    return config
