"""Small helpers the format modules' model-card sections share."""

from __future__ import annotations

from collections.abc import Callable


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


def network_card(title: str, loader: str) -> Callable[[dict, dict], list[str]]:
    """The card of a network-only Keras file: what it takes, what it gives, how to open it.

    Args:
        title: The section heading.
        loader: Python lines ending in the call that opens the file (its path follows).
    """

    def card(record: dict, manifest: dict) -> list[str]:
        return _network_section(title, loader, record["path"], manifest)

    return card


def _network_section(title: str, loader: str, path: str, manifest: dict) -> list[str]:
    network = manifest.get("network") or {}
    return [
        f"## {title}",
        "",
        "The network only: its input is the preprocessed observation "
        f"(see `preprocessing` in manifest.json); its outputs are {names(network.get('outputs', []))}. "
        "`load_policy` adds the preprocessing and the action.",
        "",
        "```python",
        f'{loader}("{path}", compile=False)',
        "```",
    ]
