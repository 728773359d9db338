"""RLlib's own outputs for a batch of raw observations, through RLlib's public API only.

Deliberately independent of exportable_trainers: the tests compare exports with
these numbers, not with the package's own reference code.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def learner_module(algo: Any, policy_id: str, checkpoint: Any = None) -> Any:
    """The learner's RLModule (a CPU copy when the learner runs in another process).

    With ``checkpoint``: the module as that RLlib checkpoint holds it
    (``RLModule.from_checkpoint``); asynchronous learners (APPO, IMPALA) keep
    training after a save, so only the checkpoint pins the weights an export holds.
    """
    if checkpoint is not None:
        from pathlib import Path

        from ray.rllib.core.rl_module.rl_module import RLModule

        path = Path(checkpoint) / "learner_group" / "learner" / "rl_module" / policy_id
        return RLModule.from_checkpoint(path)
    group = algo.learner_group
    if group.is_local:
        return group._learner.module[policy_id]

    def fetch(learner, _pid=policy_id):
        import copy

        return copy.deepcopy(learner.module[_pid]).to("cpu")

    return next(iter(group.foreach_learner(fetch))).get()


def new_stack_outputs(algo: Any, policy_id: str, observations: list) -> dict[str, np.ndarray]:
    """One step of RLlib's own env runner machinery on one-step episodes.

    Deep copies of the env runner's env-to-module and module-to-env connector
    pipelines (filter statistics frozen) run around the env runner's module,
    exactly as SingleAgentEnvRunner does with explore=False; values come from
    the learner's module on the same preprocessed batch.
    """
    import copy

    import torch
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    runner = algo.env_runner
    env_to_module = copy.deepcopy(runner._env_to_module)
    module_to_env = copy.deepcopy(runner._module_to_env)
    for connector in env_to_module.connectors:
        if hasattr(connector, "_update_stats"):
            connector._update_stats = False
    episodes = []
    for obs in observations:
        episode = SingleAgentEpisode(
            observation_space=runner.env.single_observation_space,
            action_space=runner.env.single_action_space,
        )
        episode.add_env_reset(observation=obs, infos={})
        episodes.append(episode)
    shared: dict = {}  # the two pipelines talk through it, as in the env runner
    with torch.no_grad():
        to_module = env_to_module(
            rl_module=runner.module, episodes=episodes, explore=False, shared_data=shared
        )
        to_env = runner.module.forward_inference(to_module)
        dist_inputs = to_env["action_dist_inputs"].numpy().copy()
        values = learner_module(algo, policy_id).compute_values(to_module)
        to_env = module_to_env(
            rl_module=runner.module,
            batch=to_env,
            episodes=episodes,
            explore=False,
            shared_data=shared,
        )
    actions = to_env.get("actions_for_env", to_env["actions"])
    return {
        "action": np.stack([np.asarray(a) for a in actions]),
        "action_dist_inputs": dist_inputs,
        "vf_preds": values.numpy(),
    }


def module_outputs(
    algo: Any, policy_id: str, observations: list, checkpoint: Any = None
) -> dict[str, np.ndarray]:
    """RLlib's RLModule API on the learner's module: forward_inference, the inference
    distribution's deterministic sample, unsquash / clip; values and Q-values where the
    module has them.

    The learner holds the current weights; env runners of asynchronous algorithms
    (APPO, IMPALA) may still act with an older copy. Used for multi-agent, offline
    and asynchronous algorithms; ``checkpoint`` as in :func:`learner_module`.
    """
    import torch
    from ray.rllib.core.rl_module.apis import QNetAPI, ValueFunctionAPI
    from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

    learner = module = learner_module(algo, policy_id, checkpoint)
    obs = torch.as_tensor(np.stack([np.asarray(o) for o in observations]))
    result = {}
    with torch.no_grad():
        out = module.forward_inference({"obs": obs})
        if "action_dist_inputs" in out:
            dist = module.get_inference_action_dist_cls().from_logits(out["action_dist_inputs"])
            actions = dist.to_deterministic().sample().numpy()
            result["action_dist_inputs"] = out["action_dist_inputs"].numpy()
        else:
            actions = out["actions"].numpy()
        if isinstance(learner, ValueFunctionAPI):
            result["vf_preds"] = learner.compute_values({"obs": obs}).numpy()
        if isinstance(learner, QNetAPI) and "action_dist_inputs" not in out:
            result["q_values"] = learner.compute_q_values({"obs": obs})["qf_preds"].numpy()
    space = learner.action_space
    if algo.config.normalize_actions:
        actions = unsquash_action(actions, space)
    elif algo.config.clip_actions:
        actions = clip_action(actions, space)
    result["action"] = actions
    return result


def _compute_single_action_skips_the_filter() -> bool:
    """Ray < 2.60: Algorithm.compute_single_action skips the MeanStdFilter sampling applies.

    Its old-stack path runs the policy's ObsPreprocessorConnector only; Ray 2.60
    also runs the MeanStdObservationFilterAgentConnector, as the sampler always did.
    """
    import ray

    return tuple(int(x) for x in ray.__version__.split(".")[:2]) < (2, 60)


def _filtered_single_action(algo: Any, policy_id: str, obs: Any) -> tuple[Any, dict]:
    """Ray 2.60's Algorithm.compute_single_action(explore=False) on older Rays."""
    from ray.rllib.connectors.agent.mean_std_filter import MeanStdObservationFilterAgentConnector
    from ray.rllib.connectors.agent.obs_preproc import ObsPreprocessorConnector
    from ray.rllib.connectors.connector import AgentConnectorDataType
    from ray.rllib.utils.spaces import space_utils

    policy = algo.get_policy(policy_id)
    observation = obs
    for kind in (ObsPreprocessorConnector, MeanStdObservationFilterAgentConnector):
        found = policy.agent_connectors[kind]
        if found and (not hasattr(found[0], "is_identity") or not found[0].is_identity()):
            found[0].in_eval()
            found[0].reset(env_id="0")
            observation = found[0]([AgentConnectorDataType("0", "0", {"obs": observation})])[0]
            observation = observation.data["obs"]
    action, _, extra = policy.compute_single_action(obs=observation, explore=False)
    if algo.config.normalize_actions:
        action = space_utils.unsquash_action(action, policy.action_space_struct)
    elif algo.config.clip_actions:
        action = space_utils.clip_action(action, policy.action_space_struct)
    return action, extra


