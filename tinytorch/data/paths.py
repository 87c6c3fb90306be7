"""Where downloadable data sets live on disk, and the error for when they are not there.

The folder is, in order: the ``root=`` argument of a loader, the ``TINYTORCH_DATA``
environment variable, or ``~/.cache/tinytorch``. Loading and downloading use the same
rule, so a data set downloaded once is found by every later call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tinytorch.core.errors import SerializationError, explain

DATA_ENV = "TINYTORCH_DATA"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the data folder: ``root``, else ``$TINYTORCH_DATA``, else ``~/.cache/tinytorch``.

    Example:
        >>> str(data_root("/tmp/my-data"))
        '/tmp/my-data'
    """
    if root is not None:
        return Path(root).expanduser()
    from_env = os.environ.get(DATA_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return Path.home() / ".cache" / "tinytorch"


def find_file(name: str, folders: Sequence[Path], allow_gz: bool = False) -> Path | None:
    """Return the first existing ``folder/name`` (or ``folder/name.gz`` if allowed), else None."""
    for folder in folders:
        for candidate in (name, f"{name}.gz") if allow_gz else (name,):
            path = folder / candidate
            if path.is_file():
                return path
    return None


def missing_data_error(
    dataset: str,
    missing: Sequence[str],
    searched: Sequence[Path],
    loader: str,
    attempts: Sequence[str] = (),
) -> SerializationError:
    """Build the three-part error raised when a data set is not on disk and was not downloaded.

    Args:
        dataset: human name of the data set, e.g. ``"MNIST"``.
        missing: the file names that were not found.
        searched: every folder that was looked in.
        loader: the loader's name, for the fix, e.g. ``"load_mnist"``.
        attempts: one line per failed download attempt; empty when download was off.
    """
    where = ", ".join(str(folder) for folder in searched)
    if attempts:
        why = "download=True was given but every URL failed:\n    " + "\n    ".join(attempts)
    else:
        why = (f"{dataset} is not shipped with tinytorch; it is read from local files, "
               "and download=False was given")
    return SerializationError(explain(
        what=f"{dataset} files missing: {', '.join(missing)} (looked in: {where})",
        why=why,
        fix=(f"put the files in {searched[0]}, set {DATA_ENV} to the folder that holds them, "
             f"pass {loader}(root=...), or call {loader}(download=True) (with urls=[...] for "
             "other mirrors)"),
    ))
