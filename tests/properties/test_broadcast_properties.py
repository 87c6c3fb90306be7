"""Properties over random shapes: broadcasting's backward, reshape and permute round trips.

The reference gradient is computed independently of tinytorch's ``unbroadcast``: every operand
element receives the sum of the local derivatives at the output positions that read it,
found with ``np.bincount`` over the broadcast element ids.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.tensor import Tensor

Shape = tuple[int, ...]

sizes = st.integers(min_value=1, max_value=4)
shapes = st.lists(sizes, min_size=0, max_size=4).map(tuple)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def broadcast_pairs(draw: st.DrawFn) -> tuple[Shape, Shape]:
    """Two shapes NumPy can broadcast together: leading axes dropped, some sizes set to 1."""
    full = draw(shapes)

    def operand() -> Shape:
        kept = full[draw(st.integers(0, len(full))):]
        return tuple(1 if draw(st.booleans()) else n for n in kept)

    return operand(), operand()


@st.composite
def reshape_targets(draw: st.DrawFn) -> tuple[Shape, tuple[int, ...]]:
    """A shape and another shape with as many elements (merged axes, maybe one -1)."""
    shape = draw(shapes)
    target = list(draw(st.permutations(shape)))
    if len(target) >= 2 and draw(st.booleans()):  # merge two neighbours into one axis
        i = draw(st.integers(0, len(target) - 2))
        target[i:i + 2] = [target[i] * target[i + 1]]
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target)


def reference_grad(local: np.ndarray, shape: Shape) -> np.ndarray:
    """Sum ``local`` (in the broadcast shape) onto the operand elements each position read."""
    size = math.prod(shape)
    ids = np.broadcast_to(np.arange(size).reshape(shape), local.shape)
    return np.bincount(ids.ravel(), weights=local.ravel(), minlength=size).reshape(shape)


# op -> (forward on arrays, local derivative w.r.t. a, local derivative w.r.t. b)
BINARY: dict[str, tuple[Callable[..., np.ndarray], ...]] = {
    "add": (np.add, lambda a, b: np.ones_like(a * b), lambda a, b: np.ones_like(a * b)),
    "sub": (np.subtract, lambda a, b: np.ones_like(a * b), lambda a, b: -np.ones_like(a * b)),
    "mul": (np.multiply, lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (np.divide, lambda a, b: 1 / b + 0 * a, lambda a, b: -a / (b * b)),
}


@settings(max_examples=50)
@given(pair=broadcast_pairs(), op=st.sampled_from(sorted(BINARY)), seed=seeds)
def test_broadcast_binary_gradients_sum_back_to_each_operand(
        pair: tuple[Shape, Shape], op: str, seed: int) -> None:
    forward, d_a, d_b = BINARY[op]
    rng = np.random.default_rng(seed)
    a = rng.uniform(-2, 2, pair[0])
    b = rng.uniform(0.5, 2, pair[1]) * rng.choice([-1.0, 1.0], pair[1])  # away from 0 for div
    ta = Tensor(a, requires_grad=True, dtype=np.float64)
    tb = Tensor(b, requires_grad=True, dtype=np.float64)
    out = {"add": ta + tb, "sub": ta - tb, "mul": ta * tb, "div": ta / tb}[op]
    expected = forward(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)

    upstream = rng.uniform(0.5, 1.5, expected.shape)
    out.backward(upstream)
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    np.testing.assert_allclose(ta.grad.data, reference_grad(upstream * d_a(a, b), a.shape),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad.data, reference_grad(upstream * d_b(a, b), b.shape),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=50)
@given(pair=broadcast_pairs(), seed=seeds)
def test_expand_gradient_is_the_broadcast_sum(pair: tuple[Shape, Shape], seed: int) -> None:
    shape, other = pair
    target = np.broadcast_shapes(shape, other)
    rng = np.random.default_rng(seed)
    x = Tensor(rng.uniform(-1, 1, shape), requires_grad=True, dtype=np.float64)
    y = x.expand(*target)
    np.testing.assert_array_equal(y.data, np.broadcast_to(x.data, target))
    upstream = rng.uniform(0.5, 1.5, target)
    y.backward(upstream)
    assert x.grad.shape == shape
    np.testing.assert_allclose(x.grad.data, reference_grad(upstream, shape), rtol=1e-12)


@settings(max_examples=50)
@given(spec=reshape_targets(), seed=seeds)
def test_reshape_round_trip_preserves_values_and_gradients(
        spec: tuple[Shape, tuple[int, ...]], seed: int) -> None:
    shape, target = spec
    rng = np.random.default_rng(seed)
    x = Tensor(rng.uniform(-1, 1, shape), requires_grad=True, dtype=np.float64)
    y = x.reshape(target)
    np.testing.assert_array_equal(y.data, x.data.reshape(target))
    back = y.reshape(shape)
    np.testing.assert_array_equal(back.data, x.data)

    upstream = rng.uniform(0.5, 1.5, shape)
    back.backward(upstream)
    np.testing.assert_array_equal(x.grad.data, upstream)  # a reshape moves no value


@settings(max_examples=50)
@given(shape=shapes.filter(lambda s: len(s) >= 1), data=st.data(), seed=seeds)
def test_permute_round_trip_preserves_values_and_gradients(
        shape: Shape, data: st.DataObject, seed: int) -> None:
    order = tuple(data.draw(st.permutations(range(len(shape)))))
    inverse = tuple(int(i) for i in np.argsort(order))
    rng = np.random.default_rng(seed)
    x = Tensor(rng.uniform(-1, 1, shape), requires_grad=True, dtype=np.float64)
    y = x.permute(*order)
    np.testing.assert_array_equal(y.data, x.data.transpose(order))
    np.testing.assert_array_equal(y.permute(*inverse).data, x.data)

    upstream = rng.uniform(0.5, 1.5, y.shape)
    y.backward(upstream)
    # Axis i of y is axis order[i] of x, so the gradient goes back through the inverse order.
    np.testing.assert_array_equal(x.grad.data, upstream.transpose(inverse))
