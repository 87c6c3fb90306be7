"""Integration-suite setup: one BLAS thread for each test module.

These tests train small models whose matrix products take microseconds. With several BLAS
threads, a machine whose cores are already busy (CI runners, parallel test processes) makes
the threads wait for each other, and a step can become tens of times slower. One thread
removes that without changing any result beyond float rounding.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _single_blas_thread() -> Iterator[None]:
    # module scope: autouse fixtures start first within their scope, so this also covers
    # module-scoped fixtures that train a model once for several tests
    with threadpool_limits(limits=1, user_api="blas"):
        yield
