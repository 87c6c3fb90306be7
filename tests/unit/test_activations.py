"""Unit tests for module 02, activations: values, gradients, stability, and the upstream API."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from oracle_helpers import assert_three_parts

from tinytorch.core.activations import (
    GELU,
    Activation,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor

ALL = [ReLU(), Sigmoid(), Tanh(), GELU(), GELU("none"), GELU("sigmoid"), Softmax(), LogSoftmax(),
       LeakyReLU(), LeakyReLU(0.2), SiLU()]


def test_known_values() -> None:
    x = Tensor([-2.0, 0.0, 3.0])
    assert ReLU()(x).tolist() == [0.0, 0.0, 3.0]
    assert LeakyReLU(0.1)(x).data == pytest.approx([-0.2, 0.0, 3.0])
    assert Sigmoid()(x).data == pytest.approx([1 / (1 + math.e ** 2), 0.5, 1 / (1 + math.e ** -3)])
    assert Tanh()(x).data == pytest.approx(np.tanh([-2.0, 0.0, 3.0]))
    assert SiLU()(x).data == pytest.approx([-2 / (1 + math.e ** 2), 0.0, 3 / (1 + math.e ** -3)])
    phi = [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in (-2.0, 0.0, 3.0)]
    assert GELU("none")(x).data == pytest.approx([-2 * phi[0], 0.0, 3 * phi[2]], abs=1e-6)
    assert GELU("sigmoid")(x).data == pytest.approx(
        [-2 / (1 + math.e ** (1.702 * 2)), 0.0, 3 / (1 + math.e ** (-1.702 * 3))], rel=1e-6)
    assert GELU()(x).data == pytest.approx([-0.04540, 0.0, 2.99636], abs=1e-5)


def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log() -> None:
    x = Tensor(np.random.default_rng(0).normal(size=(4, 6)) * 10)
    probs = Softmax()(x)
    np.testing.assert_allclose(probs.data.sum(axis=-1), np.ones(4), rtol=1e-6)
    np.testing.assert_allclose(LogSoftmax()(x).data, np.log(probs.data), atol=1e-5)
    np.testing.assert_allclose(Softmax(dim=0)(x).data.sum(axis=0), np.ones(6), rtol=1e-6)
    np.testing.assert_allclose(Softmax()(x, dim=0).data, Softmax(dim=0)(x).data)


def test_relu_gradient_is_zero_below_zero_and_one_above() -> None:
    x = Tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    ReLU()(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("activation", ALL, ids=repr)
def test_gradients_match_finite_differences_in_float64(activation: Activation) -> None:
    x = Tensor(np.random.default_rng(1).normal(size=(3, 4)) * 2, dtype=np.float64,
               requires_grad=True)
    assert gradcheck(activation, [x])


@pytest.mark.parametrize("activation", ALL, ids=repr)
def test_no_overflow_at_plus_minus_1000_and_float32_kept(activation: Activation) -> None:
    x = Tensor([[-1000.0, -88.0, 0.0, 88.0, 1000.0]], requires_grad=True)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = activation(x)
        out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.isfinite(out.data).all() and np.isfinite(x.grad.data).all()


def test_saturated_values_are_the_limits() -> None:
    x = Tensor([-1000.0, 1000.0])
    assert Sigmoid()(x).tolist() == [0.0, 1.0]
    assert Tanh()(x).tolist() == [-1.0, 1.0]
    assert GELU()(x).tolist() == [0.0, 1000.0]
    assert SiLU()(x).tolist() == [0.0, 1000.0]
    assert Softmax()(x).tolist() == [0.0, 1.0]
    assert LogSoftmax()(x).tolist() == [-2000.0, 0.0]


@pytest.mark.parametrize("activation", ALL, ids=repr)
def test_upstream_api_forward_call_and_no_parameters(activation: Activation) -> None:
    x = Tensor([[0.5, -0.5]])
    assert activation.parameters() == []
    np.testing.assert_array_equal(activation.forward(x).data, activation(x).data)


def test_repr_shows_settings() -> None:
    assert repr(ReLU()) == "ReLU()"
    assert repr(GELU("none")) == "GELU(approximate='none')"
    assert repr(Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"


def test_unknown_gelu_form_is_a_three_part_error() -> None:
    with pytest.raises(ValueError, match="'erf'") as info:
        GELU("erf")
    assert_three_parts(str(info.value))


def test_activations_work_inside_a_sequential() -> None:
    from tinytorch.core.layers import Linear, Sequential

    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2), Softmax())
    out = model(Tensor(np.ones((5, 3))))
    np.testing.assert_allclose(out.data.sum(axis=1), np.ones(5), rtol=1e-6)
    assert len(model.parameters()) == 4
