"""TorchScript: the whole policy as a traced torch module (torch.jit.load)."""

from __future__ import annotations

from .examples import names
from .spec import Format, Runtime


def card(record: dict, manifest: dict) -> list[str]:
    """The README section: positional inputs, the output tuple and a torch.jit snippet."""
    args = ", ".join(i["name"].replace(".", "_") for i in manifest["inputs"])
    return [
        "## TorchScript (torch)",
        "",
        f"Positional inputs {names(manifest['inputs'])}; returns the tuple "
        f"{names(manifest['outputs'])}.",
        "",
        "```python",
        "import torch",
        f'module = torch.jit.load("{record["path"]}", map_location="cpu")',
        f"outputs = module({args})  # tensors with the batch axis first",
        "```",
    ]


FORMAT = Format(
    name="torchscript",
    path="model.pt",
    description="TorchScript module (torch.jit.load), same inputs and outputs as the ONNX graph",
    written_by={"torch": "write_torchscript"},
    whole_policy=True,
    runtime=Runtime("torch", "torch", "exportable_trainers.load.runtimes.torchscript:load"),
    verify="outputs",
    card=card,
    native_for=frozenset({"torch"}),
    default_for=frozenset({"torch"}),
    preference=1,
)
