"""Shared test setup: reproducible randomness, the hypothesis profile, one BLAS thread."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

try:  # in the test extra; a bare environment still runs, with BLAS's own thread count
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import oracle_helpers
# Tests check glibc's own behaviour (and tune it only in child processes), so the suite opts out
# of tinytorch's import-time allocator tuning; child processes inherit the setting.
os.environ.setdefault("TINYTORCH_ALLOCATOR", "system")

settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def _single_blas_thread() -> Iterator[None]:
    """Tests train small models whose matrix products take microseconds. With several BLAS
    threads on busy cores (CI runners, parallel jobs) the threads wait for each other and a
    step can become tens of times slower; one thread changes nothing beyond float rounding."""
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    """Every test starts from the same global tinytorch RNG state."""
    from tinytorch.core.rng import manual_seed

    manual_seed(0)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh NumPy generator for test data."""
    return np.random.default_rng(1234)
