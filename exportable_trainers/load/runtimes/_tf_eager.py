"""Run TensorFlow code eagerly, also inside a process that disabled eager execution.

A tf1 (graph-mode) RLlib process verifies its exports with the same runtimes
users load them with; those runtimes need eager execution.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def eager() -> Iterator[None]:
    """Eager execution for the duration (a no-op where it is already on)."""
    import tensorflow as tf

    if tf.executing_eagerly():
        yield
        return
    from tensorflow.python.eager import context

    with context.eager_mode():
        yield
