"""Copy export directories to a (possibly remote) pyarrow filesystem, manifest last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract.manifest import MANIFEST_NAME


def upload_exports(local_root: Path, filesystem: Any, fs_root: str) -> list[str]:
    """Upload every ``<local_root>/<policy_id>/`` export to ``<fs_root>/<policy_id>/``.

    Files go first and ``manifest.json`` last, so a reader of the destination
    (which only trusts directories with a manifest) never sees a partial export,
    also on object stores that have no rename.

    Args:
        local_root: A local ``export`` directory.
        filesystem: A pyarrow.fs.FileSystem (local, S3, GCS, ...).
        fs_root: Destination ``export`` directory path on that filesystem.

    Returns:
        The destination paths of the uploaded policy directories.
    """
    import pyarrow.fs

    uploaded = []
    for export_dir in sorted(
        p for p in local_root.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        if not (export_dir / MANIFEST_NAME).is_file():
            continue
        destination = f"{fs_root.rstrip('/')}/{export_dir.name}"
        filesystem.create_dir(destination, recursive=True)
        files = sorted(p for p in export_dir.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
        for path in [*files, export_dir / MANIFEST_NAME]:
            target = f"{destination}/{path.relative_to(export_dir).as_posix()}"
            filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
            pyarrow.fs.copy_files(str(path), target, destination_filesystem=filesystem)
        uploaded.append(destination)
    return uploaded
