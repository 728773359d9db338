"""The export manifest: a versioned JSON file, written last, naming what to load.

An export directory is complete exactly when its ``manifest.json`` exists and
every file it lists has the recorded sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..exceptions import ExportNotFoundError, IntegrityError, ManifestError
from .ops import STEPS

MANIFEST_NAME = "manifest.json"
PROTOCOL = 1
EXPORT_DIRNAME = "export"

# Keys every manifest of this protocol has; readers check them before use.
REQUIRED_KEYS = (
    "protocol",
    "policy_id",
    "framework",
    "api_stack",
    "algorithm",
    "training_iteration",
    "observation_space",
    "action_space",
    "inputs",
    "outputs",
    "files",
    "status",
)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of one file, or of every file below a directory (sorted walk)."""
    h = hashlib.sha256()
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            h.update(f.relative_to(path).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


def size_bytes(path: str | os.PathLike) -> int:
    """Bytes of a file, or of every file below a directory."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def resolve_inside(export_dir: str | os.PathLike, relpath: str, what: str) -> Path:
    """The path of ``relpath`` under ``export_dir``, refused if it leads outside.

    Symlinks are resolved, for the path itself and for everything below it
    when it is a directory, so a link to a file elsewhere is refused even when
    that file has the recorded content.

    Args:
        export_dir: The export directory.
        relpath: A path read from (or written into) its manifest.
        what: What the path is, for the message (``files['onnx']``, ``readme``).

    Raises:
        ManifestError: The path is absolute, or it or a link below it resolves
            outside ``export_dir``.
    """
    root = Path(export_dir).resolve()
    if Path(relpath).is_absolute():
        raise ManifestError(f"{root}: {what} path {relpath!r} is absolute; it must be relative")
    path = root / relpath
    below = sorted(path.rglob("*")) if path.is_dir() and not path.is_symlink() else []
    for candidate in [path, *below]:
        target = candidate.resolve()
        if target != root and root not in target.parents:
            raise ManifestError(
                f"{root}: {what} path {relpath!r} leaves the export directory "
                f"({candidate.relative_to(root)} resolves to {target})"
            )
    return path


def file_record(export_dir: Path, relpath: str, **extra: Any) -> dict[str, Any]:
    """The ``files`` entry for one written artifact."""
    full = resolve_inside(export_dir, relpath, "written file")
    return {"path": relpath, "sha256": sha256_file(full), "bytes": size_bytes(full), **extra}


def write_manifest(export_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` (strict JSON, fsynced) into ``export_dir``."""
    path = export_dir / MANIFEST_NAME
    text = json.dumps(manifest, indent=2, sort_keys=False, allow_nan=False)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path


def _check_record(rec: Any, what: str, source: str) -> None:
    """A file record: ``path`` and ``sha256`` strings, the path relative and inside."""
    if not (
        isinstance(rec, dict)
        and isinstance(rec.get("path"), str)
        and isinstance(rec.get("sha256"), str)
    ):
        raise ManifestError(f"{source}: {what} must have 'path' and 'sha256' strings")
    rel = Path(rec["path"])
    if rel.is_absolute() or ".." in rel.parts:
        raise ManifestError(f"{source}: {what} path {rec['path']!r} leaves the export directory")


def validate_manifest(data: Any, source: str) -> dict[str, Any]:
    """Check a parsed manifest against the protocol this package reads.

    Args:
        data: The parsed JSON.
        source: Where it came from, for error messages.

    Raises:
        ManifestError: Not an object, a newer or unknown protocol, or missing keys.
    """
    if not isinstance(data, dict):
        raise ManifestError(
            f"{source}: a manifest must be a JSON object, got {type(data).__name__}"
        )
    protocol = data.get("protocol")
    if not isinstance(protocol, int) or isinstance(protocol, bool):
        raise ManifestError(f"{source}: 'protocol' must be an integer, got {protocol!r}")
    if protocol > PROTOCOL:
        raise ManifestError(
            f"{source}: manifest protocol {protocol} is newer than this exportable_trainers "
            f"reads (protocol <= {PROTOCOL}); upgrade exportable_trainers"
        )
    if protocol < 1:
        raise ManifestError(f"{source}: unknown manifest protocol {protocol}")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ManifestError(f"{source}: manifest lacks required key(s): {', '.join(missing)}")
    if not isinstance(data["files"], dict):
        raise ManifestError(f"{source}: 'files' must map format names to file records")
    for fmt, rec in data["files"].items():
        _check_record(rec, f"files[{fmt!r}]", source)
    steps = data.get("preprocessing") or []
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise ManifestError(f"{source}: 'preprocessing' must be a list of step objects")
    unknown = [step.get("op") for step in steps if step.get("op") not in STEPS]
    if unknown:
        raise ManifestError(
            f"{source}: unknown preprocessing step(s) {', '.join(map(repr, unknown))}; "
            f"this exportable_trainers knows: {', '.join(STEPS)}"
        )
    if data.get("readme") is not None:
        _check_record(data["readme"], "readme", source)
    return data


def read_manifest(export_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and validate ``<export_dir>/manifest.json``.

    Raises:
        ExportNotFoundError: The directory or its manifest does not exist.
        ManifestError: The manifest is not valid JSON or not of a known protocol.
    """
    export_dir = Path(export_dir)
    path = export_dir / MANIFEST_NAME
    if not export_dir.is_dir():
        raise ExportNotFoundError(f"{export_dir} is not a directory")
    if not path.is_file():
        raise ExportNotFoundError(f"{export_dir} holds no {MANIFEST_NAME}; it is not an export")
    resolve_inside(export_dir, MANIFEST_NAME, "the manifest")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path}: not valid JSON ({e})") from None
    return validate_manifest(data, str(path))


def check_file(export_dir: str | os.PathLike, manifest: dict[str, Any], fmt: str) -> Path:
    """Return the path of format ``fmt`` after checking it exists and its sha256.

    Raises:
        IntegrityError: The file is missing or its content changed.
    """
    rec = manifest["files"][fmt]
    path = resolve_inside(export_dir, rec["path"], f"files[{fmt!r}]")
    if not path.exists():
        raise IntegrityError(f"{path} is listed in the manifest ({fmt}) but missing")
    digest = sha256_file(path)
    if digest != rec["sha256"]:
        raise IntegrityError(
            f"{path} ({fmt}) does not match its manifest: sha256 {digest[:12]}... "
            f"!= recorded {rec['sha256'][:12]}...; the file was changed or truncated"
        )
    return path


def check_files(export_dir: str | os.PathLike, manifest: dict[str, Any]) -> None:
    """Check every file the manifest lists, formats and README (see :func:`check_file`)."""
    for fmt in manifest["files"]:
        check_file(export_dir, manifest, fmt)
    readme = manifest.get("readme")
    if readme:
        path = resolve_inside(export_dir, readme["path"], "readme")
        if not path.is_file() or sha256_file(path) != readme["sha256"]:
            raise IntegrityError(f"{path} is missing or does not match its manifest")
