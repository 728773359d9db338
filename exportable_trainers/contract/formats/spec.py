"""What a format module declares: one :class:`Format`, its runtime and its model-card section."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

# Ray Tune's ExportFormat name for "the framework's native format".
NATIVE_ALIAS = "model"

FRAMEWORKS = ("torch", "tf", "tf2")
TORCH = frozenset({"torch"})
TF = frozenset({"tf", "tf2"})
ANY_FRAMEWORK = frozenset(FRAMEWORKS)

# The share of actions a format verified by "agreement" must take as RLlib does.
MIN_AGREEMENT = 0.99
VERIFY_KINDS = ("outputs", "agreement", "weights")


@dataclass(frozen=True)
class Runtime:
    """The package that runs a format without Ray.

    Args:
        package: Import name of the runtime (checked with ``find_spec``).
        extra: The pip extra of exportable_trainers that installs it.
        loader: ``"module:function"``; the function takes (path, manifest,
            format name) and returns a runner with ``run(feeds, outputs=None)``.
    """

    package: str
    extra: str
    loader: str


@dataclass(frozen=True)
class Format:
    """One export format: everything the export and load sides know about it.

    Args:
        name: Canonical name used in options and manifests.
        path: File or directory name inside an export directory.
        frameworks: The frameworks ("torch", "tf", "tf2") whose policies it is
            written for.
        description: One line for docs and error messages.
        card: ``card(record, manifest) -> list of Markdown lines`` for the
            export's README.
        writer: How the framework exporter writes it: the name of one of its
            methods, ``method(path) -> dict``, or a function
            ``writer(exporter, path) -> dict`` (the dict: extra facts for the
            manifest's ``files`` entry). None: the method ``write_<name>``.
        whole_policy: True when the artifact maps raw observations to actions
            on its own; False when it holds only the network (the loader then
            applies the preprocessing and the action head from the manifest).
        runtime: How it is loaded, or None for files no runtime executes.
        verify: "outputs" (run it and compare with RLlib), "agreement" (run
            it; at least ``MIN_AGREEMENT`` of its actions must equal RLlib's,
            continuous ones within the ``int8_atol`` option) or "weights" (the
            tensors must equal the network's).
        read_weights: For verify="weights": ``read_weights(path) -> {name: array}``.
        native_for: Frameworks whose "native format" (Ray's "model") this is.
        default_for: Frameworks that write it when no formats are given.
        preference: load_policy's order when no format is given (lower first);
            None: never chosen by default.
        acting_only: The artifact gives the action and next state only (no raw
            outputs such as logits or values).
        sealed_by: ``"module:function"``, ``seal(path, contract) -> dict``, run
            after the file is written and before it is hashed: embeds the
            contract in the file and checks it (the dict: extra manifest facts).
    """

    name: str
    path: str
    frameworks: frozenset[str]
    description: str
    card: Callable[[dict, dict], list[str]]
    writer: str | Callable[[Any, Any], dict] | None = None
    whole_policy: bool = True
    runtime: Runtime | None = None
    verify: str = "outputs"
    read_weights: Callable[[Any], dict[str, Any]] | None = None
    native_for: frozenset[str] = field(default_factory=frozenset)
    default_for: frozenset[str] = field(default_factory=frozenset)
    preference: int | None = None
    acting_only: bool = False
    sealed_by: str | None = None

    def variant(self, **changes: Any) -> Format:
        """This format with ``changes`` (a new name at least); never a default of any framework.

        Args:
            changes: Fields to replace, as for :func:`dataclasses.replace`.
        """
        return replace(self, **{"native_for": frozenset(), "default_for": frozenset(), **changes})


def resolve_reference(reference: str) -> Any:
    """The object a ``"module:name"`` reference names (its module imported now)."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)
