"""Unpickle data files without letting them run code: only NumPy arrays and plain values pass.

A pickle names the functions it calls to rebuild objects, and ``pickle.load`` imports
and calls whatever it names, so loading an untrusted pickle can run any code. CIFAR-10
ships as pickles, so we read them with an unpickler whose ``find_class`` admits only
what rebuilding a NumPy array needs; dicts, lists, bytes, strings and numbers need no
lookup at all. Everything else is refused before it is called.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from tinytorch.core.errors import SerializationError, explain


def _latin1_encode(text: str, encoding: str) -> bytes:
    """Stand-in for ``_codecs.encode``, which protocol-2 pickles use to store bytes."""
    if encoding.lower() not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin-1")


def _allowed_globals() -> dict[tuple[str, str], Callable[..., Any]]:
    """(module, name) pairs a pickle may ask for, mapped to the objects we hand back."""
    # Ask NumPy itself for its rebuild functions rather than importing them by module path:
    # the path moved from numpy.core to numpy._core in NumPy 2, and numpy.core now warns.
    reconstruct = cast("Callable[..., Any]", np.empty(0).__reduce__()[0])  # protocols 0-4
    frombuffer = cast("Callable[..., Any]", np.empty(0).__reduce_ex__(5)[0])  # protocol 5
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,  # NumPy 1 (real CIFAR batches)
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,  # NumPy 2
        ("numpy.core.numeric", "_frombuffer"): frombuffer,
        ("numpy._core.numeric", "_frombuffer"): frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }


class RefusedGlobalError(pickle.UnpicklingError):
    """The pickle asked for a global outside the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        """Remember which global was refused, for the error message."""
        super().__init__(f"{module}.{name}")
        self.module, self.name = module, name


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and plain Python values, and nothing else."""

    def __init__(self, file: io.BufferedIOBase, **kwargs: Any) -> None:
        """Open ``file`` like ``pickle.Unpickler`` (same keyword arguments)."""
        super().__init__(file, **kwargs)
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        """Return an allowed global; refuse every other one without importing it."""
        found = self._allowed.get((module, name))
        if found is None:
            raise RefusedGlobalError(module, name)
        return found


def safe_loads(payload: bytes, source: str = "<bytes>", encoding: str = "bytes") -> Any:
    """Unpickle ``payload`` with ``RestrictedUnpickler``; ``source`` names it in errors.

    Args:
        payload: the pickled bytes.
        source: where the bytes came from (a path), for error messages.
        encoding: how Python 2 ``str`` objects are decoded; ``"bytes"`` keeps them as bytes,
            which is what CIFAR-10's Python 2 pickles need.

    Raises:
        SerializationError: the pickle asks for anything but arrays and plain values, or it is
            truncated or malformed. Nothing it names is ever called.

    Example:
        >>> safe_loads(pickle.dumps({b"labels": [1, 2]}))
        {b'labels': [1, 2]}
    """
    unpickler = RestrictedUnpickler(io.BytesIO(payload), encoding=encoding)
    try:
        return unpickler.load()
    except RefusedGlobalError as exc:
        raise SerializationError(explain(
            what=f"{source} asks the unpickler for {exc.module}.{exc.name}, which was refused",
            why="only NumPy arrays and plain Python values may be unpickled here; any other "
                "global could run code while loading",
            fix="load only genuine data files from a source you trust; if this is meant to be "
                "a CIFAR-10 batch, download it again",
        )) from None
    except Exception as exc:  # a damaged pickle fails in many ways; all mean "not readable"
        raise SerializationError(explain(
            what=f"{source} could not be unpickled ({type(exc).__name__}: {exc})",
            why="the file is truncated, damaged, or not a pickle",
            fix="download the file again",
        )) from exc
