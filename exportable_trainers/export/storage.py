"""Copy export directories to a (possibly remote) pyarrow filesystem, manifest last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract.manifest import MANIFEST_NAME


def upload_exports(local_root: Path, filesystem: Any, fs_root: str) -> list[str]:
    """Upload every ``<local_root>/<policy_id>/`` export to ``<fs_root>/<policy_id>/``.

    Object stores have no rename, so the order of operations keeps readers
    (who trust only directories with a manifest) from ever seeing a manifest
    that does not match its files: an existing manifest is deleted first, the
    files are copied, the new ``manifest.json`` is copied last, and files the
    new export no longer has are deleted after it.

    Args:
        local_root: A local ``export`` directory.
        filesystem: A pyarrow.fs.FileSystem (local, S3, GCS, ...).
        fs_root: Destination ``export`` directory path on that filesystem.

    Returns:
        The destination paths of the uploaded policy directories.
    """
    uploaded = []
    for export_dir in sorted(
        p for p in local_root.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        if (export_dir / MANIFEST_NAME).is_file():
            destination = f"{fs_root.rstrip('/')}/{export_dir.name}"
            _upload_one(export_dir, filesystem, destination)
            uploaded.append(destination)
    return uploaded


def _upload_one(export_dir: Path, filesystem: Any, destination: str) -> None:
    new = [
        p.relative_to(export_dir).as_posix()
        for p in sorted(export_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    ]
    old = _remote_files(filesystem, destination)
    if MANIFEST_NAME in old:
        _delete(filesystem, f"{destination}/{MANIFEST_NAME}")
    filesystem.create_dir(destination, recursive=True)
    for rel in [*new, MANIFEST_NAME]:
        _copy(export_dir / rel, filesystem, f"{destination}/{rel}")
    for rel in sorted(set(old) - set(new) - {MANIFEST_NAME}):
        _delete(filesystem, f"{destination}/{rel}")


def _remote_files(filesystem: Any, root: str) -> list[str]:
    import pyarrow.fs

    selector = pyarrow.fs.FileSelector(root, recursive=True, allow_not_found=True)
    prefix = root.rstrip("/") + "/"
    return [
        info.path[len(prefix) :] if info.path.startswith(prefix) else info.path
        for info in filesystem.get_file_info(selector)
        if info.type == pyarrow.fs.FileType.File
    ]


def _copy(source: Path, filesystem: Any, target: str) -> None:
    import pyarrow.fs

    filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
    pyarrow.fs.copy_files(str(source), target, destination_filesystem=filesystem)


def _delete(filesystem: Any, target: str) -> None:
    filesystem.delete_file(target)
