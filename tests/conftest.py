"""Shared test setup: reproducible randomness, hypothesis profile, and the torch oracle switch."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import oracle_helpers

settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    """Every test starts from the same global tinytorch RNG state."""
    from tinytorch.core.rng import manual_seed

    manual_seed(0)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh NumPy generator for test data."""
    return np.random.default_rng(1234)
