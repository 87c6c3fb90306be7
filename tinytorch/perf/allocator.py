"""Keep freed NumPy buffers inside the process, so a training loop stops page-faulting on glibc.

Why this exists: glibc's ``malloc`` serves every request above its *mmap threshold* (128 KiB to
start with) with a fresh ``mmap`` and hands it back to the kernel with ``munmap`` on ``free``;
it also trims the top of its heap back to the kernel once more than the *trim threshold*
(128 KiB) lies free there. A training step allocates and frees the same megabyte-sized arrays
(activations, gradients, GEMM outputs) every time, so each step maps fresh pages and the kernel
zero-fills them again on first touch. On this project's machines that page-faulting costs
0.1-0.4 ms per MB, which can be a large share of a small model's step.

``tune_allocator()`` raises both thresholds with glibc's ``mallopt``: freed arrays then stay in
the heap and the next step reuses them without touching the kernel. The price is that the
process keeps its peak memory mapped instead of returning it between steps.

Importing ``tinytorch`` applies it once by default (``apply_default_policy``), because a user's
own script would never call it and the page faults are a third of a small transformer's step
(docs/architecture.md, Performance notes, has the measurements). Set the environment variable
``TINYTORCH_ALLOCATOR=system`` before the import to keep glibc's own settings (the test suite
does, so its assertions about glibc hold). The same effect, for a whole process, comes from
the environment variables ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_THRESHOLD_`` set before
Python starts. Other C libraries (macOS, musl) are left alone: there the call does nothing and
returns False. ``mallopt`` settings cannot be read back, so they cannot be undone cleanly either.
"""

from __future__ import annotations

import ctypes
import os
import sys

from tinytorch.core.errors import explain

__all__ = ["ALLOCATOR_ENV", "allocator_tuned", "apply_default_policy", "tune_allocator"]

ALLOCATOR_ENV = "TINYTORCH_ALLOCATOR"  # "tuned" (the default) or "system" (leave glibc alone)

# glibc's parameter numbers for mallopt (from <malloc.h>).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2, which is 32 MiB on 64-bit systems.
_MAX_MMAP_THRESHOLD = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)
_MAX_C_INT = 2**31 - 1

_tuned = False


def _glibc() -> ctypes.CDLL | None:
    """The loaded glibc, or None where the C library is something else."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    # musl compatibility shims may answer to libc.so.6; only real glibc has this symbol.
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def tune_allocator(trim_threshold: int = 1 << 30, mmap_threshold: int = 32 << 20) -> bool:
    """Raise glibc's trim and mmap thresholds so freed arrays are reused; True if applied.

    Args:
        trim_threshold: bytes that may lie free at the top of the heap before glibc returns them
            to the kernel. The default, 1 GiB, effectively keeps them.
        mmap_threshold: requests at least this large still get their own ``mmap``. The default,
            32 MiB, is the largest value glibc accepts on 64-bit systems.

    Returns:
        True when glibc accepted both settings (also on a repeated call); False, having changed
        nothing, where the C library is not glibc or glibc refused the values.

    Raises:
        ValueError: a threshold is negative or does not fit the C ``int`` that mallopt takes.

    Example:
        >>> from tinytorch.perf import tune_allocator
        >>> tune_allocator()  # doctest: +SKIP
        True
    """
    global _tuned
    for name, value in (("trim_threshold", trim_threshold), ("mmap_threshold", mmap_threshold)):
        if not 0 <= value <= _MAX_C_INT:
            raise ValueError(
                explain(
                    what=f"{name}={value} is out of range",
                    why=f"mallopt takes a non-negative C int (at most {_MAX_C_INT})",
                    fix=f"pass a byte count between 0 and {_MAX_C_INT}",
                )
            )
    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # The mmap threshold goes first: glibc may refuse it (above its maximum), and then the trim
    # threshold must stay untouched so that a False result really means "nothing changed".
    if mmap_threshold > _MAX_MMAP_THRESHOLD or mallopt(_M_MMAP_THRESHOLD, mmap_threshold) != 1:
        return False
    if mallopt(_M_TRIM_THRESHOLD, trim_threshold) != 1:
        return False
    _tuned = True
    return True


def allocator_tuned() -> bool:
    """True once ``tune_allocator`` has succeeded in this process.

    Example:
        >>> isinstance(allocator_tuned(), bool)
        True
    """
    return _tuned


def apply_default_policy() -> bool:
    """Tune the allocator unless ``TINYTORCH_ALLOCATOR=system``; True if it is tuned now.

    Called once by ``import tinytorch``. Any other value than "system" (or unset) means tuned.

    Example:
        >>> isinstance(apply_default_policy(), bool)
        True
    """
    if os.environ.get(ALLOCATOR_ENV, "tuned").strip().lower() == "system":
        return _tuned
    return tune_allocator()
