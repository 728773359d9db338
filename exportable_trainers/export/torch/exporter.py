"""torch exporter: ONNX, TorchScript and safetensors for RLModules and TorchPolicies."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...contract.observations import batch_to_leaves, observation_leaves
from ...contract.recurrent import input_name, output_name
from ..framework_exporter import FrameworkExporter
from ..graph_common import quiet, replace_initializers, structure_key
from .graph import build_policy_graph, cpu_copy

ONNX_OPSET = 18
EXAMPLE_BATCH = 3  # > 1 so that the batch axis is never specialised to a constant
# torch.onnx.export's fixed choices: the dynamo exporter and one self-contained
# file. Unfolded weights keep their parameter names, so later checkpoints can
# reuse the graph; ONNX Runtime folds constants itself when it loads the model.
_ONNX_EXPORT_FLAGS = {"dynamo": True, "external_data": False, "optimize": False}


@contextlib.contextmanager
def _tracing() -> Iterator[None]:
    """Quiet converters, and torch.distributions without argument validation.

    Validation only raises on invalid parameters, and its checks depend on the
    data (``if not valid.all()``), which torch.export cannot trace; RLlib's old-stack
    distributions build torch.distributions objects with it on.
    """
    from torch.distributions import Distribution

    before = Distribution._validate_args
    Distribution.set_default_validate_args(False)
    try:
        with quiet("torch.onnx"):
            yield
    finally:
        Distribution.set_default_validate_args(before)


class OnnxTemplate:
    """A converted ONNX graph whose weights can be replaced without re-exporting.

    torch.onnx names each initializer after the parameter / buffer it holds.
    When every tensor the exported program reads appears as an initializer of
    the same name and shape, writing the next checkpoint only needs the new
    values; converting again would give the same graph.

    Args:
        model: The ONNX ModelProto of the first export.
        names: Initializer names to refresh from the graph's state_dict.
    """

    def __init__(self, model: Any, names: list[str]) -> None:
        self.model = model
        self.names = names

    @classmethod
    def from_program(
        cls, program: Any, state: dict[str, torch.Tensor], model: Any
    ) -> OnnxTemplate | None:
        """Build a template, or None when some weight was folded into other constants.

        Args:
            program: The ONNXProgram torch.onnx returned.
            state: The graph's state_dict.
            model: The ModelProto to keep (the program's, or its opset conversion).
        """
        exported = program.exported_program
        signature = exported.graph_signature
        if getattr(signature, "inputs_to_lifted_tensor_constants", None):
            # Tensors held outside registered parameters / buffers (e.g. weights of
            # a module the graph reaches only through a plain attribute) would keep
            # their first values: convert at every checkpoint instead.
            return None
        lifted = {**signature.inputs_to_parameters, **signature.inputs_to_buffers}
        read = {n.name for n in exported.graph.nodes if n.op == "placeholder" and n.users}
        used = [fqn for placeholder, fqn in lifted.items() if placeholder in read]
        inits = {init.name: init for init in model.graph.initializer}
        for name in used:
            init = inits.get(name)
            if init is None or name not in state or list(init.dims) != list(state[name].shape):
                return None
        return cls(model, used)

    def render(self, state: dict[str, torch.Tensor]) -> Any:
        """The model with the initializers taken from ``state``."""
        arrays = {name: state[name].detach().cpu().numpy() for name in self.names}
        return replace_initializers(self.model, arrays)


class TorchExporter(FrameworkExporter):
    """Exports new-stack RLModules and old-stack TorchPolicy models."""

    framework = ("torch",)

    def __init__(self, target: Any, cache: dict[str, Any], options: Any = None) -> None:
        super().__init__(target, cache, options)
        self.opset = self.options.onnx_opset or ONNX_OPSET
        if target.api_stack == "new":
            # Already a CPU copy fetched from the learner.
            self.graph = build_policy_graph(target)
            self.actor_graph = build_policy_graph(target, raw_outputs=[])
            step = self.graph.step
            self.net, self.net_prefix = (
                (step.module, "step.module.") if not len(step.shared) else (step, "step.")
            )
        else:
            model = cpu_copy(target.policy.model)
            self.graph = build_policy_graph(target, model)
            # The same model copy: the acting graph leaves out the raw outputs.
            self.actor_graph = build_policy_graph(target, model, raw_outputs=[])
            self.net, self.net_prefix = model, "step.model."
        space = target.observation_space
        samples = [space.sample() for _ in range(EXAMPLE_BATCH)]
        rng = np.random.default_rng(0)
        states = [
            torch.as_tensor(rng.normal(0.0, 0.5, (EXAMPLE_BATCH, *s["shape"])).astype(s["dtype"]))
            for s in target.state
        ]
        self.example = tuple(torch.from_numpy(x) for x in batch_to_leaves(space, samples)) + tuple(
            states
        )
        self.input_names = [name for name, _ in observation_leaves(space)] + [
            input_name(s["key"]) for s in target.state
        ]
        self.output_names = [*target.action_names, *target.raw_outputs] + [
            output_name(s["key"]) for s in target.state
        ]
        with torch.no_grad():
            self._example_out = self.graph(*self.example)

    def outputs(self) -> list[dict]:
        return [
            {"name": n, "shape": [None, *o.shape[1:]], "dtype": str(o.dtype).replace("torch.", "")}
            for n, o in zip(self.output_names, self._example_out)
        ]

    def write_onnx(self, path: Path) -> dict[str, Any]:
        """The policy graph as ONNX (torch.onnx), dynamic batch axis."""
        model, record = self._onnx(self.graph, self.output_names, "onnx")
        path.write_bytes(model.SerializeToString())
        return record

    def _actor_onnx(self) -> tuple[Any, dict[str, Any]]:
        return self._onnx(self.actor_graph, self.acting_names, "onnx_actor")

    def write_torchscript(self, path: Path) -> dict[str, Any]:
        """The policy graph traced to TorchScript."""
        batch = self._write_torchscript(path)
        return {} if batch is None else {"batch": batch}

    def write_safetensors(self, path: Path) -> dict[str, Any]:
        """The network's state_dict as safetensors."""
        from safetensors.torch import save_file

        save_file(self._net_state(), str(path), metadata=self._safetensors_metadata())
        return {"graph_prefix": self.net_prefix}

    def _other_batch(self) -> tuple[torch.Tensor, ...]:
        """The example inputs at another batch size (5 instead of 3)."""
        return tuple(torch.cat([x, x[:2]]) for x in self.example)

    def _agrees(self, run: Any, inputs: tuple[torch.Tensor, ...], graph: Any = None) -> bool:
        """Whether ``run`` (a converted graph) gives the eager graph's outputs on ``inputs``."""
        try:
            got = run(inputs)
        except Exception:
            return False
        with torch.no_grad():
            want = (graph or self.graph)(*inputs)
        return all(
            tuple(np.shape(g)) == tuple(w.shape)
            and np.allclose(np.asarray(g, np.float64), w.double().numpy(), atol=1e-5)
            for g, w in zip(got, want)
        )

    @contextlib.contextmanager
    def _live_weights_frozen(self) -> Iterator[None]:
        """Old stack: the live model's parameters without requires_grad while tracing.

        A model may reach its own live sub-modules through a closure (RLlib's
        autoregressive example does), which a copy cannot redirect; tracing then
        meets the live parameters. The export holds the policy's lock, so no
        training step runs meanwhile.
        """
        params = [] if self.target.policy is None else list(self.target.policy.model.parameters())
        flags = {p: p.requires_grad for p in params}  # tensors hash by identity
        for p in params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in flags.items():
                p.requires_grad_(flag)

    def _write_torchscript(self, path: Path) -> int | None:
        """Trace and save; return None, or 1 when tracing fixes the batch size.

        A graph that only runs one observation at a time still acts like RLlib;
        the loader then runs batches row by row (the manifest records ``batch: 1``).
        Saved inside the tracing context: constants taken from live parameters
        must not carry requires_grad into the file.
        """
        with _tracing(), torch.no_grad(), self._live_weights_frozen():
            traced = torch.jit.trace(self.graph, self.example, check_trace=False)
            batch = None
            if not self._agrees(lambda xs: [t.numpy() for t in traced(*xs)], self._other_batch()):
                one = tuple(x[:1] for x in self.example)
                traced, batch = torch.jit.trace(self.graph, one, check_trace=False), 1
            torch.jit.save(traced, str(path))
        return batch

    def weights(self) -> dict[str, Any]:
        return {k: v.numpy() for k, v in self._net_state().items()}

    def _net_state(self) -> dict[str, torch.Tensor]:
        # clone(): safetensors refuses tensors that share storage (tied weights).
        return {k: v.detach().cpu().clone().contiguous() for k, v in self.net.state_dict().items()}

    def _safetensors_metadata(self) -> dict[str, str]:
        return {
            "policy_id": self.target.policy_id,
            "network_class": f"{type(self.net).__module__}.{type(self.net).__qualname__}",
            "producer": "exportable_trainers",
        }

    def _onnx(self, graph: Any, output_names: list[str], slot: str) -> tuple[Any, dict[str, Any]]:
        """(ModelProto, manifest facts) of ``graph`` at the run's opset.

        Args:
            graph: The policy graph or the acting graph.
            output_names: Its output names.
            slot: The cache entry that keeps its converted template between checkpoints.
        """
        from ..onnx_files import default_opset, to_opset

        state = graph.state_dict()
        shapes = [(k, list(v.shape), str(v.dtype)) for k, v in state.items()]
        key = structure_key(self.target, self.input_names, shapes, output_names, self.opset)
        entry = self.cache.get(slot)
        reused = entry is not None and entry[0] == key and entry[1] is not None
        if reused:
            model, batch = entry[1].render(state), entry[2]
        else:
            program, batch = self._dynamo_onnx(graph, output_names)
            # torch.onnx converts below opset 18 itself, and keeps 18 where it cannot.
            model = to_opset(program.model_proto, self.opset, self.target.owner)
            template = OnnxTemplate.from_program(program, state, model)
            self.cache[slot] = (key, template, batch)
        record: dict[str, Any] = {"opset": default_opset(model), "graph_reused": reused}
        if batch is not None:
            record["batch"] = batch
        return model, record

    def _dynamo_onnx(self, graph: Any, output_names: list[str]) -> tuple[Any, int | None]:
        """torch.onnx.export through torch.export: (program, None) with a dynamic batch
        axis, or (program, 1) for one observation at a time when tracing fixes the batch
        size (see :meth:`_traced`)."""
        from ...load.runtimes.onnx import OnnxRunner

        batch = torch.export.Dim("batch")
        program = self._onnx_program(
            graph,
            output_names,
            self.example,
            dynamic_shapes=(tuple({0: batch} for _ in self.example),),
        )
        proto = program.model_proto
        fixed = any(
            i.type.tensor_type.shape.dim and i.type.tensor_type.shape.dim[0].HasField("dim_value")
            for i in proto.graph.input
        )
        if not fixed:
            runner = OnnxRunner(proto.SerializeToString())
            feeds = lambda xs: dict(zip(self.input_names, (x.numpy() for x in xs)))  # noqa: E731
            run = lambda xs: list(runner.run(feeds(xs)).values())  # noqa: E731
            if self._agrees(run, self._other_batch(), graph):
                return program, None
        one = tuple(x[:1] for x in self.example)
        return self._onnx_program(graph, output_names, one, dynamic_shapes=None), 1

    def _onnx_program(
        self, graph: Any, output_names: list[str], example: tuple, dynamic_shapes: Any
    ) -> Any:
        with _tracing(), self._live_weights_frozen():
            return torch.onnx.export(
                graph,
                example,
                input_names=self.input_names,
                output_names=output_names,
                # forward(*leaves): torch.export sees one var-positional argument.
                dynamic_shapes=dynamic_shapes,
                opset_version=self.opset,
                **_ONNX_EXPORT_FLAGS,
            )
