"""Environments named on the command line: a gymnasium id or the user's own factory."""

from __future__ import annotations

import importlib
from typing import Any

from ..exceptions import InvalidOptionError


def make_env(env: str, env_config: dict[str, Any] | None = None) -> Any:
    """Build the environment ``env`` names.

    Args:
        env: A gymnasium id (``CartPole-v1``), or ``module:callable``, a factory
            importable from ``PYTHONPATH`` (``mypkg.envs:make_corridor``) that
            returns a gymnasium environment; RLlib's env creators and env classes
            that take a config dict both qualify.
        env_config: Passed to the factory as its one argument (a dict, as RLlib
            passes ``env_config``); for a gymnasium id, as ``gym.make`` keyword
            arguments. None: the factory is called with no argument.

    Raises:
        InvalidOptionError: Unknown id, module or attribute, a factory that
            fails, or one that returns no gymnasium environment.
    """
    import gymnasium as gym

    if env_config is not None and not isinstance(env_config, dict):
        raise InvalidOptionError(f"env_config must be a JSON object, got {env_config!r}")
    if ":" not in env:
        try:
            return gym.make(env, **(env_config or {}))
        except gym.error.Error as e:
            raise InvalidOptionError(f"cannot make gymnasium environment {env!r}: {e}") from None
        except TypeError as e:
            raise InvalidOptionError(
                f"gymnasium environment {env!r}: bad env_config ({e})"
            ) from None
    module_name, _, attribute = env.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise InvalidOptionError(
            f"--env {env!r}: cannot import module {module_name!r} ({e}); it must be on PYTHONPATH"
        ) from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise InvalidOptionError(
            f"--env {env!r}: module {module_name!r} has no callable {attribute!r}"
        )
    try:
        made = factory() if env_config is None else factory(env_config)
    except Exception as e:
        raise InvalidOptionError(
            f"--env {env!r}: the factory failed: {type(e).__name__}: {e}"
        ) from None
    if not (isinstance(made, gym.Env) or all(hasattr(made, a) for a in _ENV_API)):
        raise InvalidOptionError(
            f"--env {env!r}: the factory returned {type(made).__name__}, not a gymnasium "
            "environment (reset, step, observation_space, action_space)"
        )
    return made


_ENV_API = ("reset", "step", "observation_space", "action_space")
