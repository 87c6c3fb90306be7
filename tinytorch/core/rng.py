"""The one random-number generator behind initialization, dropout, sampling and shuffling.

``manual_seed(n)`` makes every random choice tinytorch takes reproducible. The state can be
read and restored as plain JSON-able data, so checkpoints can resume a run exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator; returns it.

    Example:
        >>> a = manual_seed(0).random(); b = manual_seed(0).random()
        >>> a == b
        True
    """
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def get_rng() -> np.random.Generator:
    """The global generator that every random tinytorch operation draws from."""
    return _generator


def get_rng_state() -> dict[str, Any]:
    """A JSON-able snapshot of the global generator's state."""
    return dict(_generator.bit_generator.state)


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot taken by ``get_rng_state``."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    global _generator
    _generator = np.random.Generator(bit_generator)
