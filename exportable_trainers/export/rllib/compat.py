"""Where RLlib's API differs between the Ray releases this package supports (2.50 to 2.60).

Every version-dependent lookup lives here, so the adapters read one API.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


def flatten_keys_to_remove(connector: Any) -> Collection[str]:
    """The Dict keys an env-to-module FlattenObservations drops (none before Ray 2.5x's option)."""
    # Ray 2.60 moved FlattenObservations to connectors/common and added
    # keys_to_remove; Ray 2.50's connector has no such attribute.
    return getattr(connector, "_keys_to_remove", None) or ()
