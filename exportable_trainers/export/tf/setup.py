"""Make ``tf.keras`` mean tf_keras (Keras 2), which RLlib's TF policies need.

TensorFlow >= 2.16 routes ``tf.keras`` to Keras 3 unless ``TF_USE_LEGACY_KERAS=1``
is set before ``tf.keras`` is first touched. Importing RLlib touches it (a layer
class is defined at import), so setting the variable after ``import ray.rllib``
is too late. :func:`ensure_legacy_keras` sets the variable *and* re-creates
TensorFlow's own lazy Keras loaders that were already bound to Keras 3, so any
import order works.

The mixin calls it before building a TF algorithm; remote env runners get it
through :class:`LegacyKerasMarker`, an object placed on the algorithm config
whose unpickling (when RLlib ships the config to a worker, before the worker
builds its policies) applies the same set-up there.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from ...exceptions import TensorFlowSetupError

ENV_VAR = "TF_USE_LEGACY_KERAS"
_TRUE = ("1", "true", "True")

# (module under tensorflow, attribute, KerasLazyLoader keyword arguments), as
# TensorFlow's own __init__ files create them.
_LOADERS = (
    ("", "keras", {}),
    ("", "losses", {"submodule": "losses", "name": "losses"}),
    ("", "metrics", {"submodule": "metrics", "name": "metrics"}),
    ("", "optimizers", {"submodule": "optimizers", "name": "optimizers"}),
    ("", "initializers", {"submodule": "initializers", "name": "initializers"}),
    ("compat.v2", "keras", {"mode": "v2"}),
    ("compat.v2", "losses", {"submodule": "losses", "name": "losses", "mode": "v2"}),
    ("compat.v2", "metrics", {"submodule": "metrics", "name": "metrics", "mode": "v2"}),
    ("compat.v2", "optimizers", {"submodule": "optimizers", "name": "optimizers", "mode": "v2"}),
    (
        "compat.v2",
        "initializers",
        {"submodule": "initializers", "name": "initializers", "mode": "v2"},
    ),
    ("compat.v1", "keras", {"mode": "v1"}),
    (
        "compat.v1",
        "layers",
        {"submodule": "__internal__.legacy.layers", "name": "layers", "mode": "v1"},
    ),
)


def _bound_to_keras3(value: Any) -> bool:
    if type(value).__name__ == "KerasLazyLoader":
        if not object.__getattribute__(value, "_tfll_initialized"):
            return False  # not resolved yet: it will read the environment variable
        return object.__getattribute__(value, "_tfll_keras_version") == "keras_3"
    return getattr(value, "__name__", "").startswith("keras.")


def _submodule(tf: Any, path: str) -> Any:
    module = tf
    for part in filter(None, path.split(".")):
        module = getattr(module, part)
    return module


def ensure_legacy_keras() -> bool:
    """Route ``tf.keras`` to tf_keras in this process, whatever was imported first.

    Returns:
        True when TensorFlow was already imported and loaders had to be re-created.

    Raises:
        TensorFlowSetupError: tf_keras is not installed, or the environment
            explicitly sets TF_USE_LEGACY_KERAS to a false value.
    """
    current = os.environ.get(ENV_VAR)
    if current is not None and current not in _TRUE:
        raise TensorFlowSetupError(
            f"{ENV_VAR}={current!r} is set, but RLlib's TensorFlow policies need tf.keras to be "
            f"tf_keras (Keras 2); unset {ENV_VAR} or set it to 1"
        )
    if importlib.util.find_spec("tf_keras") is None:
        raise TensorFlowSetupError(
            "RLlib's TensorFlow policies need the tf_keras package with TensorFlow >= 2.16; "
            "pip install 'exportable_trainers[tf]' (or tf_keras matching your TensorFlow)"
        )
    os.environ[ENV_VAR] = "1"
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return False
    from tensorflow.python.util.lazy_loader import KerasLazyLoader

    repointed = False
    for path, attribute, kwargs in _LOADERS:
        module = _submodule(tf, path)
        if _bound_to_keras3(module.__dict__.get(attribute)):
            setattr(module, attribute, KerasLazyLoader(module.__dict__, **kwargs))
            repointed = True
    return repointed


def _apply_on_unpickle() -> LegacyKerasMarker:
    ensure_legacy_keras()
    return LegacyKerasMarker()


class LegacyKerasMarker:
    """Applies :func:`ensure_legacy_keras` in every process that unpickles it.

    RLlib pickles the algorithm config to each remote env runner and learner
    before they build their policies; a marker stored on the config therefore
    sets up TensorFlow there in time.
    """

    def __reduce__(self) -> tuple:
        return _apply_on_unpickle, ()

    def __repr__(self) -> str:
        return "LegacyKerasMarker()"


MARKER_ATTRIBUTE = "_exportable_trainers_legacy_keras"


def prepare_algorithm_config(config: Any) -> None:
    """Set up TensorFlow here, and in every worker that receives ``config``.

    The config is frozen by the time an Algorithm's setup() sees it, so the
    marker goes in with object.__setattr__, bypassing RLlib's setter guard.
    """
    ensure_legacy_keras()
    object.__setattr__(config, MARKER_ATTRIBUTE, LegacyKerasMarker())
