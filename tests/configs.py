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


class Connectors:
    """env_to_module_connector for the new stack: flatten and / or MeanStdFilter."""

    def __init__(self, flatten: bool, mean_std: bool) -> None:
        self.flatten = flatten
        self.mean_std = mean_std

    def __call__(self, env=None, spaces=None, device=None) -> list:
        from ray.rllib.connectors.env_to_module import FlattenObservations, MeanStdFilter

        out = []
        if self.flatten:
            out.append(FlattenObservations())
        if self.mean_std:
            out.append(MeanStdFilter())
        return out


def spaces_config(
    obs: str,
    action: str,
    stack: str,
    mean_std: bool = False,
    normalize_actions: bool = True,
    clip_actions: bool = False,
    framework: str = "torch",
):
    """PPO on tests.envs.SpacesEnv with the given spaces and preprocessing."""
    from tests.envs import SpacesEnv

    config = ppo_config("CartPole-v1", stack, framework).environment(
        SpacesEnv,
        env_config={"obs": obs, "action": action},
        normalize_actions=normalize_actions,
        clip_actions=clip_actions,
    )
    if stack == "new":
        flatten = obs != "box"
        if flatten or mean_std:
            config = config.env_runners(env_to_module_connector=Connectors(flatten, mean_std))
    elif mean_std:
        config = config.env_runners(observation_filter="MeanStdFilter")
    return config


def two_players(agent_id, *args, **kwargs) -> str:
    """Policy mapping of the user's two-player game: no default_policy."""
    return ("player_red", "player_blue")[int(agent_id) % 2]


def two_player_config(stack: str, framework: str = "torch"):
    """PPO on RLlib's MultiAgentCartPole with policies player_red and player_blue."""
    from ray.rllib.examples.envs.classes.multi_agent import MultiAgentCartPole

    return (
        ppo_config("CartPole-v1", stack, framework)
        .environment(MultiAgentCartPole, env_config={"num_agents": 2})
        .multi_agent(policies={"player_red", "player_blue"}, policy_mapping_fn=two_players)
    )
