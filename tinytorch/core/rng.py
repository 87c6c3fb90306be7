"""The random numbers behind initialization, dropout, sampling and shuffling: NumPy's global stream.

tinytorch draws from NumPy's global generator, as the upstream course does, so course code that
starts with ``np.random.seed(42)`` gets the same initial weights, dropout masks and shuffled
orders on every run. ``manual_seed(n)`` (PyTorch's name) seeds that same generator. There is
one stream and two ways to seed it, so **whichever seeding call ran last wins**.

Every ``get_rng()`` returns a fresh ``np.random.Generator`` seeded from one draw of the global
stream: tinytorch gets the modern API (float32 draws, ``integers``) while the global seed still
fixes every number. Drawing from ``np.random`` yourself between two tinytorch calls therefore
changes what tinytorch draws next, exactly as it would in upstream code.

The state can be read and restored as plain JSON-able data, so checkpoints resume a run exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_SEED_BOUND = 2**63 - 1


def manual_seed(seed: int) -> np.random.Generator:
    """Seed NumPy's global generator, exactly as ``np.random.seed(seed)`` would.

    Seeds are taken modulo 2**32, the range ``np.random.seed`` accepts. Returns a generator
    seeded with ``seed`` for the caller's own use; making it draws nothing from the global
    stream, so ``manual_seed(n)`` and ``np.random.seed(n)`` leave the same state behind.

    Example:
        >>> a = manual_seed(0).random(); b = manual_seed(0).random()
        >>> a == b
        True
    """
    np.random.seed(int(seed) % 2**32)
    return np.random.default_rng(int(seed) % 2**32)


def get_rng() -> np.random.Generator:
    """A generator seeded from the global stream; every random tinytorch operation uses one."""
    return np.random.default_rng(np.random.randint(0, _SEED_BOUND, dtype=np.int64))


def get_rng_state() -> dict[str, Any]:
    """A JSON-able snapshot of NumPy's global generator."""
    state = np.random.get_state(legacy=False)
    inner = state["state"]
    return {**state, "state": {"key": inner["key"].tolist(), "pos": int(inner["pos"])}}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot taken by ``get_rng_state``."""
    inner = state["state"]
    key = np.asarray(inner["key"], dtype=np.uint32)
    np.random.set_state({**state, "state": {"key": key, "pos": int(inner["pos"])}})
