"""The PyTorch-style faces: ``tinytorch.nn``, ``tinytorch.nn.functional``, ``tinytorch.nn.init``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracle_helpers import assert_three_parts

import tinytorch.nn.functional as F  # noqa: N812  (the PyTorch habit)
from tinytorch import nn
from tinytorch.core import activations, layers, losses
from tinytorch.core.errors import DTypeError, IndexOutOfRangeError, ShapeError
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Parameter, Tensor


def test_nn_reexports_the_core_classes_themselves() -> None:
    assert nn.Module is layers.Module and nn.Parameter is Parameter
    for name in ("Linear", "Dropout", "Sequential", "ModuleList", "Flatten", "Identity"):
        assert getattr(nn, name) is getattr(layers, name)
    for name in ("ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax", "LeakyReLU", "SiLU"):
        assert getattr(nn, name) is getattr(activations, name)
    for name in ("MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss",
                 "BinaryCrossEntropyLoss"):
        assert getattr(nn, name) is getattr(losses, name)
    assert nn.functional is F
    assert sorted(nn.__all__) == sorted(set(nn.__all__))
    assert all(hasattr(nn, name) for name in nn.__all__)
    assert all(hasattr(F, name) for name in F.__all__)


def test_a_pytorch_style_training_step_runs() -> None:
    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.GELU(), nn.Dropout(0.1))
            self.head = nn.Linear(8, 3)

        def forward(self, x: Tensor) -> Tensor:
            return self.head(F.relu(self.body(x)))

    model = Classifier()
    x = Tensor(np.random.default_rng(0).normal(size=(5, 3, 4)))
    loss = nn.CrossEntropyLoss()(model(x), [0, 1, 2, 0, 1])
    loss.backward()
    assert [name for name, _ in model.named_parameters()] == [
        "body.1.weight", "body.1.bias", "head.weight", "head.bias"]
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


# --- functional forms equal the module forms ------------------------------------------------------

X = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32) * 3

PAIRS = [
    (F.relu, nn.ReLU()),
    (F.sigmoid, nn.Sigmoid()),
    (F.tanh, nn.Tanh()),
    (F.silu, nn.SiLU()),
    (F.gelu, nn.GELU()),
    (lambda x: F.gelu(x, approximate="none"), nn.GELU("none")),
    (lambda x: F.gelu(x, approximate="sigmoid"), nn.GELU("sigmoid")),
    (lambda x: F.leaky_relu(x, 0.2), nn.LeakyReLU(0.2)),
    (F.softmax, nn.Softmax()),
    (lambda x: F.softmax(x, dim=0), nn.Softmax(dim=0)),
    (F.log_softmax, nn.LogSoftmax()),
    (lambda x: F.log_softmax(x, dim=0), nn.LogSoftmax(dim=0)),
    (F.flatten, nn.Flatten()),
    (lambda x: F.dropout(x, 0.4, training=False), nn.Dropout(0.4).eval()),
]


@pytest.mark.parametrize("functional, module", PAIRS, ids=lambda v: repr(v)[:30])
def test_functional_equals_module_values_and_gradients(functional, module) -> None:
    a, b = Tensor(X, requires_grad=True), Tensor(X, requires_grad=True)
    out_a, out_b = functional(a), module(b)
    np.testing.assert_array_equal(out_a.data, out_b.data)
    weights = np.arange(out_a.data.size, dtype=np.float32).reshape(out_a.shape)
    (out_a * weights).sum().backward()
    (out_b * weights).sum().backward()
    np.testing.assert_array_equal(a.grad.data, b.grad.data)


def test_functional_linear_equals_linear_layer() -> None:
    layer = nn.Linear(5, 2)
    layer.bias.data[...] = [0.5, -1.0]
    x = Tensor(X)
    np.testing.assert_array_equal(F.linear(x, layer.weight, layer.bias).data, layer(x).data)
    np.testing.assert_array_equal(F.linear(x, layer.weight).data, (x @ layer.weight).data)


def test_functional_linear_shape_error_mentions_the_layout() -> None:
    with pytest.raises(ShapeError) as info:
        F.linear(Tensor(np.ones((2, 5))), Tensor(np.ones((3, 5))))  # a torch-layout weight
    assert_three_parts(str(info.value), "(2, 5)", "(3, 5)", "weight.T")


def test_functional_dropout_matches_the_module_under_the_same_seed() -> None:
    x = Tensor(np.ones((20, 30)))
    manual_seed(3)
    a = F.dropout(x, 0.25)
    manual_seed(3)
    b = nn.Dropout(0.25)(x)
    np.testing.assert_array_equal(a.data, b.data)
    assert 0.15 < np.mean(a.data == 0) < 0.35
    assert F.dropout(x, 0.25, training=False) is x


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_functional_losses_equal_loss_modules(reduction: str) -> None:
    rng = np.random.default_rng(2)
    logits = Tensor(rng.normal(size=(4, 3)))
    labels = np.array([0, 2, 1, -100])
    probs = Tensor(rng.uniform(0.1, 0.9, size=(4, 3)))
    binary = (rng.uniform(size=(4, 3)) > 0.5).astype(np.float32)
    pairs = [
        (F.cross_entropy(logits, labels, reduction=reduction, label_smoothing=0.1),
         nn.CrossEntropyLoss(reduction, label_smoothing=0.1)(logits, labels)),
        (F.nll_loss(F.log_softmax(logits), labels, reduction=reduction),
         nn.NLLLoss(reduction)(nn.LogSoftmax()(logits), labels)),
        (F.mse_loss(probs, binary, reduction=reduction), nn.MSELoss(reduction)(probs, binary)),
        (F.binary_cross_entropy(probs, binary, reduction=reduction),
         nn.BCELoss(reduction)(probs, binary)),
        (F.binary_cross_entropy_with_logits(logits, binary, reduction=reduction),
         nn.BCEWithLogitsLoss(reduction)(logits, binary)),
    ]
    for functional, module in pairs:
        np.testing.assert_array_equal(functional.data, module.data)


def test_one_hot() -> None:
    out = F.one_hot(Tensor([2, 0, 1], dtype=np.int64))
    assert out.dtype == np.int64 and out.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert F.one_hot([[1], [0]], num_classes=4).shape == (2, 1, 4)
    assert F.one_hot(np.array([1.0, 0.0])).tolist() == [[0, 1], [1, 0]]
    with pytest.raises(IndexOutOfRangeError) as info:
        F.one_hot([0, 3], num_classes=3)
    assert_three_parts(str(info.value), "0..3", "3 classes")
    with pytest.raises(DTypeError):
        F.one_hot(np.array([0.5]))


# --- nn.init -------------------------------------------------------------------------------------


def test_init_fills_in_place_and_returns_the_tensor() -> None:
    layer = nn.Linear(3, 2)
    weight = layer.weight
    data = weight.data
    assert nn.init.zeros_(weight) is weight and weight.data is data
    assert not weight.data.any()
    assert nn.init.ones_(layer.bias).tolist() == [1.0, 1.0]
    assert nn.init.constant_(layer.bias, 0.25).tolist() == [0.25, 0.25]
    assert weight.data.dtype == np.float32


def test_fans_follow_our_layouts() -> None:
    assert nn.init.fans(nn.Linear(30, 20).weight) == (30, 20)  # (in, out)
    assert nn.init.fans(Tensor(np.zeros((16, 3, 5, 5)))) == (3 * 25, 16 * 25)  # (out, in, kh, kw)
    with pytest.raises(ShapeError) as info:
        nn.init.fans(Tensor(np.zeros(4)))
    assert_three_parts(str(info.value), "(4,)")


@pytest.mark.parametrize("scheme, expected_std", [
    (lambda t: nn.init.xavier_uniform_(t), math.sqrt(2 / (400 + 200))),
    (lambda t: nn.init.xavier_normal_(t, gain=2.0), 2 * math.sqrt(2 / (400 + 200))),
    (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / 400)),
    (lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
     math.sqrt(2 / 200)),
    (lambda t: nn.init.kaiming_normal_(t, a=0.0), math.sqrt(2 / 400)),
    (lambda t: nn.init.normal_(t, mean=1.0, std=0.5), 0.5),
    (lambda t: nn.init.uniform_(t, -1.0, 3.0), 4 / math.sqrt(12)),
])
def test_init_schemes_have_the_right_spread(scheme, expected_std: float) -> None:
    weight = Tensor(np.zeros((400, 200), dtype=np.float32))
    scheme(weight)
    assert weight.data.std() == pytest.approx(expected_std, rel=0.02)
    assert weight.dtype == np.float32


def test_init_is_reproducible_and_validates_arguments() -> None:
    a, b = Tensor(np.zeros((5, 5))), Tensor(np.zeros((5, 5)))
    manual_seed(11)
    nn.init.xavier_uniform_(a)
    manual_seed(11)
    nn.init.xavier_uniform_(b)
    np.testing.assert_array_equal(a.data, b.data)
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError):
        nn.init.kaiming_normal_(a, mode="fan_avg")
