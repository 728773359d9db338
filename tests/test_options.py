"""Export options and format names: validated at once, with messages that help."""

from __future__ import annotations

import pickle

import pytest

from exportable_trainers import ExportOptions, InvalidOptionError
from exportable_trainers.contract.formats import DEFAULT_FORMATS, FORMATS, resolve_formats


def test_unknown_format_names_bad_value_and_valid_ones():
    with pytest.raises(InvalidOptionError) as info:
        ExportOptions(formats=["onnx", "h6"])
    message = str(info.value)
    assert "'h6'" in message
    for name in FORMATS:
        assert name in message


def test_invalid_option_error_is_a_value_error():
    with pytest.raises(ValueError):
        ExportOptions(on_error="ignore")


@pytest.mark.parametrize(
    "framework, requested, expected",
    [
        ("torch", ["model"], ("torchscript",)),
        ("tf", ["model"], ("savedmodel",)),
        ("tf2", ["MODEL", " onnx "], ("savedmodel", "onnx")),
        ("torch", ["onnx", "onnx"], ("onnx",)),
        ("torch", None, DEFAULT_FORMATS["torch"]),
    ],
)
def test_aliases_and_defaults_resolve(framework, requested, expected):
    assert resolve_formats(requested, framework) == expected


@pytest.mark.parametrize("fmt", ["h5", "savedmodel", "keras"])
def test_tf_only_formats_rejected_for_torch(fmt):
    with pytest.raises(
        InvalidOptionError, match=rf"'{fmt}' cannot be written for framework='torch'"
    ):
        resolve_formats([fmt], "torch")


def test_torch_only_formats_rejected_for_tf():
    with pytest.raises(
        InvalidOptionError, match="'torchscript' cannot be written for framework='tf2'"
    ):
        resolve_formats(["torchscript"], "tf2")


def test_ray_checkpoint_format_explained():
    with pytest.raises(InvalidOptionError, match="RLlib checkpoint itself"):
        ExportOptions(formats=["checkpoint"])


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"on_error": "ignore"}, "on_error='ignore'"),
        ({"verify": "yes"}, "verify must be True or False"),
        ({"atol": -1.0}, "atol must be a finite number"),
        ({"rtol": float("nan")}, "rtol must be a finite number"),
        ({"formats": []}, "formats is empty"),
        ({"policies": []}, "policies is empty"),
        ({"policies": ["../escape"]}, "cannot be used as an export directory name"),
        ({"policies": ["a/b"]}, "cannot be used as an export directory name"),
        ({"policies": [""]}, "cannot be used as an export directory name"),
        ({"policies": [".hidden"]}, "cannot be used as an export directory name"),
        ({"policies": [3]}, "must be strings"),
    ],
)
def test_bad_options_name_the_problem(kwargs, fragment):
    with pytest.raises(InvalidOptionError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ExportOptions(**kwargs)


def test_unknown_option_keyword_is_named():
    with pytest.raises(
        InvalidOptionError, match="unknown export option.*'format'|format.*valid options"
    ):
        ExportOptions.from_kwargs({"format": ["onnx"]}, "make_exporting()")


def test_config_overrides_defaults_and_typos_are_named():
    defaults = ExportOptions(formats=("onnx",), on_error="warn")
    merged = defaults.with_config({"exporting": {"on_error": "raise", "policies": ["p1"]}})
    assert merged == ExportOptions(formats=("onnx",), on_error="raise", policies=("p1",))
    assert defaults.with_config({"lr": 1e-3}) is defaults
    with pytest.raises(InvalidOptionError, match="'fromats'"):
        defaults.with_config({"exporting": {"fromats": ["onnx"]}})
    with pytest.raises(InvalidOptionError, match="must be a dict"):
        defaults.with_config({"exporting": ["onnx"]})


def test_options_are_frozen_hashable_and_picklable():
    options = ExportOptions(formats=["onnx"], policies=["a", "b"])
    assert options.formats == ("onnx",) and options.policies == ("a", "b")
    assert hash(options) == hash(pickle.loads(pickle.dumps(options)))
    with pytest.raises(AttributeError):
        options.verify = False


def test_variants_keep_how_they_run_and_are_no_framework_default():
    onnx, actor, int8 = FORMATS["onnx"], FORMATS["onnx_actor"], FORMATS["onnx_int8"]
    assert actor.runtime == onnx.runtime == int8.runtime
    assert actor.sealed_by == onnx.sealed_by == int8.sealed_by
    assert int8.acting_only and int8.verify == "agreement" and onnx.verify == "outputs"
    assert FORMATS["keras"].whole_policy is FORMATS["h5"].whole_policy is False
    assert DEFAULT_FORMATS == {
        "torch": ("onnx", "torchscript", "safetensors"),
        "tf": ("savedmodel", "onnx"),
        "tf2": ("savedmodel", "onnx"),
    }
