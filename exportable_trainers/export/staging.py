"""Write a directory under a hidden temporary name and rename it into place.

Readers ignore names starting with "."; the rename is atomic on one file
system, so an export is either absent or complete, even after SIGKILL.
Several writers may export into one checkpoint at once (training and
``exportable-trainers export --force``): each names its hidden directories
after itself (host and pid), publishes under an exclusive lock, and cleans up
only what a dead writer left.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

STAGING_MARK = ".staging-"
RETIRED_MARK = ".retired-"
# A hidden directory of a writer on another host is only taken for a leftover
# once it is this old (its liveness cannot be checked from here).
FOREIGN_LEFTOVER_AGE_S = 24 * 3600
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _owner() -> str:
    return f"{_HOST}.{os.getpid()}"


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


def _is_leftover(child: Path) -> bool:
    """Whether a hidden directory's writer is gone (so it may be cleaned up)."""
    parts = child.name.rsplit("-", 2)
    owner = parts[1].split(".") if len(parts) == 3 else []
    if len(owner) != 2 or not owner[1].isdigit():
        return True  # not named by any live writer of this version
    host, pid = owner[0], int(owner[1])
    if host != _HOST:
        try:
            return time.time() - child.stat().st_mtime > FOREIGN_LEFTOVER_AGE_S
        except OSError:
            return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


@contextlib.contextmanager
def _publish_lock(parent: Path) -> Iterator[None]:
    # Retire-then-rename is two steps: one writer at a time, so two publishing
    # writers never see each other's half-done swap. The lock is on the
    # directory itself, so no lock file is left behind.
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_leftovers(parent: Path) -> None:
    """Clean up after a writer killed in the middle of :func:`staged_directory`.

    Staging directories of dead writers are deleted; those of live writers are
    left alone. A dead writer's retired directory is put back when its
    replacement never arrived (the kill fell between the two renames), so a
    complete export is never lost; otherwise it is deleted.
    """
    if not parent.is_dir():
        return
    with _publish_lock(parent):
        for child in sorted(parent.iterdir()):
            if not child.name.startswith((STAGING_MARK, RETIRED_MARK)) or not _is_leftover(child):
                continue
            if child.name.startswith(STAGING_MARK):
                shutil.rmtree(child, ignore_errors=True)
                continue
            original = parent / child.name[len(RETIRED_MARK) :].rsplit("-", 2)[0]
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
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_MARK}{final.name}-{_owner()}-", dir=parent))
    try:
        yield staging
        _fsync_tree(staging)
        with _publish_lock(parent):
            retired = None
            if final.exists():
                retired = parent / f"{RETIRED_MARK}{final.name}-{_owner()}-{uuid.uuid4().hex[:8]}"
                os.rename(final, retired)
            os.rename(staging, final)
            _fsync_dir(parent)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
