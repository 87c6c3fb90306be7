"""Safe files: named arrays in ``.npz`` (never pickle) plus JSON metadata, written atomically.

A write goes to a temporary file in the target's folder and is renamed over the target
only once complete, so a crash never leaves a half-written model behind. A read uses
``allow_pickle=False``, so a file can never run code.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinytorch.core.errors import SerializationError, explain

_META_KEY = "__metadata__.json"


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see the old file or the new one, never half."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600; use normal file modes
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` atomically (see ``atomic_write_bytes``)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_arrays(
    path: str | os.PathLike[str],
    arrays: Mapping[str, np.ndarray],
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Save named arrays and JSON-able metadata to one ``.npz`` file, atomically, without pickle."""
    import io

    if _META_KEY in arrays:
        raise SerializationError(explain(
            what=f"an array is named {_META_KEY!r}",
            why="that name is reserved for the file's metadata",
            fix="rename the array",
        ))
    buffer = io.BytesIO()
    meta = np.frombuffer(json.dumps(dict(metadata or {})).encode("utf-8"), dtype=np.uint8)
    np.savez(buffer, **{name: np.asarray(a) for name, a in arrays.items()}, **{_META_KEY: meta})
    atomic_write_bytes(path, buffer.getvalue())


def existing_file(path: str | os.PathLike[str], kind: str) -> Path:
    """``path`` as a ``Path``; a three-part SerializationError when no file is there.

    ``kind`` names what was to be loaded ("model", "tokenizer"), for the message.
    """
    source = Path(path)
    if not source.is_file():
        raise SerializationError(explain(
            what=f"no file at {str(source)!r}",
            why=f"a {kind} can only be loaded from an existing file",
            fix=f"check the path, or save the {kind} there first",
        ))
    return source


def load_arrays(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load what ``save_arrays`` wrote: ``(arrays, metadata)``. Never unpickles anything."""
    source = existing_file(path, "model or checkpoint")
    try:
        # Open the file ourselves: np.load leaks its handle when the zip directory is corrupt.
        with open(source, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as exc:  # zipfile/npy errors come in many types; all mean "not our file"
        raise SerializationError(explain(
            what=f"{str(source)!r} could not be read as a .npz archive ({exc})",
            why="the file is corrupt, truncated, or not a file tinytorch saved",
            fix="save the model again, or point to the right file",
        )) from exc
    raw = arrays.pop(_META_KEY, np.zeros(0, dtype=np.uint8))
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8")) if raw.size else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationError(explain(
            what=f"the metadata inside {str(source)!r} is not valid JSON",
            why="the file is corrupt or was not written by tinytorch",
            fix="save the model again",
        )) from exc
    return arrays, metadata
