"""Activation checkpointing: the gradients of a plain forward, fewer arrays kept for backward."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinytorch.core.activations import GELU, ReLU
from tinytorch.core.errors import ConfigError, GraphError
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.perf.checkpointing import (
    checkpoint,
    checkpoint_sequential,
    held_bytes,
    saved_activation_bytes,
)


def _block(width: int = 16, dropout: float = 0.0) -> Sequential:
    return Sequential(Linear(width, 4 * width), GELU(), Dropout(dropout), Linear(4 * width, width),
                      ReLU())


def _gradients(model: Sequential, x: np.ndarray, g: np.ndarray, run: Any) -> list[np.ndarray]:
    model.zero_grad()
    tx = Tensor(x, requires_grad=True)
    out = run(model, tx)
    out.backward(g)
    return [out.data, tx.grad.data] + [p.grad.data for p in model.parameters()]


def test_checkpointed_block_gives_the_gradients_of_the_plain_block(
        rng: np.random.Generator) -> None:
    model = _block()
    x = rng.standard_normal((8, 16), dtype=np.float32)
    g = rng.standard_normal((8, 16), dtype=np.float32)
    plain = _gradients(model, x, g, lambda m, t: m(t))
    ours = _gradients(model, x, g, lambda m, t: checkpoint(m, t))
    for mine, reference in zip(ours, plain, strict=True):
        np.testing.assert_array_equal(mine, reference)     # the same ops on the same numbers


def test_parameters_train_even_when_no_input_requires_grad(rng: np.random.Generator) -> None:
    model = Linear(3, 2)
    checkpoint(model, Tensor(rng.standard_normal((4, 3)))).sum().backward()
    assert model.weight.grad is not None and model.bias.grad.data.tolist() == [4.0, 4.0]


def test_dropout_masks_are_replayed_in_the_recomputation(rng: np.random.Generator) -> None:
    model = _block(dropout=0.5)
    x = rng.standard_normal((6, 16), dtype=np.float32)
    g = rng.standard_normal((6, 16), dtype=np.float32)
    manual_seed(7)
    plain = _gradients(model, x, g, lambda m, t: m(t))
    manual_seed(7)
    ours = _gradients(model, x, g, lambda m, t: checkpoint(m, t))
    for mine, reference in zip(ours, plain, strict=True):
        np.testing.assert_array_equal(mine, reference)


def test_checkpoint_keeps_only_the_block_input_for_backward(rng: np.random.Generator) -> None:
    model = _block()
    hidden = Tensor(rng.standard_normal((32, 16), dtype=np.float32), requires_grad=True) * 1.0
    plain = saved_activation_bytes(model(hidden))
    ours = saved_activation_bytes(checkpoint(model, hidden))
    assert ours == hidden.data.nbytes                   # the (32, 16) input, nothing else
    assert plain >= 3 * 32 * 64 * 4                    # the (32, 64) activations, several times


@pytest.mark.parametrize("segments", [1, 2, 3, 5])
def test_checkpoint_sequential_matches_the_plain_stack(rng: np.random.Generator,
                                                       segments: int) -> None:
    stack = Sequential(*[Linear(8, 8) if i % 2 == 0 else ReLU() for i in range(5)])
    x = rng.standard_normal((4, 8), dtype=np.float32)
    g = rng.standard_normal((4, 8), dtype=np.float32)
    plain = _gradients(stack, x, g, lambda m, t: m(t))
    ours = _gradients(stack, x, g, lambda m, t: checkpoint_sequential(m, segments, t))
    for mine, reference in zip(ours, plain, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("segments", [0, 4, 1.5])
def test_checkpoint_sequential_rejects_impossible_segment_counts(segments: Any) -> None:
    with pytest.raises(ConfigError, match="segments"):
        checkpoint_sequential([Linear(2, 2)] * 3, segments, np.ones((1, 2)))


def test_a_block_that_returns_no_tensor_is_refused() -> None:
    with pytest.raises(GraphError, match="one Tensor"):
        checkpoint(lambda t: (t, t), Tensor(np.ones(2), requires_grad=True))


def test_saved_bytes_skip_leaves_and_count_shared_arrays_once() -> None:
    x = Tensor(np.ones(1000, dtype=np.float32), requires_grad=True)
    assert saved_activation_bytes(x) == 0
    assert saved_activation_bytes(x * 2.0) == 0         # Mul keeps x, a leaf
    assert saved_activation_bytes((x.exp() * 2.0).exp()) == 8000


def test_held_bytes_measures_what_a_result_keeps_alive() -> None:
    result, held = held_bytes(np.ones, 250_000, dtype=np.float32)
    assert result.nbytes == 1_000_000
    assert 1_000_000 <= held < 1_100_000
