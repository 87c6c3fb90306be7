"""Unit tests for module 03, layers: discovery, modes, state, files, repr, Linear and Dropout."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import numpy as np
import pytest
from oracle_helpers import assert_three_parts

from tinytorch.core.activations import ReLU
from tinytorch.core.errors import SerializationError, ShapeError
from tinytorch.core.layers import (
    Dense,
    Dropout,
    Flatten,
    Identity,
    Layer,
    Linear,
    Module,
    ModuleList,
    Sequential,
)
from tinytorch.core.tensor import Parameter, Tensor


class Block(Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = Linear(3, 3)
        self.drop = Dropout(0.5)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc(x))


class Net(Module):
    """Sub-modules in every container a user might reach for."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Linear(4, 3)
        self.blocks = [Block(), Block()]                      # plain list
        self.heads = {"a": Linear(3, 2), "b": Linear(3, 1)}   # dict
        self.extra = ModuleList([Linear(3, 3)])
        self.seq = Sequential(Linear(3, 3), ReLU())
        self.scale = Parameter(np.ones(1, dtype=np.float32))
        self.shared = self.stem                               # a second name for the same layer

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.heads["a"](self.seq(self.extra[0](h))) * self.scale


class NoSuper(Module):
    """Upstream-style module that never calls super().__init__()."""

    def __init__(self) -> None:
        self.layer = Linear(2, 2)
        self.drop = Dropout(0.3)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.layer(x))


# --- discovery -----------------------------------------------------------------------------------


def test_nested_registration_names_every_parameter_once() -> None:
    names = [name for name, _ in Net().named_parameters()]
    assert names == [
        "scale",
        "stem.weight", "stem.bias",
        "blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.1.fc.weight", "blocks.1.fc.bias",
        "heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias",
        "extra.0.weight", "extra.0.bias",
        "seq.0.weight", "seq.0.bias",
    ]  # a module's own parameters first, then each sub-module's, depth first (as PyTorch)
    assert "shared.weight" not in names  # the alias of stem is not counted twice


def test_parameter_count_equals_sum_of_distinct_parameters() -> None:
    net = Net()
    sizes = 4 * 3 + 3 + 2 * (3 * 3 + 3) + (3 * 2 + 2) + (3 * 1 + 1) + (3 * 3 + 3) * 2 + 1
    assert net.num_parameters() == sizes
    assert sum(p.data.size for p in net.parameters()) == sizes


def test_shared_parameters_are_counted_once() -> None:
    a = Linear(4, 4)
    b = Linear(4, 4)
    b.weight = a.weight  # tied weights
    model = Sequential(a, b)
    assert len(model.parameters()) == 3
    assert sum(p is a.weight for p in model.parameters()) == 1


def test_modules_and_children() -> None:
    net = Net()
    children = dict(net.named_children())
    assert list(children) == ["stem", "blocks.0", "blocks.1", "heads.a", "heads.b", "extra", "seq"]
    module_names = [name for name, _ in net.named_modules()]
    assert module_names[0] == "" and "blocks.1.drop" in module_names and "seq.0" in module_names
    assert len(module_names) == len(set(module_names))
    assert sum(isinstance(m, Dropout) for m in net.modules()) == 2


def test_module_without_super_init_still_works() -> None:
    model = NoSuper()
    assert [name for name, _ in model.named_parameters()] == ["layer.weight", "layer.bias"]
    assert model.training is True
    model.eval()
    assert model.training is False and model.drop.training is False
    x = Tensor(np.ones((3, 2)))
    np.testing.assert_array_equal(model(x).data, model.layer(x).data)  # dropout is off in eval


def test_sequential_accepts_varargs_and_a_list() -> None:
    layers = [Linear(2, 3), ReLU(), Linear(3, 1)]
    a, b = Sequential(*layers), Sequential(layers)
    assert len(a) == len(b) == 3 and a[0] is b[0] and a.layers == layers
    x = Tensor(np.ones((4, 2)))
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_module_list_append_iterate_and_index() -> None:
    blocks = ModuleList()
    blocks.append(Linear(2, 2)).append(Linear(2, 2))
    assert len(blocks) == 2 and list(blocks) == [blocks[0], blocks[1]]
    assert [n for n, _ in blocks.named_parameters()] == ["0.weight", "0.bias", "1.weight",
                                                         "1.bias"]


