"""make_exporting: naming, identity, pickling, Tune registration, early errors."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from exportable_trainers import ExportingMixin, ExportOptions, InvalidOptionError, make_exporting
from tests.configs import ppo_config

ray = pytest.importorskip("ray")
from ray.rllib.algorithms.ppo import PPO  # noqa: E402


class TinyPPO(PPO):
    """A user's own algorithm class."""


def test_name_bases_and_identity():
    cls = make_exporting(PPO)
    assert cls.__name__ == "ExportingPPO"
    assert issubclass(cls, ExportingMixin) and issubclass(cls, PPO)
    assert make_exporting(PPO) is cls
    assert make_exporting("PPO") is cls
    assert make_exporting(cls) is cls
    assert make_exporting(PPO, formats=["onnx"]) is not cls
    assert make_exporting(TinyPPO).__name__ == "ExportingTinyPPO"


def test_defaults_are_per_class():
    a = make_exporting(PPO, formats=["onnx"], on_error="raise")
    b = make_exporting(PPO)
    assert a.export_defaults() == ExportOptions(formats=("onnx",), on_error="raise")
    assert b.export_defaults() == ExportOptions()

    class Mine(ExportingMixin, PPO, formats=["torchscript"]):
        pass

    class Child(Mine, verify=False):
        pass

    assert Mine.export_defaults().formats == ("torchscript",)
    assert Child.export_defaults() == ExportOptions(formats=("torchscript",), verify=False)
    assert ExportingMixin.export_defaults() == ExportOptions()


def test_registered_with_tune_under_its_name():
    from ray.tune.registry import get_trainable_cls

    cls = make_exporting(PPO, formats=["onnx"], name="OnnxPPO")
    assert cls.__name__ == "OnnxPPO"
    assert get_trainable_cls("OnnxPPO").export_defaults() == cls.export_defaults()


@pytest.mark.parametrize("dumps", ["pickle", "cloudpickle"])
def test_class_pickles_with_its_defaults_into_a_fresh_process(dumps):
    cls = make_exporting(TinyPPO, formats=["onnx", "safetensors"], verify=False)
    module = pickle if dumps == "pickle" else ray.cloudpickle
    data = module.dumps(cls)
    code = (
        "import pickle, sys\n"
        "cls = pickle.loads(sys.stdin.buffer.read())\n"
        "print(cls.__name__, cls.__mro__[2].__name__, cls.export_defaults().formats, "
        "cls.export_defaults().verify)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, check=True
    ).stdout.decode()
    assert out.split() == ["ExportingTinyPPO", "TinyPPO", "('onnx',", "'safetensors')", "False"]
    assert pickle.loads(pickle.dumps(cls)) is cls


@pytest.mark.parametrize(
    "algo, fragment",
    [
        ("NoSuchAlgo", "unknown algorithm 'NoSuchAlgo'"),
        (int, "needs an RLlib Algorithm subclass"),
    ],
)
def test_bad_algorithm_is_named(algo, fragment):
    with pytest.raises(InvalidOptionError, match=fragment):
        make_exporting(algo)


def test_unknown_format_fails_when_the_class_is_made():
    with pytest.raises(InvalidOptionError, match="unknown export format 'h6'"):
        make_exporting(PPO, formats=["h6"])


def test_impossible_format_fails_when_the_algorithm_is_built(ray_session):
    cls = make_exporting(PPO, formats=["h5"])
    with pytest.raises(ValueError, match="'h5' cannot be written for framework='torch'"):
        cls(config=ppo_config("CartPole-v1"))


def test_config_override_is_validated_at_build(ray_session):
    cls = make_exporting(PPO)
    config = ppo_config("CartPole-v1")
    config.exporting = {"formats": ["keras"]}
    with pytest.raises(ValueError, match="'keras' cannot be written for framework='torch'"):
        cls(config=config)


def test_unknown_policy_fails_at_build_listing_the_real_ones(ray_session):
    cls = make_exporting(PPO, policies=["player_red"])
    with pytest.raises(ValueError, match="unknown policy id.*'player_red'.*has: 'default_policy'"):
        cls(config=ppo_config("CartPole-v1"))


def test_one_name_never_silently_means_two_classes(caplog):
    from ray.tune.registry import get_trainable_cls

    first = make_exporting(PPO, formats=["onnx"], name="NamedOnce")
    with pytest.raises(InvalidOptionError, match="'NamedOnce' is already registered"):
        make_exporting(PPO, formats=["torchscript"], name="NamedOnce")
    assert get_trainable_cls("NamedOnce") is first
    assert make_exporting(PPO, formats=["onnx"], name="NamedOnce") is first  # same: fine

    # A default name made again with other defaults means the new class, and says so.
    plain = make_exporting(TinyPPO)
    with caplog.at_level("WARNING", logger="exportable_trainers.export.factory"):
        other = make_exporting(TinyPPO, verify=False)
    assert "'ExportingTinyPPO' now means TinyPPO with defaults" in caplog.text
    assert get_trainable_cls("ExportingTinyPPO") is other
    caplog.clear()
    with caplog.at_level("WARNING", logger="exportable_trainers.export.factory"):
        assert make_exporting(TinyPPO) is plain
    assert "now means" in caplog.text and get_trainable_cls("ExportingTinyPPO") is plain
