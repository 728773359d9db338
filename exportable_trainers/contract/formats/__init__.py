"""The export formats, registered from one list, keyed by name.

Each format is one module of this package declaring a :class:`~.spec.Format`:
its name, file name, which framework exporter method writes it, its runtime
and loader, how it is verified and its model-card section. Everything else
looks formats up here. This package imports no framework, so option
validation runs anywhere (class creation, config parsing, the CLI) at no cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from ...exceptions import InvalidOptionError
from . import h5, keras, onnx, onnx_actor, onnx_int8, safetensors, savedmodel, torchscript
from .spec import FRAMEWORKS, MIN_AGREEMENT, NATIVE_ALIAS, VERIFY_KINDS, Format, Runtime

# Bumped when a format's file layout or manifest record changes incompatibly.
PROTOCOL = 1

# Ray's ExportFormat.CHECKPOINT names the RLlib checkpoint itself, which is not a
# model format; it is only meaningful for Tune's end-of-trial export.
RAY_CHECKPOINT_FORMAT = "checkpoint"

# Registry order is the order of a framework's default formats.
_BUILTIN = (savedmodel, onnx, torchscript, safetensors, h5, keras, onnx_actor, onnx_int8)

FORMATS: dict[str, Format] = {}
ALIASES: dict[str, dict[str, str]] = {}
DEFAULT_FORMATS: dict[str, tuple[str, ...]] = {}

__all__ = [
    "ALIASES",
    "DEFAULT_FORMATS",
    "FORMATS",
    "FRAMEWORKS",
    "MIN_AGREEMENT",
    "PROTOCOL",
    "RAY_CHECKPOINT_FORMAT",
    "Format",
    "Runtime",
    "by_preference",
    "normalize_format_names",
    "register_format",
    "resolve_formats",
    "unregister_format",
]


def _derive() -> None:
    # Updated in place: other modules hold these dicts.
    ALIASES.clear()
    ALIASES[NATIVE_ALIAS] = {
        fw: f.name for f in FORMATS.values() for fw in f.native_for if fw in FRAMEWORKS
    }
    DEFAULT_FORMATS.clear()
    DEFAULT_FORMATS.update(
        {fw: tuple(n for n, f in FORMATS.items() if fw in f.default_for) for fw in FRAMEWORKS}
    )


def register_format(fmt: Format) -> Format:
    """Add a format (a test's, a plugin's) to the registry.

    Args:
        fmt: The format; its name must be new and its frameworks known.

    Raises:
        InvalidOptionError: The name is taken, or names a framework that does not exist.
    """
    if fmt.name in FORMATS or fmt.name in (NATIVE_ALIAS, RAY_CHECKPOINT_FORMAT):
        raise InvalidOptionError(f"format {fmt.name!r} is already registered")
    rel = PurePosixPath(fmt.path)
    if rel.is_absolute() or len(rel.parts) != 1 or rel.name in ("", ".", ".."):
        raise InvalidOptionError(
            f"format {fmt.name!r}: path {fmt.path!r} must be one plain file or directory "
            "name inside the export directory"
        )
    unknown = sorted(set(fmt.frameworks) - set(FRAMEWORKS))
    if unknown:
        raise InvalidOptionError(
            f"format {fmt.name!r} names unknown framework(s) {', '.join(unknown)}; "
            f"frameworks: {', '.join(FRAMEWORKS)}"
        )
    if fmt.verify not in VERIFY_KINDS:
        raise InvalidOptionError(
            f"format {fmt.name!r}: verify must be one of {', '.join(VERIFY_KINDS)}, "
            f"got {fmt.verify!r}"
        )
    if fmt.verify == "weights" and fmt.read_weights is None:
        raise InvalidOptionError(f"format {fmt.name!r} is verified by weights: give read_weights")
    FORMATS[fmt.name] = fmt
    _derive()
    return fmt


def unregister_format(name: str) -> None:
    """Remove a registered format (what a test registered)."""
    FORMATS.pop(name, None)
    _derive()


for _module in _BUILTIN:
    register_format(_module.FORMAT)


def by_preference(names: Iterable[str]) -> list[str]:
    """The loadable ones of ``names``, in load_policy's default order."""
    ranked = [n for n in names if n in FORMATS and FORMATS[n].preference is not None]
    return sorted(ranked, key=lambda n: FORMATS[n].preference)


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
