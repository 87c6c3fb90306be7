"""The PyTorch tensor surface without PyTorch: dtypes, devices, factories, max/min forms,
keyword names, grad_fn names, save/load. Values are checked against NumPy computations."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from oracle_helpers import assert_three_parts

import tinytorch
from tinytorch import nn
from tinytorch.core import autograd
from tinytorch.core.autograd import Node, is_grad_enabled
from tinytorch.core.errors import (
    ConfigError,
    DTypeError,
    IndexOutOfRangeError,
    SerializationError,
    ShapeError,
)
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Parameter, Tensor

# --- dtypes and devices ----------------------------------------------------------------------


def test_dtype_names_are_numpy_types_accepted_everywhere() -> None:
    assert tinytorch.float32 is np.float32 and tinytorch.float is np.float32
    assert tinytorch.long is np.int64 and tinytorch.int is np.int32
    assert tinytorch.float64 is tinytorch.double is np.float64 and tinytorch.bool is np.bool_
    assert Tensor([1, 2], dtype=tinytorch.long).dtype == tinytorch.long
    assert Tensor([1, 2], dtype="torch.int32").dtype == np.int32
    assert tinytorch.zeros(2, dtype="long").dtype == np.int64
    assert tinytorch.ones(2, dtype=tinytorch.float16).dtype == np.float16


def test_unknown_dtype_is_a_clear_error() -> None:
    with pytest.raises(DTypeError) as info:
        Tensor([1.0], dtype="torch.complex_thing")
    assert_three_parts(str(info.value), "complex_thing", "tinytorch.float32")


def test_cpu_device_is_a_no_op_and_a_gpu_a_clear_error() -> None:
    x = Tensor([1.0, 2.0])
    assert x.to("cpu") is x and x.cpu() is x and x.to(tinytorch.device("cpu")) is x
    assert x.device == "cpu" and x.device == tinytorch.device("cpu") and not x.is_cuda
    assert not tinytorch.cuda.is_available() and tinytorch.cuda.device_count() == 0
    assert not tinytorch.backends.mps.is_available()
    assert tinytorch.zeros(2, device="cpu").shape == (2,)
    for bad in (lambda: x.to("cuda"), lambda: tinytorch.device("cuda:0"),
                lambda: tinytorch.zeros(2, device="mps"), lambda: x.to(device="cuda")):
        with pytest.raises(ConfigError) as info:
            bad()
        assert_three_parts(str(info.value), "CPU only", "is_available()")


def test_to_takes_what_module_to_passes_dtypes_devices_and_tensors() -> None:
    x = Tensor([1.5, -2.0])
    assert x.to("cpu", tinytorch.float64).dtype == np.float64
    assert x.to(device="cpu", dtype=None) is x
    assert x.to(tinytorch.long, non_blocking=True).tolist() == [1, -2]
    assert x.to(Tensor([1], dtype=np.int32)).dtype == np.int32
    assert x.to(np.float32, copy=True) is not x
    assert x.float() is x and x.double().dtype == np.float64 and x.half().dtype == np.float16
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32
    assert x.bool().tolist() == [True, True]


def test_type_names_and_conversions() -> None:
    x = Tensor([1.0])
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
    assert x.type(tinytorch.float64).dtype == np.float64
    assert x.type("torch.LongTensor").dtype == np.int64
    assert x.type_as(Tensor([1], dtype=np.int64)).dtype == np.int64
    assert x.is_floating_point() and not x.long().is_floating_point()
    assert x.element_size() == 4 and x.nelement() == 1


def test_float_casts_are_differentiable_and_integer_casts_detach() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = w.double()
    assert y.dtype == np.float64 and type(y.grad_fn).__name__ == "ToCopyBackward"
    (y * y).sum().backward()
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [2.0, 4.0]
    assert not w.long().requires_grad and w.long().grad_fn is None


def test_int64_survives_the_float64_cast_exactly() -> None:
    big = Tensor([2**53 - 1], dtype=np.int64)
    assert int(big.double().item()) == 2**53 - 1  # no detour through float32


# --- factories -----------------------------------------------------------------------------


def test_tensor_infers_dtypes_as_pytorch_and_Tensor_keeps_the_course_rule() -> None:  # noqa: N802
    assert tinytorch.tensor([1, 2]).dtype == np.int64
    assert tinytorch.tensor([1.0, 2]).dtype == np.float32
    assert tinytorch.tensor([True, False]).dtype == np.bool_
    assert tinytorch.tensor(np.zeros(2)).dtype == np.float64  # an array keeps its dtype
    assert tinytorch.tensor([1, 2], dtype=tinytorch.float).dtype == np.float32
    assert Tensor([1, 2]).dtype == np.float32
    t = tinytorch.tensor([1.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_from_numpy_shares_memory_both_ways() -> None:
    array = np.zeros(3)
    t = tinytorch.from_numpy(array)
    assert t.dtype == np.float64
    array[0] = 5.0
    t.add_(1.0)
    assert t.tolist() == [6.0, 1.0, 1.0] and array.tolist() == [6.0, 1.0, 1.0]
    assert tinytorch.as_tensor(array).data is array
    with pytest.raises(DTypeError) as info:
        tinytorch.from_numpy([1.0, 2.0])  # type: ignore[arg-type]
    assert_three_parts(str(info.value), "list", "tinytorch.tensor")


def test_randint_forms_ranges_and_reproducibility() -> None:
    manual_seed(3)
    a = tinytorch.randint(2, 7, (500,))
    manual_seed(3)
    b = tinytorch.randint(low=2, high=7, size=(500,))
    assert a.dtype == np.int64 and a.tolist() == b.tolist()
    assert set(a.tolist()) == {2, 3, 4, 5, 6}
    c = tinytorch.randint(3, (2, 4))
    assert c.shape == (2, 4) and c.data.min() >= 0 and c.data.max() < 3
    with pytest.raises(ConfigError):
        tinytorch.randint(5, 5, (2,))


def test_like_factories_linspace_empty_and_full() -> None:
    x = Tensor(np.ones((2, 3)), dtype=np.float64)
    assert tinytorch.randn_like(x).shape == (2, 3) and tinytorch.randn_like(x).dtype == np.float64
    assert tinytorch.rand_like(Tensor([1], dtype=np.int64)).dtype == np.float32
    np.testing.assert_array_equal(tinytorch.linspace(0, 1, 5).data,
                                  np.linspace(0, 1, 5, dtype=np.float32))
    assert tinytorch.empty(2, 3).tolist() == [[0.0] * 3] * 2
    assert tinytorch.empty_like(x).dtype == np.float64
    assert tinytorch.full((2,), 7).dtype == np.int64
    assert tinytorch.full((2,), 0.5).dtype == np.float32
    assert tinytorch.full((2,), True).dtype == np.bool_
    assert tinytorch.full_like(x, 3).tolist() == [[3.0] * 3] * 2
    assert tinytorch.zeros_like(x, dtype=tinytorch.long).dtype == np.int64


def test_tril_and_triu_match_numpy_on_a_batch() -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for k in (-1, 0, 1):
        np.testing.assert_array_equal(tinytorch.tril(Tensor(x), k).data, np.tril(x, k))
        np.testing.assert_array_equal(tinytorch.triu(Tensor(x), diagonal=k).data, np.triu(x, k))
    assert tinytorch.tril(tinytorch.ones(3, 3, dtype=tinytorch.long)).dtype == np.int64


def test_multinomial_follows_the_weights() -> None:
    manual_seed(0)
    weights = Tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 5.0]])
    draws = tinytorch.multinomial(weights, 4000, replacement=True).data
    assert draws.shape == (2, 4000) and draws.dtype == np.int64
    assert abs((draws[0] == 2).mean() - 0.75) < 0.03 and not (draws[0] == 0).any()
    assert abs((draws[1] == 0).mean() - 0.5) < 0.03 and not (draws[1] == 1).any()
    unique = tinytorch.multinomial(Tensor(np.ones((3, 5))), 5).data
    assert all(sorted(row) == [0, 1, 2, 3, 4] for row in unique.tolist())
    assert tinytorch.multinomial(Tensor([0.0, 1.0]), 1).tolist() == [1]
    with pytest.raises(ConfigError):
        tinytorch.multinomial(weights, 3)  # only two categories with weight per row
    with pytest.raises(ConfigError):
        tinytorch.multinomial(Tensor([-1.0, 2.0]), 1)


# --- max / min: the course's values and PyTorch's (values, indices) --------------------------


def test_max_dim_unpacks_values_and_indices_for_two_rows() -> None:
    x = Tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    v, i = x.max(dim=1)  # used to unpack the two rows of the values
    assert v.tolist() == [5.0, 6.0] and i.tolist() == [1, 2]
    v, i = x.min(1)
    assert v.tolist() == [1.0, 2.0] and i.tolist() == [0, 1]
    result = tinytorch.max(x, dim=0, keepdim=True)
    assert result.values.shape == (1, 3) and result.indices.tolist() == [[1, 0, 1]]
    _, predicted = tinytorch.max(x, 1)  # the classic accuracy idiom
    assert predicted.tolist() == [1, 2]


def test_max_axis_and_no_argument_return_a_tensor() -> None:
    x = Tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert isinstance(x.max(axis=1), Tensor) and x.max(axis=1).tolist() == [5.0, 6.0]
    assert x.max(axis=1, keepdims=True).shape == (2, 1)
    assert x.min(axis=(0, 1)).item() == 1.0 and x.max().item() == 6.0
    assert tinytorch.max(x).item() == 6.0
    assert x.max(Tensor([2.0, 2.0, 7.0])).tolist() == [[2.0, 5.0, 7.0], [4.0, 2.0, 7.0]]
    with pytest.raises(ShapeError) as info:
        x.max(dim=(0, 1))
    assert_three_parts(str(info.value), "axis=(0, 1)")


def test_ties_max_dim_grads_the_reported_index_max_axis_splits() -> None:
    x = Tensor([[2.0, 2.0, 1.0]], requires_grad=True)
    v, i = x.max(dim=1)
    v.sum().backward()
    assert i.tolist() == [0] and x.grad.tolist() == [[1.0, 0.0, 0.0]]
    x.zero_grad()
    x.max(axis=1).sum().backward()
    assert x.grad.tolist() == [[0.5, 0.5, 0.0]]


def test_keepdim_on_every_reduction() -> None:
    x = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    for name in ("sum", "mean", "var", "std", "argmax", "argmin", "all", "any", "norm"):
        assert getattr(x, name)(dim=1, keepdim=True).shape == (2, 1, 4), name
        assert getattr(x, name)(dim=1).shape == (2, 4), name
    assert x.max(dim=1, keepdim=True).values.shape == (2, 1, 4)
    assert x.argmax(dim=-1, keepdim=True).tolist() == [[[3]] * 3] * 2
    assert tinytorch.argmax(x, dim=0, keepdim=True).shape == (1, 3, 4)


def test_clamp_takes_pytorch_and_course_keywords() -> None:
    x = Tensor([-2.0, 0.5, 3.0])
    assert x.clamp(min=-1.0, max=1.0).tolist() == [-1.0, 0.5, 1.0]
    assert x.clip(min_val=0.0).tolist() == [0.0, 0.5, 3.0]
    assert tinytorch.clamp(x, max=0.0).tolist() == [-2.0, 0.0, 0.0]
    assert x.clamp(-1, 1).tolist() == [-1.0, 0.5, 1.0]


def test_failed_reshape_says_element_count_mismatch() -> None:
    with pytest.raises(ShapeError) as info:
        Tensor(np.zeros((2, 3))).reshape(4, 2)
    assert_three_parts(str(info.value), "element count mismatch", "(2, 3)", "multiply to 6")


# --- grad mode -----------------------------------------------------------------------------


def test_no_grad_as_bare_decorator_called_decorator_and_context() -> None:
    @tinytorch.no_grad
    def bare() -> bool:
        return is_grad_enabled()

    @tinytorch.no_grad()
    def called() -> bool:
        return is_grad_enabled()

    assert bare() is False and called() is False and is_grad_enabled()
    with tinytorch.inference_mode():
        assert not is_grad_enabled()
        with tinytorch.inference_mode(False):
            assert is_grad_enabled()
    assert (tinytorch.inference_mode()(lambda: is_grad_enabled()))() is False


# --- grad_fn names -----------------------------------------------------------------------------


def test_grad_fn_classes_are_named_after_their_op() -> None:
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    image = Tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    made = {
        "AddBackward": w + 1, "MatmulBackward": w @ w, "MulBackward": w * 2,
        "Conv2dBackward": nn.Conv2d(1, 2, 3)(image), "MaxPool2dBackward": nn.MaxPool2d(2)(image),
        "AvgPool2dBackward": nn.AvgPool2d(2)(image),
        "EmbeddingBackward": nn.Embedding(5, 3)(Tensor([1, 2], dtype=np.int64)),
        "GatherBackward": w.gather(1, Tensor([[0], [1]], dtype=np.int64)),
    }
    for name, y in made.items():
        assert type(y.grad_fn).__name__ == name and y.grad_fn.name == name
        assert repr(y.grad_fn) == f"<{name}>" and isinstance(y.grad_fn, Node)
        assert y._grad_fn is y.grad_fn
    assert type((w + 2).grad_fn) is type(made["AddBackward"].grad_fn)  # one class per op
    assert (w * 2 + 1).grad_fn.next_functions[0][0].name == "MulBackward"
    assert "grad_fn=<MatmulBackward>" in repr(made["MatmulBackward"])


# --- Tensor methods ----------------------------------------------------------------------------


def test_split_chunk_and_repeat_follow_pytorch_sizes() -> None:
    x = Tensor(np.arange(10, dtype=np.float32))
    assert [p.tolist() for p in x.split(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [len(p) for p in x.split([3, 7])] == [3, 7]
    assert [len(p) for p in x.chunk(4)] == [3, 3, 3, 1]
    assert [len(p) for p in tinytorch.chunk(Tensor(np.ones(4)), 3)] == [2, 2]
    with pytest.raises(ShapeError):
        x.split([3, 3])
    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(Tensor(m).repeat(2, 1, 3).data, np.tile(m, (2, 1, 3)))
    with pytest.raises(ShapeError):
        Tensor(m).repeat(2)


def test_gather_index_select_topk_sort_values_and_errors() -> None:
    x = Tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert x.gather(1, Tensor([[2, 2], [0, 1]], dtype=np.int64)).tolist() == [[2, 2], [0, 5]]
    assert x.index_select(1, [2, 0]).tolist() == [[2.0, 3.0], [4.0, 0.0]]
    assert x.topk(1, dim=0).indices.tolist() == [[0, 1, 1]]
    assert x.sort(descending=True).values.tolist() == [[3, 2, 1], [5, 4, 0]]
    assert tinytorch.argsort(x, dim=1).tolist() == [[1, 2, 0], [0, 2, 1]]
    with pytest.raises(ShapeError) as info:
        x.gather(1, Tensor([0, 1], dtype=np.int64))
    assert_three_parts(str(info.value), "unsqueeze")
    with pytest.raises(IndexOutOfRangeError):
        x.gather(1, Tensor([[3]], dtype=np.int64))
    with pytest.raises(DTypeError):
        x.index_select(0, Tensor([0.5]))
    with pytest.raises(ShapeError):
        x.topk(4)


def test_comparisons_logic_norm_and_products() -> None:
    x = Tensor([[3.0, -4.0], [0.0, 1.0]])
    assert x.eq(0).tolist() == [[False, False], [True, False]]
    assert x.ge(1).any().item() and not x.gt(3).any().item() and x.ne(5).all().item()
    assert x.norm().item() == pytest.approx(np.linalg.norm(x.data))
    assert x.norm(p=1, dim=1).tolist() == [7.0, 1.0]
    assert x.norm(p=float("inf")).item() == 4.0
    assert x.mm(x).tolist() == (x.data @ x.data).tolist()
    for bad in (lambda: x.mm(Tensor(np.ones((2, 2, 2)))), lambda: Tensor(np.ones((2, 2, 2))).t(),
                lambda: Tensor(np.ones((2, 2, 2))).bmm(Tensor(np.ones((3, 2, 2))))):
        with pytest.raises(ShapeError):
            bad()
    transposed = Tensor(np.ones((2, 3))).transpose()
    assert transposed.contiguous().data.flags.c_contiguous and x.contiguous() is x
    assert x.view_as(Tensor(np.ones(4))).shape == (4,) and tinytorch.numel(x) == 4


def test_norm_gradient_at_zero_is_zero_not_nan() -> None:
    z = Tensor(np.zeros(3), requires_grad=True)
    z.norm().backward()
    assert z.grad.tolist() == [0.0, 0.0, 0.0]


def test_einsum_diagonal_forward_works_but_its_gradient_is_refused() -> None:
    m = np.arange(9, dtype=np.float32).reshape(3, 3)
    assert tinytorch.einsum("ii->i", Tensor(m)).tolist() == [0.0, 4.0, 8.0]
    with pytest.raises(ShapeError) as info:
        tinytorch.einsum("ii->i", Tensor(m, requires_grad=True)).sum().backward()
    assert_three_parts(str(info.value), "'ii'")


def test_parameter_data_may_take_another_dtype() -> None:
    layer = nn.Linear(3, 2)
    layer.weight.data = layer.weight.data.astype(np.float64)
    out = layer(Tensor(np.ones((4, 3))))
    out.sum().backward()
    assert out.dtype == np.float64 and layer.weight.grad.dtype == np.float64
    tinytorch.SGD(layer.parameters(), lr=0.1).step()
    assert layer.weight.dtype == np.float64


# --- save / load -------------------------------------------------------------------------------


def test_save_load_round_trips_a_nested_checkpoint(tmp_path: Path) -> None:
    state = {"model": {"w": Tensor([[1.0, 2.0]]), "b": np.arange(3)},
             "step": 7, "lr": 0.5, "name": "run", "none": None, "flags": (True, False),
             "groups": [{"lr": 0.1, "params": [0, 1]}], 3: "int key"}
    path = tmp_path / "checkpoint.pt"
    tinytorch.save(state, path)
    loaded = tinytorch.load(path, weights_only=True, map_location="cpu")
    assert isinstance(loaded["model"]["w"], Tensor) and loaded["model"]["w"].tolist() == [[1, 2]]
    b = loaded["model"]["b"]
    assert isinstance(b, np.ndarray) and b.tolist() == [0, 1, 2]
    assert {k: loaded[k] for k in ("step", "lr", "name", "none", "flags", "groups", 3)} == {
        k: state[k] for k in ("step", "lr", "name", "none", "flags", "groups", 3)}
    assert zipfile.is_zipfile(path)  # the .npz format, whatever the extension


def test_save_load_model_and_optimizer_state(tmp_path: Path) -> None:
    manual_seed(0)
    model = nn.Linear(3, 2)
    optimizer = tinytorch.Adam(model.parameters(), lr=0.01)
    model(tinytorch.randn(4, 3)).sum().backward()
    optimizer.step()
    tinytorch.save({"model": model.state_dict(), "optim": optimizer.state_dict()},
                   tmp_path / "ckpt.pth")
    loaded = tinytorch.load(tmp_path / "ckpt.pth")
    twin = nn.Linear(3, 2)
    twin_optimizer = tinytorch.Adam(twin.parameters(), lr=0.01)
    twin.load_state_dict(loaded["model"])
    twin_optimizer.load_state_dict(loaded["optim"])
    np.testing.assert_array_equal(twin.weight.data, model.weight.data)
    for ours, theirs in zip(twin_optimizer.state_dict()["buffers"].values(),
                            optimizer.state_dict()["buffers"].values(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_save_refuses_objects_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "state.pt"
    tinytorch.save({"w": Tensor([1.0])}, path)
    with pytest.raises(SerializationError) as info:
        tinytorch.save({"w": Tensor([2.0]), "model": nn.Linear(1, 1)}, path)
    assert_three_parts(str(info.value), "Linear", "state_dict()")
    assert tinytorch.load(path)["w"].tolist() == [1.0]
    with pytest.raises(ConfigError):
        tinytorch.load(path, map_location="cuda:0")


def test_load_refuses_pytorch_pickles_and_says_how_to_convert(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps({"w": [1.0]}, protocol=2))
    modern = tmp_path / "modern.pt"
    with zipfile.ZipFile(modern, "w") as archive:
        archive.writestr("modern/data.pkl", pickle.dumps({}))
        archive.writestr("modern/version", "3")
    for path in (legacy, modern):
        with pytest.raises(SerializationError) as info:
            tinytorch.load(path)
        assert_three_parts(str(info.value), "PyTorch file", "never unpickles", "np.savez")


def test_load_reads_a_plain_npz_of_arrays(tmp_path: Path) -> None:
    np.savez(tmp_path / "weights.npz", w=np.ones(2), b=np.zeros(1))
    loaded = tinytorch.load(tmp_path / "weights.npz")
    assert sorted(loaded) == ["b", "w"] and loaded["w"].tolist() == [1.0, 1.0]


def test_version_counts_are_forgotten_with_their_arrays() -> None:
    import gc

    before = len(autograd._versions)
    for _ in range(5):
        with tinytorch.no_grad():
            Tensor(np.ones(3)).add_(1.0)
    gc.collect()
    assert len(autograd._versions) == before
    assert isinstance(Parameter(np.ones(1)), Tensor)


def test_integer_tensors_index_python_sequences_and_scalars_format() -> None:
    data = list(range(10))
    i = tinytorch.randint(0, 5, (3,))[0]
    assert data[i:i + 3] == [int(i), int(i) + 1, int(i) + 2]
    assert ["a", "b"][tinytorch.tensor(1)] == "b"
    with pytest.raises(TypeError):
        data[Tensor([1.5])]
    assert f"{Tensor(0.123456):.3f}" == "0.123" and f"{tinytorch.tensor(3):>3d}" == "  3"
    assert f"{Tensor([1.0, 2.0])}" == repr(Tensor([1.0, 2.0]))


@pytest.mark.parametrize("make", [lambda: nn.Conv2d(3, 4, 3), lambda: nn.MaxPool2d(2),
                                  lambda: nn.AvgPool2d(2), lambda: nn.BatchNorm2d(3),
                                  lambda: nn.Linear(6, 2), lambda: nn.LayerNorm(6)],
                         ids=["conv", "maxpool", "avgpool", "batchnorm", "linear", "layernorm"])
def test_float64_input_to_float32_layers_promotes_in_every_layer(make) -> None:  # type: ignore[no-untyped-def]
    manual_seed(0)
    layer = make()
    x = Tensor(np.random.default_rng(0).normal(size=(2, 3, 6, 6)), dtype=np.float64,
               requires_grad=True)
    out = layer(x)
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad.dtype == np.float64
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


def test_mask_logic_triangles_and_new_tensors() -> None:
    causal = tinytorch.ones(3, 3, dtype=tinytorch.bool).tril()
    assert causal.dtype == np.bool_ and causal.tolist() == np.tri(3, dtype=bool).tolist()
    blocked = ~causal
    assert blocked.tolist() == (~np.tri(3, dtype=bool)).tolist()
    assert (causal & blocked).any().item() is False and (causal | blocked).all().item() is True
    assert (causal ^ causal).any().item() is False and causal.logical_not().tolist() == \
        blocked.tolist()
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], dtype=np.float64)
    assert x.triu(1).tolist() == [[0.0, 2.0], [0.0, 0.0]]
    assert x.new_zeros(2, 3).dtype == np.float64 and x.new_ones((1,)).tolist() == [1.0]
    assert x.new_full((2,), 5).tolist() == [5.0, 5.0]
    assert x.new_tensor([1, 2]).dtype == np.float64
    assert x.new_zeros(2, dtype=tinytorch.long).dtype == np.int64
