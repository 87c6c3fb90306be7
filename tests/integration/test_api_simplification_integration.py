"""Standard: the PyTorch-style faces and the upstream names reach the same machinery.

``tinytorch.nn``, ``tinytorch.nn.functional`` and ``tinytorch.optim`` re-export the classes of
``tinytorch.core``; code written in PyTorch's habits and code written against the upstream
course (``Dense``, ``MultiChannelConv2D``, ``.weights``) must both train, and the functional
and module forms must compute the same numbers and the same gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinytorch
import tinytorch.nn.functional as F  # noqa: N812 (PyTorch's conventional name)
from tinytorch import nn, optim
from tinytorch.core import layers, spatial, transformer
from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Parameter, Tensor


class Net(nn.Module):
    """A model in PyTorch's habits: sub-modules as attributes, functional activations."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.relu(self.fc1(x)))


def test_quick_pytorch_style_model_trains_with_optim_and_functional(
        rng: np.random.Generator) -> None:
    x = rng.standard_normal((60, 4)).astype(np.float32)
    y = np.argmax(x[:, :3], axis=1)  # the class is the largest of the first three features
    net = Net()
    optimizer = optim.Adam(net.parameters(), lr=0.03)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = F.cross_entropy(net(Tensor(x)), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert [name for name, _ in net.named_parameters()] == [
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert losses[-1] < 0.3 * losses[0]
    assert (net(Tensor(x)).data.argmax(axis=1) == y).mean() >= 0.9


class Encoder(nn.Module):
    """Every way of holding sub-modules and parameters, nested."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5))
        self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.extra = [nn.Linear(4, 4)]                   # a plain list is found too
        self.heads = {"a": nn.Linear(4, 1), "b": nn.Linear(4, 2)}
        self.scale = nn.Parameter(np.ones(4, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        for block in [*self.blocks, *self.extra]:
            h = F.relu(block(h)) + h
        h = h * self.scale
        return tinytorch.concat([self.heads["a"](h), self.heads["b"](h)], axis=-1)  # (N, 3)


def test_quick_nested_containers_expose_every_parameter(rng: np.random.Generator) -> None:
    model = Encoder()
    names = [name for name, _ in model.named_parameters()]
    assert names == [  # the module's own parameters first, then its children's (as PyTorch)
        "scale", "stem.0.weight", "stem.0.bias", "blocks.0.weight", "blocks.0.bias",
        "blocks.1.weight", "blocks.1.bias", "extra.0.weight", "extra.0.bias", "heads.a.weight",
        "heads.a.bias", "heads.b.weight", "heads.b.bias"]
    assert set(model.state_dict()) == set(names)
    assert model.num_parameters() == 3 * 4 + 4 + 3 * (4 * 4 + 4) + (4 + 1) + (8 + 2) + 4

    model.eval()  # no dropout here, so every unit passes a gradient back
    out = model(Tensor(rng.standard_normal((5, 3))))
    assert out.shape == (5, 3)
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.data).sum() > 0, f"{name} got no gradient"
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())

    dropout = model.stem[2]
    assert not dropout.training and not model.heads["b"].training
    model.train()
    assert dropout.training and model.extra[0].training


def test_parameter_attribute_is_learned_by_an_optimizer() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gain = nn.Parameter(np.array([0.5], dtype=np.float32))

        def forward(self, x: Tensor) -> Tensor:
            return x * self.gain

    model = Scaled()
    assert nn.Parameter is Parameter and model.gain.requires_grad
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    x, y = Tensor([[1.0], [2.0], [3.0]]), Tensor([[3.0], [6.0], [9.0]])
    for _ in range(50):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    assert model.gain.item() == pytest.approx(3.0, abs=1e-3)


def test_quick_functional_forms_equal_their_modules(rng: np.random.Generator) -> None:
    x_np = rng.standard_normal((4, 6)).astype(np.float32)
    layer = nn.Linear(6, 3)

    x1 = Tensor(x_np, requires_grad=True)
    out_module = layer(x1)
    out_module.sum().backward()
    module_grads = (x1.grad.data.copy(), layer.weight.grad.data.copy())
    layer.zero_grad()
    x2 = Tensor(x_np, requires_grad=True)
    out_functional = F.linear(x2, layer.weight, layer.bias)
    out_functional.sum().backward()
    np.testing.assert_array_equal(out_functional.data, out_module.data)
    np.testing.assert_array_equal(x2.grad.data, module_grads[0])
    np.testing.assert_array_equal(layer.weight.grad.data, module_grads[1])

    x = Tensor(x_np)
    labels = rng.integers(0, 6, size=4)
    np.testing.assert_array_equal(F.relu(x).data, nn.ReLU()(x).data)
    np.testing.assert_array_equal(F.gelu(x).data, nn.GELU()(x).data)
    np.testing.assert_allclose(F.softmax(x, dim=-1).data.sum(axis=-1), 1.0, rtol=1e-6)
    assert F.cross_entropy(x, labels).item() == pytest.approx(
        CrossEntropyLoss()(x, labels).item(), rel=1e-7)
    assert F.mse_loss(x, Tensor(x_np * 0)).item() == pytest.approx(
        MSELoss()(x, Tensor(x_np * 0)).item(), rel=1e-7)
    np.testing.assert_array_equal(F.dropout(x, p=0.5, training=False).data, x_np)
    assert F.flatten(Tensor(np.zeros((2, 3, 4)))).shape == (2, 12)


def test_functional_spatial_ops_equal_their_modules(rng: np.random.Generator) -> None:
    images = Tensor(rng.standard_normal((2, 3, 6, 6)))
    conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
    np.testing.assert_allclose(F.conv2d(images, conv.weight, conv.bias, padding=1).data,
                               conv(images).data, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(F.max_pool2d(images, 2).data, nn.MaxPool2d(2)(images).data)
    np.testing.assert_array_equal(F.avg_pool2d(images, 2).data, nn.AvgPool2d(2)(images).data)
    assert nn.BatchNorm2d(3)(images).shape == (2, 3, 6, 6)


def test_quick_upstream_names_are_the_same_classes_and_attributes() -> None:
    assert layers.Dense is layers.Linear is nn.Linear is tinytorch.Linear
    assert layers.Layer is layers.Module is nn.Module
    assert spatial.MultiChannelConv2D is spatial.Conv2D is spatial.Conv2d
    assert spatial.MaxPool2D is spatial.MaxPool2d and spatial.AvgPool2D is spatial.AvgPool2d
    assert transformer.TinyGPT is transformer.GPT
    assert optim.SGD is SGD and optim.lr_scheduler.StepLR is optim.StepLR

    dense = layers.Dense(3, 2)
    assert dense.weights is dense.weight  # upstream's plural name, not a second parameter
    assert len(dense.parameters()) == 2
    replacement = Parameter(np.zeros((3, 2), dtype=np.float32))
    dense.weights = replacement
    assert dense.weight is replacement

    norm = transformer.LayerNorm(4)
    assert norm.gamma is norm.weight and norm.beta is norm.bias and len(norm.parameters()) == 2

    enable_autograd()
    enable_autograd()  # compatibility call: harmless however often it runs
    x = Tensor([2.0], requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 4.0


def test_upstream_style_code_trains_unchanged(rng: np.random.Generator) -> None:
    # Written the way the course's notebooks write it: Dense layers in a list-form Sequential,
    # MultiChannelConv2D, weights read as `.weights`, gradients handled like arrays.
    conv = spatial.MultiChannelConv2D(in_channels=1, out_channels=2, kernel_size=3)
    model = layers.Sequential([conv, ReLU(), layers.Flatten(), layers.Dense(2 * 4 * 4, 2)])
    images = rng.standard_normal((8, 1, 6, 6)).astype(np.float32)
    labels = np.array([0, 1] * 4)
    optimizer = SGD(model.parameters(), lr=0.05)
    first_loss = None
    for _ in range(30):
        optimizer.zero_grad()
        loss = CrossEntropyLoss()(model(Tensor(images)), Tensor(labels, dtype=np.int64))
        loss.backward()
        first_loss = loss.item() if first_loss is None else first_loss
        head = model.layers[3]
        assert head.weights.grad.shape == (32, 2)
        assert np.linalg.norm(head.weights.grad) > 0          # a grad works as an array
        assert np.allclose(head.weights.grad.copy(), head.weight.grad.data)
        optimizer.step()
    assert loss.item() < 0.5 * first_loss


def test_optimizer_accepts_a_generator_and_a_writable_lr(rng: np.random.Generator) -> None:
    model = nn.Sequential(nn.Linear(2, 2))
    optimizer = optim.SGD((p for p in model.parameters()), lr=0.1)
    assert len(optimizer.params) == 2 and optimizer.parameters is optimizer.params
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    before = model.layers[0].bias.data.copy()
    model(Tensor(rng.standard_normal((3, 2)))).sum().backward()
    scheduler.step()
    assert optimizer.lr == pytest.approx(0.05)
    optimizer.step()
    # d(sum)/d(bias) is the batch size for every output: the step is lr * 3
    np.testing.assert_allclose(model.layers[0].bias.data, before - 0.05 * 3, rtol=1e-6)


def tiny_model_state(model: Any) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def test_models_built_from_either_face_share_state_dicts(tmp_path: Any) -> None:
    ours = Net()
    path = tmp_path / "net.npz"
    ours.save(path)
    again = Net().load(path)
    for key, value in tiny_model_state(ours).items():
        np.testing.assert_array_equal(again.state_dict()[key], value)
    # the same numbers loaded into a core-built twin: the faces are one implementation
    twin = layers.Sequential(layers.Linear(4, 16), ReLU(), layers.Linear(16, 3))
    twin.load_state_dict({"0.weight": ours.fc1.weight.data, "0.bias": ours.fc1.bias.data,
                          "2.weight": ours.fc2.weight.data, "2.bias": ours.fc2.bias.data})
    x = Tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))
    np.testing.assert_array_equal(twin(x).data, ours(x).data)
