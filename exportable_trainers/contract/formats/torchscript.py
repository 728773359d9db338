"""TorchScript: the whole policy as a traced torch module (torch.jit.load)."""

from __future__ import annotations

from .cards import names, section
from .spec import TORCH, Format, Runtime


def card(record: dict, manifest: dict) -> list[str]:
    """The README section: positional inputs, the output tuple and a torch.jit snippet."""
    args = ", ".join(i["name"].replace(".", "_") for i in manifest["inputs"])
    text = (
        f"Positional inputs {names(manifest['inputs'])}; returns the tuple "
        f"{names(manifest['outputs'])}."
    )
    code = [
        "import torch",
        f'module = torch.jit.load("{record["path"]}", map_location="cpu")',
        f"outputs = module({args})  # tensors with the batch axis first",
    ]
    return section("TorchScript (torch)", text, code)


# fmt: off
FORMAT = Format(
    name="torchscript", path="model.pt", frameworks=TORCH, preference=1,
    native_for=TORCH, default_for=TORCH,
    description="TorchScript module (torch.jit.load), same inputs and outputs as the ONNX graph",
    runtime=Runtime("torch", "torch", "exportable_trainers.load.runtimes.torchscript:load"),
    card=card,
)
# fmt: on
