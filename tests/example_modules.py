"""RLlib's own example RLModules (new stack) and ModelV2s (old stack), each with a config.

The subjects are code nobody here wrote: the classes under
``ray/rllib/examples/rl_modules/classes/`` and ``ray/rllib/examples/_old_api_stack/models/``
of the installed RLlib. Every class defined there is named by exactly one
:class:`Case` (tests/test_custom_modules.py checks that), with what the export must
do: ``matched`` (exported; Ray-free replays of RLlib's own episodes take RLlib's
actions), ``refused`` (the build fails with an error naming the class and why), or
``not tried`` (it cannot be trained here; the reason says why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

NEW = "ray.rllib.examples.rl_modules.classes"
OLD = "ray.rllib.examples._old_api_stack.models"


@dataclass(frozen=True)
class Case:
    """One subject and what exporting it must give.

    Args:
        id: Test id.
        classes: ``module.Class`` names (relative to NEW / OLD) this case covers.
        stack: "new" or "old".
        outcome: "matched", "refused" or "not tried".
        env: Environment (gymnasium id or class) and its config, or None.
        build: ``build(env_name) -> (algorithm class, config)``; env_name is a
            registered (recording) version of ``env``.
        policies: The ``policies`` option (modules asked for explicitly).
        refusal: For "refused": a regex the error must match (it names the class).
        reason: For "not tried": why; for the others, what the case shows.
        framework: "torch" or "tf2".
        formats: The ``formats`` option, when not every default format can be written.
    """

    id: str
    classes: tuple[str, ...]
    stack: str
    outcome: str
    env: tuple[Any, dict] | None = None
    build: Callable[[str], tuple[type, Any]] | None = None
    policies: tuple[str, ...] | None = None
    refusal: str = ""
    reason: str = ""
    framework: str = "torch"
    formats: tuple[str, ...] | None = None


# ------------------------------------------------------------------ new stack


def _ppo(env_name: str, spec: Any = None, **training: Any) -> tuple[type, Any]:
    from ray.rllib.algorithms.ppo import PPO, PPOConfig

    config = (
        PPOConfig()
        .environment(env_name)
        .env_runners(num_env_runners=0)
        .training(train_batch_size_per_learner=128, minibatch_size=64, num_epochs=1, **training)
    )
    if spec is not None:
        config = config.rl_module(rl_module_spec=spec)
    return PPO, config


def _spec(module: str, cls: str, **model_config: Any) -> Any:
    import importlib

    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    module_class = getattr(importlib.import_module(f"{NEW}.{module}"), cls)
    return RLModuleSpec(module_class=module_class, model_config=model_config or None)


def _action_masking(env: str):
    return _ppo(
        env, _spec("action_masking_rlm", "ActionMaskingTorchRLModule", head_fcnet_hiddens=[32])
    )


def _autoregressive(env: str):
    return _ppo(env, _spec("autoregressive_actions_rlm", "AutoregressiveActionsRLM"))


def _temperature(env: str):
    return _ppo(
        env,
        _spec(
            "custom_action_distribution_rlm",
            "CustomActionDistributionRLModule",
            hidden_dim=32,
            action_dist_temperature=5.0,
        ),
    )


def _lstm(env: str):
    return _ppo(
        env,
        _spec(
            "lstm_containing_rlm",
            "LSTMContainingRLModule",
            lstm_cell_size=16,
            dense_layers=[16],
            max_seq_len=10,
        ),
    )


def _lstm_appo(env: str):
    from ray.rllib.algorithms.appo import APPO, APPOConfig

    config = (
        APPOConfig()
        .environment(env)
        .env_runners(num_env_runners=0, rollout_fragment_length=32)
        .training(train_batch_size_per_learner=64)
        .rl_module(
            rl_module_spec=_spec(
                "lstm_containing_rlm",
                "LSTMContainingRLModuleWithTargetNetwork",
                lstm_cell_size=16,
                dense_layers=[16],
                max_seq_len=10,
            )
        )
        .reporting(min_time_s_per_iteration=1)
    )
    return APPO, config


def _curiosity(env: str):
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.learners.classes.intrinsic_curiosity_learners import (
        ICM_MODULE_ID,
        PPOTorchLearnerWithCuriosity,
    )
    from ray.rllib.examples.rl_modules.classes.intrinsic_curiosity_model_rlm import (
        IntrinsicCuriosityModel,
    )

    algo, config = _ppo(
        env,
        MultiRLModuleSpec(
            rl_module_specs={
                DEFAULT_MODULE_ID: RLModuleSpec(),
                ICM_MODULE_ID: RLModuleSpec(
                    module_class=IntrinsicCuriosityModel,
                    learner_only=True,
                    model_config={"feature_dim": 16, "feature_net_hiddens": (16,)},
                ),
            }
        ),
        learner_class=PPOTorchLearnerWithCuriosity,
        learner_config_dict={"intrinsic_reward_coeff": 0.05, "forward_loss_weight": 0.2},
    )
    # The ICM learns from the PPO module's batch; RLlib's example trains only PPO.
    return algo, config.multi_agent(policies_to_train=[DEFAULT_MODULE_ID])


def _modelv2_wrapper(env: str):
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core import DEFAULT_POLICY_ID
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.modelv2_to_rlm import ModelV2ToRLModule

    # As RLlib's migrate_modelv2_to_new_api_stack_by_config.py: an LSTM ModelV2.
    old = (
        PPOConfig()
        .api_stack(enable_env_runner_and_connector_v2=False, enable_rl_module_and_learner=False)
        .environment(env)
        .training(
            model={
                "fcnet_hiddens": [32],
                "fcnet_activation": "linear",
                "use_lstm": True,
                "lstm_cell_size": 16,
                "vf_share_layers": True,
            }
        )
    )
    spec = RLModuleSpec(
        module_class=ModelV2ToRLModule,
        model_config={
            "policy_id": DEFAULT_POLICY_ID,
            "old_api_stack_algo_config": old,
            "max_seq_len": 20,
        },
    )
    return _ppo(env, spec)


def _vpg(env: str):
    from ray.rllib.examples.algorithms.classes.vpg import VPG, VPGConfig

    config = (
        VPGConfig()
        .environment(env)
        .env_runners(num_env_runners=0)
        .training(num_episodes_per_train_batch=2)
        .rl_module(rl_module_spec=_spec("vpg_torch_rlm", "VPGTorchRLModule", hidden_dim=32))
    )
    return VPG, config


def _two_players(agent_id: Any, *args: Any, **kwargs: Any) -> str:
    return f"p{agent_id}"


def _shared_encoder(env: str, shared: bool = True):
    import gymnasium as gym
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.algorithms.classes.vpg import VPG, VPGConfig
    from ray.rllib.examples.learners.classes.vpg_torch_learner_shared_optimizer import (
        VPGTorchLearnerSharedOptimizer,
    )
    from ray.rllib.examples.rl_modules.classes import vpg_using_shared_encoder_rlm as rlm

    single = gym.make("CartPole-v1")
    heads = {"embedding_dim": 16, "hidden_dim": 16}
    if shared:
        spec = MultiRLModuleSpec(
            multi_rl_module_class=rlm.VPGMultiRLModuleWithSharedEncoder,
            rl_module_specs={
                rlm.SHARED_ENCODER_ID: RLModuleSpec(
                    module_class=rlm.SharedEncoder,
                    model_config={"embedding_dim": 16},
                    observation_space=single.observation_space,
                    action_space=single.action_space,
                ),
                "p0": RLModuleSpec(
                    module_class=rlm.VPGPolicyAfterSharedEncoder, model_config=heads
                ),
                "p1": RLModuleSpec(
                    module_class=rlm.VPGPolicyAfterSharedEncoder, model_config=heads
                ),
            },
        )
    else:
        spec = MultiRLModuleSpec(
            rl_module_specs={
                "p0": RLModuleSpec(module_class=rlm.VPGPolicyNoSharedEncoder, model_config=heads),
                "p1": RLModuleSpec(module_class=rlm.VPGPolicyNoSharedEncoder, model_config=heads),
            }
        )
    config = (
        VPGConfig()
        .environment(env)
        .env_runners(num_env_runners=0)
        .training(
            num_episodes_per_train_batch=2,
            learner_class=VPGTorchLearnerSharedOptimizer if shared else None,
        )
        .multi_agent(policies={"p0", "p1"}, policy_mapping_fn=_two_players)
        .rl_module(rl_module_spec=spec)
    )
    return VPG, config


def _learnable_vs(agent_id: Any, *args: Any, **kwargs: Any) -> str:
    return "learnable" if int(agent_id) == 0 else "heuristic"


def _heuristic_opponent(env: str, cls: str):
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    module, name = cls.split(".")
    spec = MultiRLModuleSpec(
        rl_module_specs={"learnable": RLModuleSpec(), "heuristic": _spec(module, name)}
    )
    algo, config = _ppo(env, spec)
    config = config.multi_agent(
        policies={"learnable", "heuristic"},
        policy_mapping_fn=_learnable_vs,
        policies_to_train=["learnable"],
    )
    return algo, config


def _player_vs(agent_id: Any, *args: Any, **kwargs: Any) -> str:
    return "learned" if agent_id == "player1" else "heuristic"


def _rock_paper_scissors(env: str, cls: str):
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    module, name = cls.split(".")
    heuristic = _spec(module, name)
    heuristic.observation_space = gym.spaces.Discrete(3)
    heuristic.action_space = gym.spaces.Discrete(3)
    spec = MultiRLModuleSpec(rl_module_specs={"learned": RLModuleSpec(), "heuristic": heuristic})
    algo, config = _ppo(env, spec)
    config = config.env_runners(
        # As RLlib's rock_paper_scissors_heuristic_vs_learned.py: flatten the learner's obs only.
        env_to_module_connector=_FlattenPlayer1(),
    ).multi_agent(
        policies={"learned", "heuristic"},
        policy_mapping_fn=_player_vs,
        policies_to_train=["learned"],
    )
    return algo, config


class _FlattenPlayer1:
    def __call__(self, env=None, spaces=None, device=None):
        from ray.rllib.connectors.env_to_module import FlattenObservations

        return [FlattenObservations(multi_agent=True, agent_ids={"player1"})]


def _tiny_cnn(env: str):
    return _ppo(env, _spec("tiny_atari_cnn_rlm", "TinyAtariCNN"))


def _envs() -> dict[str, tuple[Any, dict]]:
    from ray.rllib.examples.envs.classes.action_mask_env import ActionMaskEnv
    from ray.rllib.examples.envs.classes.correlated_actions_env import CorrelatedActionsEnv
    from ray.rllib.examples.envs.classes.multi_agent import MultiAgentCartPole
    from ray.rllib.examples.envs.classes.multi_agent.rock_paper_scissors import (
        RockPaperScissors,
    )
    from ray.rllib.examples.envs.classes.stateless_cartpole import StatelessCartPole

    from tests.envs import ImageEnv

    return {
        "mask": (
            ActionMaskEnv,
            {
                # 100 actions: with few, the env's random mask is sometimes all zeros.
                "action_space": gym.spaces.Discrete(100),
                "observation_space": gym.spaces.Box(-1.0, 1.0, (5,), np.float32),
                "max_episode_len": 20,
            },
        ),
        "correlated": (CorrelatedActionsEnv, {}),
        "cartpole": ("CartPole-v1", {}),
        "stateless": (StatelessCartPole, {}),
        "two_cartpoles": (MultiAgentCartPole, {"num_agents": 2}),
        "rps": (RockPaperScissors, {}),
        "image": (ImageEnv, {}),
    }


def new_stack_cases() -> list[Case]:
    """The example RLModules of ``ray/rllib/examples/rl_modules/classes/``."""
    envs = _envs()
    heuristic = "is not a torch module|act.* at random"
    return [
        Case(
            "action_masking",
            ("action_masking_rlm.ActionMaskingTorchRLModule",),
            "new",
            "matched",
            envs["mask"],
            _action_masking,
            reason="Dict observation {action_mask, observations} consumed by the module itself",
        ),
        Case(
            "action_masking_base",
            ("action_masking_rlm.ActionMaskingRLModule",),
            "new",
            "not tried",
            reason="framework-independent base class of ActionMaskingTorchRLModule (covered there); it builds no network of its own",
        ),
        Case(
            "autoregressive",
            ("autoregressive_actions_rlm.AutoregressiveActionsRLM",),
            "new",
            "matched",
            envs["correlated"],
            _autoregressive,
            reason="Tuple(Discrete, Box) actions computed by the module (forward_inference returns actions)",
        ),
        Case(
            "custom_distribution",
            ("custom_action_distribution_rlm.CustomActionDistributionRLModule",),
            "new",
            "matched",
            envs["cartpole"],
            _temperature,
            reason="a TorchCategorical subclass with a temperature that divides the logits in place",
        ),
        Case(
            "curiosity_policy",
            ("intrinsic_curiosity_model_rlm.IntrinsicCuriosityModel",),
            "new",
            "matched",
            envs["cartpole"],
            _curiosity,
            reason="PPO trained with a learner-only curiosity model; the policy is exported, the ICM is not a policy",
        ),
        Case(
            "curiosity_model",
            ("intrinsic_curiosity_model_rlm.IntrinsicCuriosityModel",),
            "new",
            "refused",
            envs["cartpole"],
            _curiosity,
            policies=("_intrinsic_curiosity_model",),
            refusal=r"IntrinsicCuriosityModel\).*learner_only",
            reason="asked for explicitly: the learner-only ICM is no policy",
        ),
        Case(
            "lstm",
            ("lstm_containing_rlm.LSTMContainingRLModule",),
            "new",
            "matched",
            envs["stateless"],
            _lstm,
            reason="get_initial_state() returns numpy arrays h, c",
        ),
        Case(
            "lstm_target_network",
            ("lstm_containing_rlm.LSTMContainingRLModuleWithTargetNetwork",),
            "new",
            "matched",
            envs["stateless"],
            _lstm_appo,
            reason="trained by APPO (target networks)",
        ),
        Case(
            "mobilenet",
            ("mobilenet_rlm.MobileNetTorchPPORLModule",),
            "new",
            "not tried",
            reason="needs torchvision (no build of it imports beside the torch 2.13 CPU wheel here) and downloads "
            "pre-trained ImageNet weights; importing the file also trains a PPO demo",
        ),
        Case(
            "modelv2_wrapper",
            ("modelv2_to_rlm.ModelV2ToRLModule",),
            "new",
            "matched",
            envs["cartpole"],
            _modelv2_wrapper,
            reason="an old-stack LSTM ModelV2 inside an RLModule (migration by config); tracing fixes its "
            "batch size (torch.tensor([1.0] * batch)), so its graphs take one observation at a time "
            "(manifest batch: 1) and the loader runs batches row by row",
        ),
        Case(
            "random",
            ("random_rlm.RandomRLModule",),
            "new",
            "refused",
            envs["two_cartpoles"],
            lambda env: _heuristic_opponent(env, "random_rlm.RandomRLModule"),
            policies=("heuristic",),
            refusal=r"RandomRLModule\).*(" + heuristic + ")",
            reason="an untrained opponent, asked for explicitly",
        ),
        Case(
            "random_opponent_skipped",
            ("random_rlm.RandomRLModule",),
            "new",
            "matched",
            envs["two_cartpoles"],
            lambda env: _heuristic_opponent(env, "random_rlm.RandomRLModule"),
            reason="by default only the trained module is exported; the random opponent is skipped",
        ),
        Case(
            "stateful_random",
            ("random_rlm.StatefulRandomRLModule",),
            "new",
            "refused",
            envs["two_cartpoles"],
            lambda env: _heuristic_opponent(env, "random_rlm.StatefulRandomRLModule"),
            policies=("heuristic",),
            refusal=r"StatefulRandomRLModule\).*(" + heuristic + ")",
            reason="an untrained opponent, asked for explicitly",
        ),
        Case(
            "always_same",
            ("rock_paper_scissors_heuristic_rlm.AlwaysSameHeuristicRLM",),
            "new",
            "refused",
            envs["rps"],
            lambda env: _rock_paper_scissors(
                env, "rock_paper_scissors_heuristic_rlm.AlwaysSameHeuristicRLM"
            ),
            policies=("heuristic",),
            refusal=r"AlwaysSameHeuristicRLM\).*(" + heuristic + ")",
            reason="a numpy heuristic, asked for explicitly",
        ),
        Case(
            "beat_last",
            ("rock_paper_scissors_heuristic_rlm.BeatLastHeuristicRLM",),
            "new",
            "refused",
            envs["rps"],
            lambda env: _rock_paper_scissors(
                env, "rock_paper_scissors_heuristic_rlm.BeatLastHeuristicRLM"
            ),
            policies=("heuristic",),
            refusal=r"BeatLastHeuristicRLM\).*(" + heuristic + ")",
            reason="a numpy heuristic, asked for explicitly",
        ),
        Case(
            "rps_learned",
            ("rock_paper_scissors_heuristic_rlm.BeatLastHeuristicRLM",),
            "new",
            "matched",
            envs["rps"],
            lambda env: _rock_paper_scissors(
                env, "rock_paper_scissors_heuristic_rlm.BeatLastHeuristicRLM"
            ),
            reason="the learned player, whose observations a multi-agent FlattenObservations one-hots (agent_ids={player1})",
        ),
        Case(
            "tiny_cnn",
            ("tiny_atari_cnn_rlm.TinyAtariCNN",),
            "new",
            "matched",
            envs["image"],
            _tiny_cnn,
            reason="a CNN on 42x42x4 images",
        ),
        Case(
            "vpg",
            ("vpg_torch_rlm.VPGTorchRLModule",),
            "new",
            "matched",
            envs["cartpole"],
            _vpg,
            reason="trained by RLlib's example VPG algorithm",
        ),
        Case(
            "shared_encoder",
            (
                "vpg_using_shared_encoder_rlm.VPGMultiRLModuleWithSharedEncoder",
                "vpg_using_shared_encoder_rlm.VPGPolicyAfterSharedEncoder",
                "vpg_using_shared_encoder_rlm.SharedEncoder",
            ),
            "new",
            "matched",
            envs["two_cartpoles"],
            _shared_encoder,
            reason="two VPG policies on one shared encoder: each export holds encoder and head",
        ),
        Case(
            "shared_encoder_module",
            ("vpg_using_shared_encoder_rlm.SharedEncoder",),
            "new",
            "refused",
            envs["two_cartpoles"],
            _shared_encoder,
            policies=("shared_encoder",),
            refusal=r"SharedEncoder\).*neither 'actions' nor 'action_dist_inputs'",
            reason="asked for explicitly: the encoder alone computes no action",
        ),
        Case(
            "no_shared_encoder",
            (
                "vpg_using_shared_encoder_rlm.VPGPolicyNoSharedEncoder",
                "vpg_using_shared_encoder_rlm.VPGIndividualEncoder",
            ),
            "new",
            "matched",
            envs["two_cartpoles"],
            lambda env: _shared_encoder(env, shared=False),
            reason="the same two policies, each with its own encoder",
        ),
    ]


# ------------------------------------------------------------------ old stack


def _old_ppo(env: str, framework: str, model: dict, algo: type | None = None, **training: Any):
    from ray.rllib.algorithms.ppo import PPO, PPOConfig

    config = (
        PPOConfig()
        .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
        .environment(env)
        .framework(framework)
        .env_runners(num_env_runners=0)
        .training(train_batch_size=128, minibatch_size=64, num_epochs=1, model=model, **training)
    )
    return algo or PPO, config


def _old_class(path: str) -> type:
    import importlib

    module, name = path.split(".")
    return getattr(importlib.import_module(f"{OLD}.{module}"), name)


def _custom_model(path: str, **model: Any) -> dict:
    """Register an old-stack example model class with ModelCatalog; its model config."""
    from ray.rllib.models import ModelCatalog

    name = f"example_{path.replace('.', '_')}"
    ModelCatalog.register_custom_model(name, _old_class(path))
    return {"custom_model": name, **model}


def _old_single(path: str, framework: str, **model: Any):
    return lambda env: _old_ppo(env, framework, _custom_model(path, **model))


def _old_autoregressive(model: str, dist: str, framework: str):
    def build(env: str):
        from ray.rllib.models import ModelCatalog

        name = f"example_{dist.replace('.', '_')}"
        ModelCatalog.register_custom_action_dist(name, _old_class(dist))
        return _old_ppo(env, framework, _custom_model(model, custom_action_dist=name))

    return build


def _cc_mapping(agent_id: Any, *args: Any, **kwargs: Any) -> str:
    return "pol1" if agent_id == 0 else "pol2"


def _old_centralized_critic(path: str, framework: str):
    def build(env: str):
        from gymnasium.spaces import Discrete
        from ray.rllib.algorithms.ppo import PPOConfig
        from ray.rllib.examples._old_api_stack import centralized_critic
        from ray.rllib.examples._old_api_stack.centralized_critic import CentralizedCritic

        # The script's policies read its command-line arguments (a module global
        # that exists when it runs as __main__).
        centralized_critic.args = centralized_critic.parser.parse_args(["--framework", framework])

        # As RLlib's centralized_critic.py: a custom Algorithm, custom Policy classes.
        algo, config = _old_ppo(env, framework, _custom_model(path), algo=CentralizedCritic)
        spec = (None, Discrete(6), Discrete(2), PPOConfig.overrides(framework_str=framework))
        config = config.env_runners(batch_mode="complete_episodes").multi_agent(
            policies={"pol1": spec, "pol2": spec}, policy_mapping_fn=_cc_mapping
        )
        return algo, config

    return build


def _shared_mapping(agent_id: Any, *args: Any, **kwargs: Any) -> str:
    return f"pol{int(agent_id) % 2 + 1}"


def _old_shared_weights(paths: tuple[str, str], framework: str):
    def build(env: str):
        from ray.rllib.policy.policy import PolicySpec

        first = _custom_model(paths[0])
        second = _custom_model(paths[1])
        algo, config = _old_ppo(env, framework, {}, vf_loss_coeff=0.01)
        config = config.multi_agent(
            policies={
                "pol1": PolicySpec(config={"model": first}),
                "pol2": PolicySpec(config={"model": second}),
            },
            policy_mapping_fn=_shared_mapping,
        )
        return algo, config

    return build


def _old_envs() -> dict[str, tuple[Any, dict]]:
    from ray.rllib.examples.envs.classes.multi_agent import MultiAgentCartPole
    from ray.rllib.examples.envs.classes.multi_agent.two_step_game import TwoStepGame
    from ray.rllib.examples.envs.classes.parametric_actions_cartpole import (
        ParametricActionsCartPole,
        ParametricActionsCartPoleNoEmbeddings,
    )
    from ray.rllib.examples.envs.classes.simple_rpg import SimpleRPG

    from tests.envs import TwoBinaryActionsEnv

    envs = _envs()
    return {
        "mask": envs["mask"],
        "cartpole": envs["cartpole"],
        "binary_pair": (TwoBinaryActionsEnv, {}),
        "two_step": (TwoStepGame, {}),
        "parametric": (_ten_actions(ParametricActionsCartPole), {}),
        "parametric_no_embeddings": (_ten_actions(ParametricActionsCartPoleNoEmbeddings), {}),
        "two_cartpoles": (MultiAgentCartPole, {"num_agents": 2}),
        "rpg": (SimpleRPG, {}),
    }


def _ten_actions(cls: type) -> Callable[[Any], Any]:
    """A factory of RLlib's ``cls(10)`` (its parametric-actions CartPole envs take no config)."""

    def make(config: Any = None) -> Any:
        return cls(10)

    return make


