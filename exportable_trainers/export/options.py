"""Export options: defaults given to make_exporting, overridden per run by the config."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..contract.formats import normalize_format_names, resolve_formats
from ..exceptions import InvalidOptionError

ON_ERROR_CHOICES = ("warn", "raise")

# The opsets every ONNX path reaches: tf2onnx tests 14-18; torch.onnx writes 18
# and converts down with onnx's version converter.
ONNX_OPSETS = range(14, 19)
# The formats judged on agreement (see contract.formats), which verify=False cannot judge.
AGREEMENT_FORMATS = ("onnx_int8",)

# The algorithm-config key whose dict overrides the class defaults, e.g. in a
# Tune param_space: {"exporting": {"formats": ["onnx"], "on_error": "raise"}}.
CONFIG_KEY = "exporting"


def check_policy_id(policy_id: Any) -> str:
    """Return ``policy_id`` if it is safe as a directory name, else raise.

    Args:
        policy_id: A policy / module id.

    Raises:
        InvalidOptionError: Not a string, empty, starting with "." (hidden, and
            "." / ".."), or holding a path separator or NUL character.
    """
    if not isinstance(policy_id, str):
        raise InvalidOptionError(
            f"policy id {policy_id!r} is a {type(policy_id).__name__}; policy ids must be "
            "strings to become export directory names"
        )
    if not policy_id.strip() or policy_id.startswith(".") or any(c in policy_id for c in "/\\\0"):
        raise InvalidOptionError(
            f"policy id {policy_id!r} cannot be used as an export directory name; a policy "
            "id must be non-empty, not start with '.', and hold no '/', '\\' or NUL character"
        )
    return policy_id


@dataclass(frozen=True)
class ExportOptions:
    """What to export at each checkpoint and how strictly.

    Args:
        formats: Format names (aliases allowed); None means the framework's defaults.
        policies: Policy / module ids to export; None means every trained one.
        verify: Run every written artifact on sampled observations and compare it
            with the live policy before publishing the export.
        on_error: "warn" logs a failed export and training goes on; "raise" fails
            the checkpoint save.
        atol: Absolute tolerance of the verification.
        rtol: Relative tolerance of the verification.
        onnx_opset: The default-domain opset every ONNX file of the run targets
            (14 to 18); None: each exporter's own (torch 18, tf2onnx 17).
        int8_atol: How far a continuous action of ``onnx_int8`` may be from the
            live policy's and still count as agreeing (discrete actions must be equal).
    """

    formats: tuple[str, ...] | None = None
    policies: tuple[str, ...] | None = None
    verify: bool = True
    on_error: str = "warn"
    atol: float = 1e-5
    rtol: float = 1e-5
    onnx_opset: int | None = None
    int8_atol: float = 0.05

    def __post_init__(self) -> None:
        if self.formats is not None:
            object.__setattr__(self, "formats", normalize_format_names(self.formats))
        if self.policies is not None:
            policies = [self.policies] if isinstance(self.policies, str) else self.policies
            try:
                policies = tuple(dict.fromkeys(check_policy_id(p) for p in policies))
            except TypeError:
                raise InvalidOptionError(
                    f"policies must be a list of policy ids, got {self.policies!r}"
                ) from None
            if not policies:
                raise InvalidOptionError("policies is empty; give None to export every policy")
            object.__setattr__(self, "policies", policies)
        if not isinstance(self.verify, bool):
            raise InvalidOptionError(f"verify must be True or False, got {self.verify!r}")
        if self.on_error not in ON_ERROR_CHOICES:
            raise InvalidOptionError(
                f"on_error={self.on_error!r} is not valid; choose one of "
                + ", ".join(repr(c) for c in ON_ERROR_CHOICES)
            )
        if self.onnx_opset is not None and (
            isinstance(self.onnx_opset, bool)
            or not isinstance(self.onnx_opset, int)
            or self.onnx_opset not in ONNX_OPSETS
        ):
            raise InvalidOptionError(
                f"onnx_opset={self.onnx_opset!r} is not supported; give an int from "
                f"{ONNX_OPSETS.start} to {ONNX_OPSETS.stop - 1} (the opsets both torch.onnx and "
                "tf2onnx reach), or None for each exporter's default"
            )
        judged = [f for f in self.formats or () if f in AGREEMENT_FORMATS]
        if judged and not self.verify:
            raise InvalidOptionError(
                f"format(s) {', '.join(judged)} are kept only when their actions agree with the "
                "live policy's, which only verification measures; verify=False cannot judge "
                "them: set verify=True or leave them out"
            )
        for name in ("atol", "rtol", "int8_atol"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise InvalidOptionError(f"{name} must be a finite number >= 0, got {value!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all options."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], where: str) -> ExportOptions:
        """Build options from keyword arguments, naming unknown ones.

        Args:
            kwargs: Option names to values.
            where: Where the options came from, for error messages.
        """
        cls._check_known(kwargs, where)
        return cls(**kwargs)

    @classmethod
    def _check_known(cls, names: Mapping[str, Any], where: str) -> None:
        unknown = sorted(set(names) - set(cls.field_names()))
        if unknown:
            raise InvalidOptionError(
                f"unknown export option(s) {', '.join(map(repr, unknown))} in {where}; "
                "valid options: " + ", ".join(cls.field_names())
            )

    def replace(self, **changes: Any) -> ExportOptions:
        """Return a copy with some options changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_config(self, config: Any) -> ExportOptions:
        """Apply the ``exporting`` dict found on an AlgorithmConfig or config dict.

        Args:
            config: An AlgorithmConfig (attribute ``exporting``) or a plain dict
                (key ``"exporting"``); a missing or None value changes nothing.
        """
        if isinstance(config, Mapping):
            overrides = config.get(CONFIG_KEY)
        else:
            overrides = getattr(config, CONFIG_KEY, None)
        if overrides is None:
            return self
        if isinstance(overrides, ExportOptions):
            return overrides
        if not isinstance(overrides, Mapping):
            raise InvalidOptionError(
                f"config[{CONFIG_KEY!r}] must be a dict of export options, got "
                f"{overrides!r}; valid keys: " + ", ".join(self.field_names())
            )
        self._check_known(overrides, f"config[{CONFIG_KEY!r}]")
        return self.replace(**overrides)

    def formats_for(self, framework: str) -> tuple[str, ...]:
        """Canonical formats to write for ``framework`` (raises if impossible)."""
        return resolve_formats(self.formats, framework)

    def as_dict(self) -> dict[str, Any]:
        """Options as plain data (for manifests and pickling)."""
        return dataclasses.asdict(self)