def old_stack_outputs(algo: Any, policy_id: str, observations: list) -> dict[str, np.ndarray]:
    """Algorithm.compute_single_action(explore=False) per observation, with env-runner post-processing."""
    actions, extras = [], []
    for obs in observations:
        if _compute_single_action_skips_the_filter():
            action, extra = _filtered_single_action(algo, policy_id, obs)
        else:
            action, _, extra = algo.compute_single_action(
                obs,
                policy_id=policy_id,
                explore=False,
                full_fetch=True,
                unsquash_action=algo.config.normalize_actions,
                clip_action=algo.config.clip_actions,
            )
        actions.append(action)
        extras.append(extra)
    result = {"action": np.stack([np.asarray(a) for a in actions])}
    for key in ("action_dist_inputs", "vf_preds"):
        if key in extras[0]:
            result[key] = np.asarray([e[key] for e in extras])
    return result


def live_outputs(algo: Any, policy_id: str, observations: list) -> dict[str, np.ndarray]:
    """RLlib's explore=False outputs on either API stack."""
    if not algo.config.enable_rl_module_and_learner:
        return old_stack_outputs(algo, policy_id, observations)
    runner = getattr(algo, "env_runner", None)
    if runner is not None and not algo.config.is_multi_agent and hasattr(runner, "_env_to_module"):
        return new_stack_outputs(algo, policy_id, observations)
    return module_outputs(algo, policy_id, observations)


def assert_close(live: dict, exported: dict, atol: float, names: list[str] | None = None) -> None:
    """Every live output equals the exported one (discrete actions exactly)."""
    for name in names or list(live):
        want, got = np.asarray(live[name]), np.asarray(exported[name])
        assert got.shape == want.shape, f"{name}: shape {got.shape} != live {want.shape}"
        if want.dtype.kind in "iu":
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=name)