def make_env(env: Any, config: dict) -> Any:
    """An instance of a case's env: a gymnasium id, an env class or a factory."""
    if isinstance(env, str):
        return gym.make(env)
    return env(config)


def old_stack_cases() -> list[Case]:
    """The example models of ``ray/rllib/examples/_old_api_stack/models/``."""
    envs = _old_envs()
    cases = []
    for fw, suffix, mask, auto, dist, cc, pa in (
        (
            "torch",
            "torch",
            "TorchActionMaskModel",
            "TorchAutoregressiveActionModel",
            "TorchBinaryAutoregressiveDistribution",
            "TorchCentralizedCriticModel",
            "TorchParametricActionsModel",
        ),
        (
            "tf2",
            "tf2",
            "ActionMaskModel",
            "AutoregressiveActionModel",
            "BinaryAutoregressiveDistribution",
            "CentralizedCriticModel",
            "ParametricActionsModel",
        ),
    ):
        cases += [
            Case(
                f"old_action_mask_{suffix}",
                (f"action_mask_model.{mask}",),
                "old",
                "matched",
                envs["mask"],
                _old_single(f"action_mask_model.{mask}", fw),
                framework=fw,
                reason="Dict observation {action_mask, observations}, flattened by RLlib, restored by the model",
            ),
            Case(
                f"old_autoregressive_{suffix}",
                (f"autoregressive_action_model.{auto}", f"autoregressive_action_dist.{dist}"),
                "old",
                "matched",
                envs["binary_pair"],
                _old_autoregressive(
                    f"autoregressive_action_model.{auto}", f"autoregressive_action_dist.{dist}", fw
                ),
                framework=fw,
                reason="a custom action distribution (deterministic_sample runs the model's action head)",
            ),
            Case(
                f"old_centralized_critic_{suffix}",
                (f"centralized_critic_models.{cc}",),
                "old",
                "matched",
                envs["two_step"],
                _old_centralized_critic(f"centralized_critic_models.{cc}", fw),
                framework=fw,
                reason="RLlib's centralized-critic example: a custom Algorithm with custom Policy classes",
            ),
            Case(
                f"old_parametric_{suffix}",
                (f"parametric_actions_model.{pa}",),
                "old",
                "matched",
                envs["parametric"],
                _old_single(f"parametric_actions_model.{pa}", fw),
                framework=fw,
                reason="action embeddings and mask in a Dict observation",
            ),
        ]
    cases += [
        Case(
            "old_parametric_embeddings_tf2",
            ("parametric_actions_model.ParametricActionsModelThatLearnsEmbeddings",),
            "old",
            "matched",
            envs["parametric_no_embeddings"],
            _old_single(
                "parametric_actions_model.ParametricActionsModelThatLearnsEmbeddings", "tf2"
            ),
            framework="tf2",
            reason="action embeddings learned by the model (a TF-only example)",
        ),
        Case(
            "old_fast_model_torch",
            ("fast_model.TorchFastModel",),
            "old",
            "matched",
            envs["cartpole"],
            _old_single("fast_model.TorchFastModel", "torch"),
            reason="a single learned bias",
        ),
        Case(
            "old_fast_model_tf",
            ("fast_model.FastModel",),
            "old",
            "matched",
            envs["cartpole"],
            _old_single("fast_model.FastModel", "tf"),
            framework="tf",
            reason="tf1 variables made in forward() (graph mode only)",
        ),
        Case(
            "old_shared_weights_torch",
            ("shared_weights_model.TorchSharedWeightsModel",),
            "old",
            "matched",
            envs["two_cartpoles"],
            _old_shared_weights(("shared_weights_model.TorchSharedWeightsModel",) * 2, "torch"),
            reason="two policies whose models share a layer",
        ),
        Case(
            "old_shared_weights_tf2",
            ("shared_weights_model.TF2SharedWeightsModel",),
            "old",
            "matched",
            envs["two_cartpoles"],
            _old_shared_weights(("shared_weights_model.TF2SharedWeightsModel",) * 2, "tf2"),
            framework="tf2",
            reason="two policies whose Keras models share a layer",
        ),
        Case(
            "old_shared_weights_tf",
            (
                "shared_weights_model.SharedWeightsModel1",
                "shared_weights_model.SharedWeightsModel2",
            ),
            "old",
            "matched",
            envs["two_cartpoles"],
            _old_shared_weights(
                (
                    "shared_weights_model.SharedWeightsModel1",
                    "shared_weights_model.SharedWeightsModel2",
                ),
                "tf",
            ),
            framework="tf",
            reason="two tf1 policies sharing variables by scope",
        ),
        Case(
            "old_rpg_torch",
            ("simple_rpg_model.CustomTorchRPGModel",),
            "old",
            "refused",
            envs["rpg"],
            _old_single("simple_rpg_model.CustomTorchRPGModel", "torch"),
            refusal=r"\(PPOTorchPolicy\).*RepeatedValuesPreprocessor",
            reason="a Repeated (variable-length list) observation",
        ),
        Case(
            "old_rpg_tf2",
            ("simple_rpg_model.CustomTFRPGModel",),
            "old",
            "refused",
            envs["rpg"],
            _old_single("simple_rpg_model.CustomTFRPGModel", "tf2"),
            framework="tf2",
            refusal=r"\(PPOTF2Policy\w*\).*RepeatedValuesPreprocessor",
            reason="a Repeated (variable-length list) observation",
        ),
        Case(
            "old_centralized_critic_variants",
            (
                "centralized_critic_models.YetAnotherCentralizedCriticModel",
                "centralized_critic_models.YetAnotherTorchCentralizedCriticModel",
            ),
            "old",
            "not tried",
            reason="built for centralized_critic_2.py's env with own/opponent observations, which RLlib 2.60 no "
            "longer ships",
        ),
        Case(
            "old_custom_loss",
            ("custom_loss_model.CustomLossModel", "custom_loss_model.TorchCustomLossModel"),
            "old",
            "not tried",
            reason="its loss reads offline JSON sample batches (input_files) that RLlib 2.60 does not ship",
        ),
        Case(
            "old_dnc",
            ("neural_computer.DNCMemory",),
            "old",
            "not tried",
            reason="needs the third-party dnc package (pytorch-dnc), which is not installed here; without it "
            "the file does not import",
        ),
    ]
    return cases
