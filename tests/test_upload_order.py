"""Uploads to storage without rename: a reader never sees a manifest that does not match its files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.fs
import pytest

from exportable_trainers.export import storage


def _export(root: Path, files: dict[str, str], iteration: int) -> Path:
    export_dir = root / "export" / "default_policy"
    export_dir.mkdir(parents=True)
    for rel, text in files.items():
        (export_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (export_dir / rel).write_text(text)
    (export_dir / "manifest.json").write_text(json.dumps({"iteration": iteration}))
    return export_dir.parent


@pytest.fixture()
def recorded(monkeypatch):
    """The sequence of (operation, destination path relative to the export) the upload makes."""
    events: list[tuple[str, str]] = []
    copy, delete = storage._copy, storage._delete

    def record_copy(source, filesystem, target):
        events.append(("copy", target.rsplit("default_policy/", 1)[1]))
        copy(source, filesystem, target)

    def record_delete(filesystem, target):
        events.append(("delete", target.rsplit("default_policy/", 1)[1]))
        delete(filesystem, target)

    monkeypatch.setattr(storage, "_copy", record_copy)
    monkeypatch.setattr(storage, "_delete", record_delete)
    return events


def test_manifest_goes_last_and_an_old_one_first_and_stale_files_after(tmp_path, recorded):
    fs, remote = pyarrow.fs.LocalFileSystem(), tmp_path / "remote"
    first = _export(tmp_path / "a", {"model.onnx": "v1", "old.pt": "v1", "README.md": "v1"}, 1)
    storage.upload_exports(first, fs, str(remote))
    assert recorded[-1] == ("copy", "manifest.json")
    assert {e for e in recorded[:-1]} == {
        ("copy", "README.md"),
        ("copy", "model.onnx"),
        ("copy", "old.pt"),
    }

    recorded.clear()
    second = _export(tmp_path / "b", {"model.onnx": "v2", "README.md": "v2", "sub/x.bin": "v2"}, 2)
    storage.upload_exports(second, fs, str(remote))
    # The old manifest is gone before any file of the new export lands ...
    assert recorded[0] == ("delete", "manifest.json")
    copies = [e for e in recorded if e[0] == "copy"]
    manifest_at = recorded.index(("copy", "manifest.json"))
    # ... the new one comes after every file, and files the new export lacks go after it.
    assert copies[-1] == ("copy", "manifest.json")
    assert recorded[manifest_at + 1 :] == [("delete", "old.pt")]

    dest = remote / "default_policy"
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "README.md",
        "manifest.json",
        "model.onnx",
        "sub/x.bin",
    ]
    assert json.loads((dest / "manifest.json").read_text()) == {"iteration": 2}
    assert (dest / "model.onnx").read_text() == "v2"