# --- modes ---------------------------------------------------------------------------------------


def test_train_and_eval_reach_every_descendant() -> None:
    net = Net()
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.blocks[1].drop.training and not net.seq.training


def test_dropout_is_identity_in_eval() -> None:
    drop = Dropout(0.9).eval()
    x = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert drop(x) is x
    assert Dropout(0.9)(x, training=False) is x  # upstream's training= argument


def test_dropout_in_training_zeroes_about_p_and_scales_survivors() -> None:
    p = 0.3
    x = Tensor(np.ones((200, 500), dtype=np.float32), requires_grad=True)
    out = Dropout(p)(x)
    zeroed = np.mean(out.data == 0)
    assert abs(zeroed - p) < 0.01  # 100000 draws: the standard error is 0.0015
    survivors = out.data[out.data != 0]
    np.testing.assert_allclose(survivors, 1 / (1 - p), rtol=1e-6)
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, out.data)  # the same mask scales the gradient


def test_dropout_reproducible_under_manual_seed() -> None:
    from tinytorch.core.rng import manual_seed

    x = Tensor(np.ones((10, 10)))
    manual_seed(7)
    a = Dropout(0.5)(x).data
    manual_seed(7)
    b = Dropout(0.5)(x).data
    np.testing.assert_array_equal(a, b)


def test_dropout_edge_probabilities_and_invalid_p() -> None:
    x = Tensor(np.ones((2, 3)))
    assert Dropout(0.0)(x).tolist() == x.tolist()
    assert Dropout(1.0)(x).tolist() == [[0.0] * 3] * 2
    with pytest.raises(ValueError) as info:
        Dropout(1.5)
    assert_three_parts(str(info.value), "1.5")


# --- Linear --------------------------------------------------------------------------------------


def test_linear_computes_x_at_w_plus_b_with_in_out_weight() -> None:
    layer = Linear(3, 2)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)
    assert layer.weight.requires_grad and layer.bias.requires_grad
    layer.weight.data[...] = [[1, 0], [0, 1], [1, 1]]
    layer.bias.data[...] = [0.5, -0.5]
    assert layer(Tensor([[1.0, 2.0, 3.0]])).tolist() == [[4.5, 4.5]]
    assert layer(Tensor(np.ones((2, 5, 3)))).shape == (2, 5, 2)  # any leading axes


def test_linear_without_bias_has_one_parameter() -> None:
    layer = Linear(4, 2, bias=False)
    assert layer.bias is None and layer.parameters() == [layer.weight]


def test_linear_shape_error_is_three_part() -> None:
    with pytest.raises(ShapeError) as info:
        Linear(4, 2)(Tensor(np.ones((3, 5))))
    assert_three_parts(str(info.value), "Linear(4, 2)", "(3, 5)", "in_features=4")


def test_linear_init_scale_is_lecun() -> None:
    w = Linear(400, 300).weight.data
    assert w.dtype == np.float32
    assert abs(w.std() - 1 / np.sqrt(400)) < 0.002 and abs(w.mean()) < 0.002


def test_upstream_aliases_dense_layer_and_weights() -> None:
    assert Dense is Linear and Layer is Module
    layer = Dense(3, 2)
    assert layer.weights is layer.weight
    replacement = Parameter(np.zeros((3, 2), dtype=np.float32))
    layer.weights = replacement
    assert layer.weight is replacement
    assert len(layer.parameters()) == 2  # the alias is a property, not a second parameter


def test_flatten_and_identity() -> None:
    x = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    assert Flatten()(x).shape == (2, 12)
    assert Flatten(0)(x).shape == (24,)
    assert Flatten(1, 1)(x).shape == (2, 3, 4)
    assert Identity()(x) is x


# --- state dicts and files ------------------------------------------------------------------------


def snapshot(model: Module) -> dict[str, np.ndarray]:
    return model.state_dict()


