"""In-place rules that have no PyTorch twin to compare with (the twins are in
tests/oracle/test_oracle_inplace.py): refusals where tinytorch is stricter, dtype and shape
errors, and that optimizers' ``.data`` updates stay outside the version check."""

from __future__ import annotations

import numpy as np
import pytest
from oracle_helpers import assert_three_parts

import tinytorch
from tinytorch import nn
from tinytorch.core.errors import DTypeError, GraphError, ShapeError
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Tensor


def test_named_in_place_on_an_intermediate_result_is_refused_with_the_fix() -> None:
    h = Tensor([1.0, 2.0], requires_grad=True) * 2
    for change in (lambda: h.add_(1.0), lambda: h.masked_fill_(h > 2, 0.0),
                   lambda: h.__setitem__(0, 5.0), lambda: h.zero_()):
        with pytest.raises(GraphError) as info:
            change()
        assert_three_parts(str(info.value), "MulBackward", "out-of-place")
    assert h.tolist() == [2.0, 4.0]  # nothing was changed


def test_writing_a_graph_value_into_a_plain_tensor_is_refused() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    buffer = tinytorch.zeros(2)
    with pytest.raises(GraphError) as info:
        buffer[0] = w.sum()
    assert_three_parts(str(info.value), "requires grad", "cat/stack/where")
    with tinytorch.no_grad():
        buffer[0] = w.sum()  # under no_grad the value is just copied
    assert buffer.tolist() == [3.0, 0.0]


def test_augmented_assignment_rebinds_graph_tensors_and_mutates_plain_ones() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    same = h
    h += 1  # out of place: h is rebound, the old tensor keeps its value
    assert h is not same and same.tolist() == [3.0, 6.0] and h.tolist() == [4.0, 7.0]
    h.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]
    plain = tinytorch.zeros(2)
    alias = plain
    plain += w.detach()
    assert plain is alias and alias.tolist() == [1.0, 2.0]
    total = tinytorch.zeros(2)
    total += w  # a graph value into a plain tensor: rebound, so the gradient flows
    assert total.requires_grad and total.grad_fn is not None


def test_in_place_dtype_and_shape_errors() -> None:
    ints = Tensor([1, 2], dtype=np.int64)
    with pytest.raises(DTypeError) as info:
        ints += 0.5
    assert_three_parts(str(info.value), "int64", "float64")
    with pytest.raises(ShapeError) as info:
        tinytorch.zeros(2).add_(tinytorch.ones(3))
    assert_three_parts(str(info.value), "(2,)", "(3,)")
    with pytest.raises(ShapeError):
        tinytorch.ones(3).expand(2, 3).fill_(0.0)  # a broadcast view is read-only
    ints += 1
    assert ints.tolist() == [2, 3]


def test_random_fills_under_no_grad_are_seeded() -> None:
    w = nn.Linear(3, 2).weight
    with tinytorch.no_grad():
        manual_seed(5)
        w.uniform_(-0.1, 0.1)
        first = w.data.copy()
        manual_seed(5)
        w.normal_(0.0, 1.0).uniform_(-0.1, 0.1)
    assert np.abs(first).max() <= 0.1 and w.dtype == np.float32
    assert not np.array_equal(first, w.data)  # normal_ advanced the stream


def test_optimizer_data_updates_stay_outside_the_version_check() -> None:
    manual_seed(1)
    model = nn.Linear(4, 1)
    optimizer = tinytorch.SGD(model.parameters(), lr=0.1)
    x = tinytorch.randn(8, 4)
    with tinytorch.no_grad():
        model.bias.fill_(0.0)  # an in-place change before the first forward is fine
    losses = []
    for _ in range(3):
        loss = (model(x) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]


def test_unrelated_in_place_change_after_the_forward_is_no_error() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    y = w * x                            # Mul saved w and x
    other = tinytorch.zeros(2)
    other.add_(1.0)                      # an in-place change, but not of a saved array
    y.sum().backward()
    assert w.grad.tolist() == [3.0, 4.0]


def test_retained_graph_catches_a_change_between_two_backwards() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    with tinytorch.no_grad():
        w.mul_(3.0)
    with pytest.raises(GraphError, match="version 1"):
        y.backward()
