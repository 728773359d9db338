"""The README.md written into every export directory: how to load each format."""

from __future__ import annotations

from typing import Any

from ..contract.formats import FORMATS

README_NAME = "README.md"


def render_readme(manifest: dict[str, Any]) -> str:
    """Markdown describing the export and how to load each written format."""
    lines = [
        f"# Policy `{manifest['policy_id']}` at training iteration {manifest.get('training_iteration')}",
        "",
        f"Exported by exportable_trainers {manifest['producer']['version']} from "
        f"{manifest.get('algorithm')} ({manifest.get('framework')}, {manifest.get('api_stack')} API stack), "
        f"after {manifest.get('env_steps_sampled')} env steps.",
        "",
        "## Any format, without Ray",
        "",
        "```python",
        "from exportable_trainers import load_policy",
        'policy = load_policy(".")  # this directory',
        "action = policy.compute_action(observation)  # the action RLlib takes with explore=False",
        "```",
        "",
    ]
    for fmt, record in manifest["files"].items():
        if fmt in FORMATS:  # each format module writes its own section
            lines += [*FORMATS[fmt].card(record, manifest), ""]
    if manifest.get("recurrent"):
        lines += [
            "Recurrent policy: feed the `state_in.*` inputs (initial values in manifest.json) "
            "and pass the `state_out.*` outputs back at the next step.",
            "",
        ]
    return "\n".join(lines)
