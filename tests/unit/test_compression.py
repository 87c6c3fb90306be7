"""Pruning masks that persist, and what compress_model reports (module 16).

The invariant of pruning is the test: after any optimizer step and after save/load, the
weights a pruned layer computes with are exactly zero where its mask is. Sparse storage, low
rank and distillation are in test_compression_methods.py.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.errors import ConfigError, ShapeError
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.optimizers import SGD, Adam, AdamW, RMSprop
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import (
    Compressor,
    LowRankLinear,
    PrunedConv2d,
    PrunedLinear,
    compress_model,
    factorize_linears,
    format_report,
    is_pruned,
    load_pruned,
    magnitude_prune,
    measure_sparsity,
    prune_with_mask,
    pruning_masks,
    remove_pruning,
    structured_prune,
)

OPTIMIZERS = [
    (SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (Adam, {"lr": 0.05, "weight_decay": 0.1}),
    (AdamW, {"lr": 0.05, "weight_decay": 0.1}),
    (RMSprop, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
]
OPT_IDS = ["sgd-momentum-wd", "sgd-nesterov", "adam-wd", "adamw", "rmsprop"]


def mlp(seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    model = Sequential(Linear(6, 12), ReLU(), Linear(12, 8), ReLU(), Linear(8, 3))
    for p in model.parameters():
        p.data[...] = rng.normal(size=p.shape)
    return model


def train(model: Sequential, optimizer: Any, steps: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = Tensor(rng.normal(size=(10, 6)).astype(np.float32))
        optimizer.zero_grad()
        (model(x) ** 2).mean().backward()
        optimizer.step()


def pruned_entries_are_zero(model: Sequential) -> bool:
    masks = pruning_masks(model)
    modules = dict(model.named_modules())
    checks = []
    for key, mask in masks.items():
        owner, _, attr = key.rpartition(".")
        effective = getattr(modules[owner], attr.removesuffix("_mask")).data
        checks.append(np.all(effective[mask == 0] == 0.0))
    return bool(checks) and all(checks)


# --- which weights go --------------------------------------------------------------------------


def test_magnitude_prune_zeroes_exactly_the_smallest_per_layer() -> None:
    model = mlp()
    before = [np.abs(model[i].weight.data).copy() for i in (0, 2, 4)]
    magnitude_prune(model, sparsity=0.75)
    for layer, magnitude in zip((model[0], model[2], model[4]), before, strict=True):
        mask = layer.weight_mask
        assert mask.sum() == magnitude.size - round(0.75 * magnitude.size)
        assert magnitude[mask == 0].max() <= magnitude[mask == 1].min()
    assert measure_sparsity(model) == pytest.approx(75.0, abs=0.5)


def test_global_scope_ranks_all_layers_against_one_threshold() -> None:
    model = mlp()
    model[2].weight.data *= 1e-4                  # one layer of tiny weights
    weights = [np.abs(model[i].weight.data).copy() for i in (0, 2, 4)]
    magnitude_prune(model, sparsity=0.5, scope="global")
    masks = [model[i].weight_mask for i in (0, 2, 4)]
    every_weight = np.concatenate([w.ravel() for w in weights])
    every_mask = np.concatenate([m.ravel() for m in masks])
    assert every_weight[every_mask == 0].max() <= every_weight[every_mask == 1].min()
    assert masks[1].sum() == 0                    # the tiny layer goes first, entirely
    total = sum(m.size for m in masks)
    assert sum(m.size - m.sum() for m in masks) == round(0.5 * total)


def test_pruning_again_extends_the_mask_and_never_revives_a_weight() -> None:
    model = mlp()
    magnitude_prune(model, sparsity=0.5)
    first = model[0].weight_mask.copy()
    magnitude_prune(model, sparsity=0.3)          # lower target: nothing comes back
    assert np.array_equal(model[0].weight_mask, first)
    magnitude_prune(model, sparsity=0.8)
    assert np.all(model[0].weight_mask <= first)
    assert measure_sparsity(model[0]) == pytest.approx(80.0, abs=1.0)


def test_structured_prune_zeroes_whole_neurons_and_spares_the_head() -> None:
    model = mlp()
    norms = np.linalg.norm(model[0].weight.data, axis=0)
    head = model[4].weight.data.copy()
    structured_prune(model, prune_ratio=0.25)     # 3 of 12 and 2 of 8 neurons
    dead = np.all(model[0].weight.data == 0, axis=0)
    assert dead.sum() == 3 and set(np.flatnonzero(dead)) == set(np.argsort(norms)[:3])
    assert np.all(model[0].bias.data[dead] == 0)
    assert np.all(model[2].weight.data == 0, axis=0).sum() == 2
    assert np.array_equal(model[4].weight.data, head) and not is_pruned(model[4])
    hidden = model[0](Tensor(np.ones((2, 6), dtype=np.float32)))
    assert np.all(hidden.data[:, dead] == 0)      # the neuron outputs exactly zero


def test_structured_prune_of_a_conv_masks_output_channels() -> None:
    conv = Conv2d(2, 4, 3)
    structured_prune(conv, prune_ratio=0.5)
    assert type(conv) is PrunedConv2d
    dead = np.all(conv.weight.data.reshape(4, -1) == 0, axis=1)
    assert dead.sum() == 2
    out = conv(Tensor(np.random.default_rng(0).normal(size=(1, 2, 5, 5)).astype(np.float32)))
    assert np.all(out.data[:, dead] == 0)


# --- the invariant: pruned stays zero ----------------------------------------------------------


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=OPT_IDS)
def test_masks_exact_after_steps_with_a_fresh_optimizer(cls: Any, kwargs: dict[str, Any]) -> None:
    model = magnitude_prune(mlp(), sparsity=0.6)
    train(model, cls(model.parameters(), **kwargs), steps=15)
    assert pruned_entries_are_zero(model)
    for i in (0, 2, 4):   # zero gradient and zero decay: weight_orig itself stays zero too
        assert np.all(model[i].weight_orig.data[model[i].weight_mask == 0] == 0.0)


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=OPT_IDS)
def test_masks_exact_even_when_the_optimizer_carries_old_momentum(
        cls: Any, kwargs: dict[str, Any]) -> None:
    model = mlp()
    optimizer = cls(model.parameters(), **kwargs)
    train(model, optimizer, steps=5)              # moments now nonzero everywhere
    magnitude_prune(model, sparsity=0.6)
    train(model, optimizer, steps=15, seed=2)
    assert pruned_entries_are_zero(model)         # weight_orig may move; the product cannot


def test_gradient_reaching_weight_orig_is_zero_at_pruned_entries() -> None:
    model = magnitude_prune(mlp(), sparsity=0.5)
    (model(Tensor(np.ones((4, 6), dtype=np.float32))) ** 2).sum().backward()
    grad, mask = model[0].weight_orig.grad.data, model[0].weight_mask
    assert np.all(grad[mask == 0] == 0) and np.count_nonzero(grad[mask == 1]) > 0


def test_pruned_forward_is_the_masked_linear() -> None:
    layer = Linear(5, 4)
    mask = np.random.default_rng(0).random((5, 4)) > 0.5
    raw = layer.weight.data.copy()
    prune_with_mask(layer, "weight", mask)
    x = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ (raw * mask) + layer.bias.data,
                               rtol=1e-6, atol=1e-6)


def test_masks_survive_save_and_load(tmp_path: Path) -> None:
    model = magnitude_prune(mlp(), sparsity=0.8)
    train(model, Adam(model.parameters(), lr=0.05, weight_decay=0.1), steps=5)
    path = tmp_path / "pruned.npz"
    model.save(path)
    fresh = load_pruned(mlp(seed=7), path)        # another init, no masks until the load
    assert pruned_entries_are_zero(fresh)
    for key, mask in pruning_masks(model).items():
        assert np.array_equal(pruning_masks(fresh)[key], mask)
    x = Tensor(np.ones((2, 6), dtype=np.float32))
    assert np.array_equal(fresh(x).data, model(x).data)
    train(fresh, Adam(fresh.parameters(), lr=0.05, weight_decay=0.1), steps=5)
    assert pruned_entries_are_zero(fresh)         # and it keeps holding after more training


def test_state_dict_round_trip_carries_the_masks() -> None:
    model = magnitude_prune(mlp(), sparsity=0.5)
    other = magnitude_prune(mlp(seed=3), sparsity=0.5)
    other.load_state_dict(model.state_dict())
    assert all(np.array_equal(a, b) for a, b in zip(pruning_masks(model).values(),
                                                    pruning_masks(other).values(), strict=True))


def test_remove_pruning_makes_it_permanent_and_keeps_the_parameter() -> None:
    model = magnitude_prune(mlp(), sparsity=0.5)
    param = model[0].weight_orig
    masked = model[0].weight.data.copy()
    remove_pruning(model)
    assert type(model[0]) is Linear and model[0].weight is param
    assert np.array_equal(model[0].weight.data, masked)
    assert sorted(model.state_dict()) == sorted(mlp().state_dict())
    assert pruning_masks(model) == {}


def test_a_pruned_layer_is_still_a_linear_and_deepcopies() -> None:
    layer = magnitude_prune(Linear(4, 4), sparsity=0.5)
    assert isinstance(layer, Linear) and type(layer) is PrunedLinear
    twin = copy.deepcopy(layer)
    twin.weight_orig.data += 1.0
    assert np.all(twin.weight.data[twin.weight_mask == 0] == 0)


# --- measuring ---------------------------------------------------------------------------------


def test_measure_sparsity_counts_weights_not_biases() -> None:
    layer = Linear(2, 2)
    layer.weight.data[...] = [[0.0, 1.0], [2.0, 3.0]]
    assert measure_sparsity(layer) == 25.0                     # the zero bias does not count
    assert measure_sparsity(Tensor([0.0, 0.0, 1.0, 1.0])) == 50.0
    assert measure_sparsity(np.zeros((3, 3))) == 100.0
    assert Compressor.measure_sparsity(layer) == 0.25


# --- compress_model ----------------------------------------------------------------------------


def test_compress_model_reports_real_bytes_per_layer() -> None:
    model = mlp()
    report = compress_model(model, {"magnitude_prune": 0.9})
    first = report["layers"][0]
    assert first["name"] == "0.weight" and first["shape"] == (6, 12)
    nnz = 72 - round(0.9 * 72)
    assert first["nonzeros"] == nnz
    assert first["dense_bytes"] == 72 * 4
    assert first["sparse_bytes"] == nnz * 4 + nnz * 4 + (6 + 1) * 4  # data, indices, indptr
    assert report["sparse_bytes"] < report["dense_bytes"]
    assert report["final_sparsity"] == pytest.approx(90.0, abs=0.5)
    assert report["applied_techniques"] == ["magnitude_prune_0.9"]
    assert "0.weight" in format_report(report)


def test_compress_model_low_rank_replaces_large_linears() -> None:
    model = Sequential(Linear(64, 64), ReLU(), Linear(2, 2), ReLU(), Linear(64, 4))
    report = compress_model(model, {"low_rank": 0.25})
    assert isinstance(model[0], LowRankLinear) and model[0].rank == 16
    assert type(model[2]) is Linear               # rank 1: 1 * (2 + 2) = 2 * 2, no saving
    assert type(model[4]) is Linear               # the head is kept
    assert report["final_params"] < report["original_params"]
    assert 0.0 < report["low_rank_errors"]["0"] < 1.0
    assert set(report["low_rank_errors"]) == {"0"}
    factorize_linears(model, 0.5, include_head=True)
    assert isinstance(model[4], LowRankLinear) and model[4].rank == 2


def test_compressor_face_returns_model_and_fractions() -> None:
    model, stats = Compressor.compress_model(mlp(), {"magnitude_sparsity": 0.5,
                                                     "structured_prune_ratio": 0.25})
    assert stats["final_sparsity"] == pytest.approx(measure_sparsity(model) / 100)
    assert stats["compression_ratio"] == pytest.approx(1 / (1 - stats["final_sparsity"]))


# --- clear errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, "0.5", True, float("nan")])
def test_sparsity_outside_zero_one_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"(?s)sparsity.*why:.*fix:"):
        magnitude_prune(mlp(), sparsity=bad)


def test_bad_prune_requests_say_what_why_and_fix() -> None:
    with pytest.raises(ConfigError, match=r"(?s)prune_ratio.*why:.*fix:"):
        structured_prune(mlp(), prune_ratio=1.0)
    with pytest.raises(ConfigError, match=r"(?s)scope.*why:.*fix:"):
        magnitude_prune(mlp(), scope="model")
    with pytest.raises(ConfigError, match=r"(?s)no Linear or Conv2d.*why:.*fix:"):
        magnitude_prune(Sequential(ReLU()))
    with pytest.raises(ShapeError, match=r"(?s)mask of shape.*why:.*fix:"):
        prune_with_mask(Linear(3, 2), "weight", np.ones((2, 3)))
    with pytest.raises(ConfigError, match=r"(?s)unknown config keys.*why:.*fix:"):
        compress_model(mlp(), {"quantize": 8})


def test_assigning_the_weight_of_a_pruned_layer_is_refused() -> None:
    layer = magnitude_prune(Linear(3, 2), sparsity=0.5)
    with pytest.raises(ConfigError, match=r"(?s)it is pruned.*why:.*fix:.*remove_pruning"):
        layer.weight = layer.weight_orig
