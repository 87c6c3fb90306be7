"""The speed paths compute exactly what the plain paths compute (bit for bit, not approximately).

Cache blocking (``ops.blocked``) must not change a single bit: each test runs a kernel with tiny
blocks and with one block holding everything and compares the arrays with ``array_equal``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tinytorch.core.ops import blocked
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import LayerNorm
from tinytorch.nn import functional


def _forward_backward(make: Callable[[Tensor], Tensor], x: np.ndarray,
                      params: Callable[[], list[Tensor]]) -> list[np.ndarray]:
    t = Tensor(x, requires_grad=True)
    y = make(t)
    weights = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
    (y * Tensor(weights)).sum().backward()
    return [y.data, t.grad.data] + [p.grad.data for p in params()]


@pytest.mark.parametrize("shape", [(3, 5, 7), (64, 130), (1, 1)])
def test_blocked_gelu_and_layer_norm_are_bit_identical_to_one_block(
        shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 3 + 1
    norm = LayerNorm(shape[-1])
    norm.weight.data[...] = np.linspace(0.5, 1.5, shape[-1])
    cases = [
        (lambda t: functional.gelu(t, approximate="tanh"), list),
        (norm, lambda: [norm.weight, norm.bias]),
    ]
    for make, params in cases:
        results = {}
        for block in (5, 1 << 30):
            monkeypatch.setattr(blocked, "BLOCK_ELEMENTS", block)
            norm.zero_grad()
            results[block] = _forward_backward(make, x, params)
        assert len(blocked.row_blocks(x.size, 1)) == 1
        for small, whole in zip(results[5], results[1 << 30], strict=True):
            assert np.array_equal(small, whole)
