"""Export format names, their aliases and which framework can write each.

This module is pure data: it imports no framework, so option validation can run
anywhere (class creation, config parsing, the CLI) at no cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..exceptions import InvalidOptionError

FRAMEWORKS = ("torch", "tf", "tf2")


@dataclass(frozen=True)
class FormatInfo:
    """What one export format is and who can write and read it.

    Args:
        name: Canonical format name used in options and manifests.
        path: File or directory name inside an export directory.
        frameworks: RLlib frameworks whose policies can be written in this format.
        runtime: The package that loads the artifact without Ray.
        whole_policy: True when the artifact maps raw observations to actions on
            its own; False when it holds only the network (the loader then applies
            preprocessing and the action distribution from the manifest).
        description: One line for docs and error messages.
    """

    name: str
    path: str
    frameworks: frozenset[str]
    runtime: str
    whole_policy: bool
    description: str


FORMATS: dict[str, FormatInfo] = {
    f.name: f
    for f in (
        FormatInfo(
            "onnx",
            "model.onnx",
            frozenset(FRAMEWORKS),
            "onnxruntime",
            True,
            "ONNX graph: raw observations in, action and raw outputs out",
        ),
        FormatInfo(
            "torchscript",
            "model.pt",
            frozenset({"torch"}),
            "torch",
            True,
            "TorchScript module (torch.jit.load), same inputs and outputs as the ONNX graph",
        ),
        FormatInfo(
            "safetensors",
            "weights.safetensors",
            frozenset({"torch"}),
            "safetensors",
            False,
            "the network's weights (state_dict of the RLModule / ModelV2), no code",
        ),
        FormatInfo(
            "savedmodel",
            "savedmodel",
            frozenset({"tf", "tf2"}),
            "tensorflow",
            True,
            "TensorFlow SavedModel with a 'serving_default' signature",
        ),
        FormatInfo(
            "h5",
            "model.h5",
            frozenset({"tf", "tf2"}),
            "tf_keras",
            False,
            "Keras 2 HDF5 file of the policy network (tf_keras.models.load_model)",
        ),
        FormatInfo(
            "keras",
            "model.keras",
            frozenset({"tf", "tf2"}),
            "keras",
            False,
            "Keras 3 .keras file of the policy network (keras.saving.load_model)",
        ),
    )
}

# Ray Tune's ExportFormat names. "model" means the framework's native format.
NATIVE_FORMAT = {"torch": "torchscript", "tf": "savedmodel", "tf2": "savedmodel"}
ALIASES = {"model": NATIVE_FORMAT}

DEFAULT_FORMATS = {
    "torch": ("onnx", "torchscript", "safetensors"),
    "tf": ("savedmodel", "onnx"),
    "tf2": ("savedmodel", "onnx"),
}

# Ray's ExportFormat.CHECKPOINT names the RLlib checkpoint itself, which is not a
# model format; it is only meaningful for Tune's end-of-trial export.
RAY_CHECKPOINT_FORMAT = "checkpoint"


def _valid_names() -> str:
    return ", ".join(sorted(FORMATS)) + " (aliases: " + ", ".join(sorted(ALIASES)) + ")"


def normalize_format_names(formats: str | Iterable[str]) -> tuple[str, ...]:
    """Check format names without knowing the framework; keep aliases as given.

    Args:
        formats: One name or a sequence of names (case and surrounding space ignored).

    Returns:
        The lower-cased names, duplicates removed, order kept.

    Raises:
        InvalidOptionError: A name is unknown, or the sequence is empty.
    """
    if isinstance(formats, str):
        formats = [formats]
    try:
        names = [str(f).strip().lower() for f in formats]
    except TypeError:
        raise InvalidOptionError(
            f"formats must be a list of format names, got {formats!r}; "
            f"valid formats: {_valid_names()}"
        ) from None
    if not names:
        raise InvalidOptionError(f"formats is empty; valid formats: {_valid_names()}")
    for name in names:
        if name == RAY_CHECKPOINT_FORMAT:
            raise InvalidOptionError(
                "format 'checkpoint' is Ray's name for the RLlib checkpoint itself, which "
                "every checkpoint already is; it is only accepted by Tune's end-of-trial "
                f"export_formats. Valid export formats: {_valid_names()}"
            )
        if name not in FORMATS and name not in ALIASES:
            raise InvalidOptionError(
                f"unknown export format {name!r}; valid formats: {_valid_names()}"
            )
    return tuple(dict.fromkeys(names))


def resolve_formats(formats: str | Iterable[str] | None, framework: str) -> tuple[str, ...]:
    """Turn requested format names into canonical ones the framework can write.

    Args:
        formats: Requested names (aliases allowed) or None for the framework default.
        framework: "torch", "tf" or "tf2".

    Raises:
        InvalidOptionError: Unknown framework, unknown format, or a format the
            framework cannot write (e.g. "h5" with torch).
    """
    if framework not in FRAMEWORKS:
        raise InvalidOptionError(
            f"unsupported framework {framework!r}; exportable_trainers supports "
            + ", ".join(FRAMEWORKS)
        )
    if formats is None:
        return DEFAULT_FORMATS[framework]
    resolved = []
    for name in normalize_format_names(formats):
        canonical = ALIASES[name][framework] if name in ALIASES else name
        info = FORMATS[canonical]
        if framework not in info.frameworks:
            possible = sorted(n for n, f in FORMATS.items() if framework in f.frameworks)
            raise InvalidOptionError(
                f"export format {name!r} cannot be written for framework={framework!r} "
                f"({info.description}; it needs {' or '.join(sorted(info.frameworks))}). "
                f"Formats for {framework}: {', '.join(possible)}"
            )
        resolved.append(canonical)
    return tuple(dict.fromkeys(resolved))
