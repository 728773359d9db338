"""Two writers exporting into one checkpoint at once (training and ``export --force``).

Each writer cleans up leftovers before it exports, as the pipeline does. Before
writers named their hidden directories after themselves, one writer's clean-up
deleted the other's staging directory mid-write and its export failed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import time
from pathlib import Path

from exportable_trainers.export.staging import remove_leftovers, staged_directory

ROUNDS = 40


def _writer(final: str, tag: str, start, errors) -> None:
    final_path = Path(final)
    rng = random.Random(tag)
    start.wait()
    for i in range(ROUNDS):
        try:
            remove_leftovers(final_path.parent)
            with staged_directory(final_path) as staging:
                (staging / "model.onnx").write_text(f"{tag}-{i}")
                time.sleep(rng.uniform(0, 0.004))
                (staging / "manifest.json").write_text(f"{tag}-{i}")
        except Exception as e:  # reported to the parent: any failure fails the test
            errors.put(f"{tag} round {i}: {type(e).__name__}: {e}")


def _read_one_directory(path: Path) -> tuple[str, str]:
    # Through a descriptor of the directory: both files come from the same
    # directory even if a writer renames it away in between.
    fd = os.open(path, os.O_RDONLY)
    try:
        texts = []
        for name in ("model.onnx", "manifest.json"):
            f = os.open(name, os.O_RDONLY, dir_fd=fd)
            try:
                texts.append(os.read(f, 100).decode())
            finally:
                os.close(f)
        return texts[0], texts[1]
    finally:
        os.close(fd)


def test_two_writers_never_fail_each_other_and_leave_one_complete_export(tmp_path):
    final = tmp_path / "export" / "default_policy"
    ctx = multiprocessing.get_context("spawn")
    start, errors = ctx.Event(), ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(str(final), t, start, errors)) for t in "AB"]
    for w in writers:
        w.start()
    start.set()
    seen = []
    while any(w.is_alive() for w in writers):
        # A reader sees nothing or one writer's complete export, never a mixture.
        with contextlib.suppress(FileNotFoundError):
            seen.append(_read_one_directory(final))
    for w in writers:
        w.join()
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert not failures, failures
    assert all(model == manifest for model, manifest in seen), [s for s in seen if s[0] != s[1]]
    assert (final / "model.onnx").read_text() == (final / "manifest.json").read_text()
    leftovers = [p.name for p in final.parent.iterdir() if p.name != "default_policy"]
    assert not leftovers, leftovers