def assert_same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_state_dict_is_a_copy_and_round_trips() -> None:
    source, target = Net(), Net()
    state = source.state_dict()
    state["stem.weight"][...] = 42.0  # editing the copy leaves the model alone
    assert not np.any(source.stem.weight.data == 42.0)
    target.load_state_dict(source.state_dict())
    assert_same_state(target.state_dict(), source.state_dict())
    x = Tensor(np.ones((2, 4)))
    source.eval(), target.eval()
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_buffers_are_saved_and_loaded() -> None:
    class WithBuffer(Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = Linear(2, 2)
            self.register_buffer("running_mean", np.zeros(2, dtype=np.float32))

    a, b = WithBuffer(), WithBuffer()
    a.running_mean[...] = [1.5, -2.0]
    assert [name for name, _ in a.named_buffers()] == ["running_mean"]
    b.load_state_dict(a.state_dict())
    assert b.running_mean.tolist() == [1.5, -2.0]


@pytest.mark.parametrize("break_it, words", [
    (lambda s: s.pop("stem.bias"), ["missing", "stem.bias"]),
    (lambda s: s.update(bogus=np.zeros(1)), ["unexpected", "bogus"]),
    (lambda s: s.update({"heads.b.weight": np.zeros((3, 2))}), ["heads.b.weight", "(3, 2)"]),
])
def test_load_state_dict_errors_leave_model_unchanged(break_it, words: list[str]) -> None:
    model = Net()
    before = snapshot(model)
    state = {k: v + 1 for k, v in Net().state_dict().items()}  # every value differs
    break_it(state)
    with pytest.raises(SerializationError) as info:
        model.load_state_dict(state)
    assert_three_parts(str(info.value), *words)
    assert_same_state(model.state_dict(), before)


def test_load_state_dict_non_strict_ignores_extra_and_missing_keys() -> None:
    model = Linear(2, 2)
    model.load_state_dict({"weight": np.full((2, 2), 3.0), "other": np.zeros(1)}, strict=False)
    assert model.weight.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert model.bias.tolist() == [0.0, 0.0]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    source, target = Net(), Net()
    path = tmp_path / "net.npz"
    source.save(path)
    assert target.load(path) is target
    assert_same_state(target.state_dict(), source.state_dict())


def test_corrupt_file_is_rejected_and_model_unchanged(tmp_path: Path) -> None:
    model = Net()
    before = snapshot(model)
    path = tmp_path / "broken.npz"
    Net().save(path)
    path.write_bytes(path.read_bytes()[:100])  # truncated mid-archive
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(SerializationError) as info:
            model.load(path)
        message = str(info.value)
        del info  # drop the traceback, and with it anything the failed read still holds
        gc.collect()
    assert_three_parts(message, "broken.npz")
    assert_same_state(model.state_dict(), before)
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, f"a failed load left the file open: {leaks}"


def test_file_from_another_architecture_is_rejected_and_model_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    Sequential(Linear(4, 3)).save(path)
    model = Net()
    before = snapshot(model)
    with pytest.raises(SerializationError):
        model.load(path)
    assert_same_state(model.state_dict(), before)


def test_missing_file_and_foreign_npz_are_rejected(tmp_path: Path) -> None:
    model = Linear(2, 2)
    with pytest.raises(SerializationError):
        model.load(tmp_path / "nope.npz")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weight=np.zeros((2, 2)), bias=np.zeros(2))
    with pytest.raises(SerializationError) as info:
        model.load(foreign)
    assert_three_parts(str(info.value), "not a tinytorch model file")


# --- repr and gradients --------------------------------------------------------------------------


def test_repr_is_a_tree() -> None:
    text = repr(Sequential(Linear(2, 3), ReLU(), Sequential(Dropout(0.1), Linear(3, 1))))
    assert text == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.1)\n"
        "    (1): Linear(in_features=3, out_features=1, bias=True)\n"
        "  )\n"
        ")"
    )
    block = repr(Block())
    assert block.startswith("Block(\n  (fc): Linear(in_features=3")
    assert "\n  (drop): Dropout(p=0.5)\n)" in block


def test_zero_grad_clears_every_parameter_gradient() -> None:
    net = Net().eval()
    net(Tensor(np.ones((2, 4)))).sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p is not net.heads["b"].weight
               and p is not net.heads["b"].bias)
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_linear_gradients_by_hand() -> None:
    layer = Linear(2, 1)
    layer.weight.data[...] = [[2.0], [3.0]]
    x = Tensor([[1.0, 4.0], [2.0, 5.0]])
    layer(x).sum().backward()
    assert layer.weight.grad.tolist() == [[3.0], [9.0]]  # column sums of x
    assert layer.bias.grad.tolist() == [2.0]
