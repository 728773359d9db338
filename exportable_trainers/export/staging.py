"""Write a directory under a hidden temporary name and rename it into place.

Readers ignore names starting with "."; the rename is atomic on one file
system, so an export is either absent or complete, even after SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

STAGING_MARK = ".staging-"
RETIRED_MARK = ".retired-"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename stays atomic
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(Path(dirpath))


def remove_leftovers(parent: Path) -> None:
    """Clean up after a process killed in the middle of :func:`staged_directory`.

    Staging directories are deleted. A retired directory is put back when its
    replacement never arrived (the kill fell between the two renames), so a
    complete export is never lost; otherwise it is deleted.
    """
    if not parent.is_dir():
        return
    for child in sorted(parent.iterdir()):
        if child.name.startswith(STAGING_MARK):
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(RETIRED_MARK):
            original = parent / child.name[len(RETIRED_MARK) :].rsplit("-", 1)[0]
            if original.exists():
                shutil.rmtree(child, ignore_errors=True)
            else:
                os.rename(child, original)


@contextlib.contextmanager
def staged_directory(final: Path) -> Iterator[Path]:
    """Yield an empty hidden directory; on success rename it to ``final``.

    An existing ``final`` is replaced: it is first renamed aside, so readers see
    the old directory, then nothing, then the new one, never a mixture.
    On an exception the staging directory is removed and ``final`` is untouched.
    """
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_MARK}{final.name}-", dir=parent))
    try:
        yield staging
        _fsync_tree(staging)
        retired = None
        if final.exists():
            retired = parent / f"{RETIRED_MARK}{final.name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, retired)
        os.rename(staging, final)
        _fsync_dir(parent)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
