"""The backward engine's rules: order, accumulation, memory, freed graphs and grad mode."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from tinytorch.core import autograd, ops
from tinytorch.core.autograd import Function, detect_anomaly, enable_grad, no_grad
from tinytorch.core.errors import GraphError, ShapeError
from tinytorch.core.tensor import Parameter, Tensor


def test_shared_node_receives_every_contribution() -> None:
    x = Tensor([2.0], requires_grad=True)
    y = x * x  # y feeds two paths
    (y + y * 3).backward()  # z = 4x^2, so dz/dx = 8x
    assert x.grad.item() == 16.0


def test_diamond_graph_sums_both_branches() -> None:
    x = Tensor([1.5, -2.0], requires_grad=True)
    a = x.exp()
    b = x * 2.0
    (a * b).sum().backward()  # d/dx (2x e^x) = 2 e^x (1 + x)
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(x.data) * (1 + x.data), rtol=1e-6)


def test_square_via_self_multiplication() -> None:
    x = Tensor([3.0, -1.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [6.0, -2.0]


def test_each_node_backward_runs_once() -> None:
    calls = []

    class Counted(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, grad):
            calls.append(grad.copy())
            return grad

    x = Tensor([1.0], requires_grad=True)
    h = Counted.apply(x)
    (h + h + h).backward()  # three consumers, but h's node fires once with the sum
    assert len(calls) == 1
    assert calls[0].tolist() == [3.0]
    assert x.grad.item() == 3.0


def test_deep_chain_needs_no_recursion() -> None:
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_leaf_gradients_do_not_alias() -> None:
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    (a + b).backward()  # Add hands the same array to both inputs
    a.grad.data += 1
    assert b.grad.item() == 1.0


def test_gradients_accumulate_across_backward_calls_until_zero_grad() -> None:
    w = Parameter([1.0, 2.0])
    for _ in range(3):
        (w * 2.0).sum().backward()
    assert w.grad.tolist() == [6.0, 6.0]
    w.zero_grad()
    assert w.grad is None
    (w * 5.0).sum().backward()
    assert w.grad.tolist() == [5.0, 5.0]


def test_accumulation_does_not_mutate_a_gradient_the_caller_kept() -> None:
    w = Parameter([1.0])
    (w * 2.0).backward()
    first = w.grad
    (w * 3.0).backward()
    assert first.item() == 2.0 and w.grad.item() == 5.0


def test_non_leaf_tensors_keep_no_grad_unless_asked() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 3.0
    kept = (x * 2.0).retain_grad()
    (hidden.sum() + (kept * kept).sum()).backward()
    assert hidden.grad is None
    assert kept.grad.tolist() == [4.0, 8.0]


def test_graph_is_freed_and_second_backward_raises() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(GraphError) as info:
        loss.backward()
    assert "retain_graph=True" in str(info.value)


def test_retain_graph_allows_a_second_backward() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert x.grad.tolist() == [4.0, 8.0]


def test_saved_arrays_are_released_after_backward() -> None:
    x = Tensor(np.ones(1000), requires_grad=True)
    big = np.full(1000, 2.0, dtype=np.float32)
    product = x * Tensor(big)
    node = product.grad_fn
    product.sum().backward()
    assert node.saved_tensors == () and node.parents == ()


def test_intermediate_tensors_are_collectable_after_backward() -> None:
    x = Tensor(np.ones(10), requires_grad=True)
    hidden = x.exp()
    ref = weakref.ref(hidden)
    loss = (hidden * 2.0).sum()
    del hidden
    loss.backward()
    gc.collect()
    assert ref() is None  # the graph no longer holds the intermediate


def test_no_grad_records_nothing() -> None:
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert autograd.is_grad_enabled()


def test_enable_grad_inside_no_grad_records_again() -> None:
    x = Tensor([1.0], requires_grad=True)
    with no_grad(), enable_grad():
        y = x * 2.0
    assert y.requires_grad and y.grad_fn is not None


def test_no_grad_works_as_a_decorator() -> None:
    @no_grad()
    def infer(t: Tensor) -> Tensor:
        return t * 2.0

    assert not infer(Tensor([1.0], requires_grad=True)).requires_grad


def test_requires_grad_propagates_like_pytorch() -> None:
    a = Tensor([1.0], requires_grad=True)
    b = Tensor([2.0])
    assert (a + b).requires_grad
    assert not (b + b).requires_grad
    assert (a + b).grad_fn is not None and (b + b).grad_fn is None


def test_detach_cuts_the_graph() -> None:
    x = Tensor([2.0], requires_grad=True)
    y = x * 3.0
    z = y.detach() * x  # the detached branch is a constant 6
    z.backward()
    assert x.grad.item() == 6.0
    assert not y.detach().requires_grad and y.detach().grad_fn is None


def test_grad_fn_names_and_upstream_alias() -> None:
    y = Tensor([1.0], requires_grad=True) * 2.0
    assert y.grad_fn.name == "MulBackward"
    assert y._grad_fn is y.grad_fn
    assert y.grad_fn.next_functions[0] == (None, 0)


def test_backward_without_gradient_on_non_scalar_raises() -> None:
    y = Tensor([1.0, 2.0], requires_grad=True) * 2.0
    with pytest.raises(GraphError, match="gradient"):
        y.backward()


def test_backward_with_explicit_gradient_on_non_scalar() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).backward(np.array([1.0, 10.0]))
    assert x.grad.tolist() == [3.0, 30.0]


def test_backward_on_tensor_without_grad_raises() -> None:
    with pytest.raises(GraphError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_engine_names_the_op_whose_backward_returns_a_wrong_shape() -> None:
    class Broken(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum(axis=1)

        @staticmethod
        def backward(ctx, grad):
            return grad  # forgot to restore the reduced axis: (3,) for a (3, 4) input

    x = Tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ShapeError, match="BrokenBackward"):
        Broken.apply(x).sum().backward()


def test_broadcast_gradients_are_summed_back_to_the_operand_shape() -> None:
    a = Tensor(np.ones((4, 1, 3)), requires_grad=True)
    b = Tensor(np.ones((5, 1)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (4, 1, 3) and np.all(a.grad.data == 5.0)
    assert b.grad.shape == (5, 1) and np.all(b.grad.data == 12.0)


def test_leaf_gradient_assignment_accepts_arrays() -> None:
    p = Parameter([1.0, 2.0])
    p.grad = np.array([0.5, 0.5], dtype=np.float32)
    assert isinstance(p.grad, Tensor) and np.allclose(p.grad, [0.5, 0.5])
    assert np.linalg.norm(p.grad) == pytest.approx(np.sqrt(0.5))


def test_enable_autograd_is_an_idempotent_no_op() -> None:
    for _ in range(3):
        autograd.enable_autograd()
    x = Tensor([3.0], requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 6.0


def test_anomaly_mode_names_the_op_that_made_a_nan() -> None:
    x = Tensor([-1.0, 4.0], requires_grad=True)
    with detect_anomaly(), pytest.raises(FloatingPointError, match="Sqrt"), \
            np.errstate(invalid="ignore"):
        x.sqrt()


def test_op_observers_see_every_forward() -> None:
    seen: list[str] = []
    with autograd.observe_ops(lambda name, seconds: seen.append(name)):
        (Tensor([1.0]) * 2.0 + 1.0).exp()
    assert seen == ["Mul", "Add", "Exp"]
    assert not autograd._instrumented


def test_python_number_constants_keep_the_tensor_dtype() -> None:
    x = Tensor([1.0], dtype=np.float32)
    for y in (x * 2.0, 2.0 * x, x + np.float64(1.0), x / np.ones(1), x ** 2, x - 1):
        assert y.dtype == np.float32
    d = Tensor([1.0], dtype=np.float64)
    assert (d * 2.0).dtype == np.float64


def test_function_apply_accepts_constant_inputs() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = ops.Mul.apply(x, np.array([3.0, 4.0]))
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]


def test_integer_tensors_mixed_with_floats_give_float32_not_float64() -> None:
    ints = Tensor([1, 2], dtype=np.int64)
    assert (ints / 2).dtype == np.float32
    assert (ints + 1.5).dtype == np.float32
    assert (ints * 2).dtype == np.int64
    assert (Tensor([1.0], dtype=np.float64) * 2).dtype == np.float64
