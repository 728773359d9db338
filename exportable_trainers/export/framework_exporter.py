"""The interface every framework exporter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from ..contract.formats import FORMATS
from ..contract.recurrent import output_name
from .options import ExportOptions
from .rllib.target import PolicyTarget


class FrameworkExporter(ABC):
    """Writes the formats of one policy target for one framework path.

    Subclasses build their graph from the target once (in ``__init__``) and then
    write each format on request.

    Args:
        target: The policy to export.
        cache: A dict owned by the algorithm that survives between checkpoints,
            for work that only depends on the architecture (e.g. a converted graph).
        options: The run's export options (``onnx_opset``); default: the defaults.
    """

    framework: ClassVar[tuple[str, ...]]

    def __init__(
        self, target: PolicyTarget, cache: dict[str, Any], options: ExportOptions | None = None
    ) -> None:
        self.target = target
        self.cache = cache
        self.options = options or ExportOptions()
        self._actor: tuple[Any, dict[str, Any]] | None = None

    @property
    def acting_names(self) -> list[str]:
        """The outputs of the acting graph: action leaves, then the next state."""
        return [*self.target.action_names, *(output_name(s["key"]) for s in self.target.state)]

    def _actor_onnx(self) -> tuple[Any, dict[str, Any]]:
        """(ModelProto, manifest facts) of the acting graph at the run's opset."""
        raise NotImplementedError

    def actor_onnx(self) -> tuple[Any, dict[str, Any]]:
        """The acting graph as ONNX, converted once per export and shared by its formats."""
        if self._actor is None:
            model, facts = self._actor_onnx()
            self._actor = (model, {**facts, "outputs": self.acting_names})
        return self._actor

    def write_onnx_actor(self, path: Path) -> dict[str, Any]:
        """The acting graph: raw observation (+ state) in, action (+ state) out."""
        model, facts = self.actor_onnx()
        path.write_bytes(model.SerializeToString())
        return dict(facts)

    def write_onnx_int8(self, path: Path) -> dict[str, Any]:
        """The acting graph with int8 weights."""
        from .onnx_files import quantize_int8

        model, facts = self.actor_onnx()
        return {**facts, **quantize_int8(model, path)}

    @abstractmethod
    def outputs(self) -> list[dict]:
        """Manifest ``outputs``: name, shape (None for the batch axis) and dtype of
        ``action`` followed by the raw outputs."""

    def network(self) -> dict | None:
        """Manifest ``network`` entry for formats that hold only the network, or None."""
        return None

    def write(self, fmt: str, directory: Path) -> dict[str, Any]:
        """Write format ``fmt`` into ``directory`` the way its format declares.

        A format names either a method of the exporter (``write_<name>`` unless
        it says otherwise) or a function ``writer(exporter, path)``.

        Returns:
            Extra facts for the manifest's ``files`` entry (e.g. the ONNX opset).
        """
        spec = FORMATS[fmt]
        writer = spec.writer or f"write_{spec.name}"
        if isinstance(writer, str):
            writer = getattr(type(self), writer, None)
        if writer is None or self.target.framework not in spec.frameworks:
            raise ValueError(
                f"{type(self).__name__} cannot write {fmt!r} "
                f"(written for {', '.join(sorted(spec.frameworks)) or 'no framework'})"
            )
        return writer(self, directory / spec.path)

    def weights(self) -> dict[str, Any] | None:
        """The tensors a weights-only format must hold (numpy), if any."""
        return None

    def check(self, formats: tuple[str, ...]) -> None:
        """Raise now if one of ``formats`` cannot be written for this policy."""
        return None  # every format of the framework can be written unless overridden
