"""The interface every framework exporter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from ..contract.formats import FORMATS
from .rllib.target import PolicyTarget


class FrameworkExporter(ABC):
    """Writes the formats of one policy target for one framework path.

    Subclasses build their graph from the target once (in ``__init__``) and then
    write each format on request.

    Args:
        target: The policy to export.
        cache: A dict owned by the algorithm that survives between checkpoints,
            for work that only depends on the architecture (e.g. a converted graph).
    """

    framework: ClassVar[tuple[str, ...]]

    def __init__(self, target: PolicyTarget, cache: dict[str, Any]) -> None:
        self.target = target
        self.cache = cache

    @abstractmethod
    def outputs(self) -> list[dict]:
        """Manifest ``outputs``: name, shape (None for the batch axis) and dtype of
        ``action`` followed by the raw outputs."""

    def network(self) -> dict | None:
        """Manifest ``network`` entry for formats that hold only the network, or None."""
        return None

    def write(self, fmt: str, directory: Path) -> dict[str, Any]:
        """Write format ``fmt`` into ``directory`` the way its format declares.

        A format names, per framework, either a method of the exporter or a
        function ``writer(exporter, path)``.

        Returns:
            Extra facts for the manifest's ``files`` entry (e.g. the ONNX opset).
        """
        spec = FORMATS[fmt]
        writer = spec.written_by.get(self.target.framework)
        if isinstance(writer, str):
            writer = getattr(type(self), writer, None)
        if writer is None:
            raise ValueError(
                f"{type(self).__name__} cannot write {fmt!r} "
                f"(written for {', '.join(sorted(spec.written_by)) or 'no framework'})"
            )
        return writer(self, directory / spec.path)

    def weights(self) -> dict[str, Any] | None:
        """The tensors a weights-only format must hold (numpy), if any."""
        return None

    def check(self, formats: tuple[str, ...]) -> None:
        """Raise now if one of ``formats`` cannot be written for this policy."""
        return None  # every format of the framework can be written unless overridden
