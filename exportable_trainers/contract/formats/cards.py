"""The model-card pieces the format modules share: one section shape, input names, example feeds."""

from __future__ import annotations

from collections.abc import Callable


def section(title: str, text: str, code: list[str]) -> list[str]:
    """One README section: a heading, a paragraph and a Python snippet.

    Args:
        title: The heading, without the ``##``.
        text: The paragraph (Markdown).
        code: The snippet's lines.
    """
    return [f"## {title}", "", text, "", "```python", *code, "```"]


def example_feeds(manifest: dict) -> str:
    """A Python dict literal of zero inputs for one observation, named as the manifest's inputs."""
    parts = []
    for spec in manifest["inputs"]:
        shape = tuple(1 if d is None else d for d in spec["shape"])
        parts.append(f'"{spec["name"]}": np.zeros({shape}, np.{spec["dtype"]})')
    return "{" + ", ".join(parts) + "}"


def names(entries: list[dict]) -> str:
    """``a``, ``b``: the names of manifest inputs or outputs, in backticks."""
    return ", ".join(f"`{e['name']}`" for e in entries)


def network_card(title: str, module: str, opener: str) -> Callable[[dict, dict], list[str]]:
    """The card of a network-only Keras file: what it takes, what it gives, how to open it.

    Args:
        title: The section heading.
        module: The module to import.
        opener: The call that opens the file (``module.function``).
    """

    def card(record: dict, manifest: dict) -> list[str]:
        outputs = names((manifest.get("network") or {}).get("outputs", []))
        text = (
            "The network only: its input is the preprocessed observation "
            f"(see `preprocessing` in manifest.json); its outputs are {outputs}. "
            "`load_policy` adds the preprocessing and the action."
        )
        opens = f'model = {opener}("{record["path"]}", compile=False)'
        return section(title, text, [f"import {module}", opens])

    return card
