"""Every loss against PyTorch: values and gradients, every reduction, extreme logits.

Our cross-entropy takes the class axis last, ``(N, ..., C)``; torch's takes it second,
``(N, C, ...)``, so the torch side permutes the logits before the call.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from oracle_helpers import assert_matches_torch, import_torch

from tinytorch.core.autograd import gradcheck
from tinytorch.core.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
    cross_entropy,
    log_softmax,
)
from tinytorch.core.tensor import Tensor
from tinytorch.nn import functional as F  # noqa: N812  (the PyTorch habit)

torch = import_torch()
TF = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def labels(shape: tuple[int, ...], classes: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, classes, size=shape)


def class_last_to_torch(z):  # (N, ..., C) -> (N, C, ...)
    return z if z.ndim <= 2 else z.movedim(-1, 1)


# --- cross-entropy -------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(8, 5), (2, 6, 11), (2, 3, 2, 4), (7,)])
def test_cross_entropy_matches_torch(shape: tuple[int, ...], reduction: str) -> None:
    target = labels(shape[:-1], shape[-1])
    assert_matches_torch(
        lambda z: CrossEntropyLoss(reduction=reduction)(z, target), [shape],
        torch_fn=lambda z: TF.cross_entropy(class_last_to_torch(z), torch.tensor(target),
                                            reduction=reduction),
        low=-5.0, high=5.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
def test_cross_entropy_ignore_index_and_label_smoothing_match_torch(
        reduction: str, smoothing: float) -> None:
    target = labels((3, 7), 9, seed=1)
    target[0, :3] = -100
    target[2, 5] = -100
    assert_matches_torch(
        lambda z: cross_entropy(z, target, reduction=reduction, label_smoothing=smoothing),
        [(3, 7, 9)],
        torch_fn=lambda z: TF.cross_entropy(z.movedim(-1, 1), torch.tensor(target),
                                            reduction=reduction, label_smoothing=smoothing),
        low=-3.0, high=3.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_custom_ignore_index_matches_torch(reduction: str) -> None:
    target = labels((10,), 4, seed=2)
    target[[1, 4, 5]] = 3  # ignore a real class
    assert_matches_torch(
        lambda z: CrossEntropyLoss(reduction=reduction, ignore_index=3)(z, target), [(10, 4)],
        torch_fn=lambda z: TF.cross_entropy(z, torch.tensor(target), reduction=reduction,
                                            ignore_index=3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_soft_targets_match_torch(reduction: str, smoothing: float) -> None:
    probs = np.random.default_rng(4).dirichlet(np.ones(6), size=(2, 5)).astype(np.float32)
    assert_matches_torch(
        lambda z: cross_entropy(z, probs, reduction=reduction, label_smoothing=smoothing),
        [(2, 5, 6)],
        torch_fn=lambda z: TF.cross_entropy(z.movedim(-1, 1), torch.tensor(probs).movedim(-1, 1),
                                            reduction=reduction, label_smoothing=smoothing))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_extreme_logits_are_finite_and_match_torch(reduction: str) -> None:
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0],
                       [-1000.0, 1000.0, 999.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    target = np.array([1, 2, 2, 0])  # a confident wrong answer, right answers, a tie
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        z = Tensor(logits, requires_grad=True)
        loss = cross_entropy(z, target, reduction=reduction)
        loss.backward(np.ones(loss.shape, dtype=np.float32))
    assert np.isfinite(loss.data).all() and np.isfinite(z.grad.data).all()
    assert_matches_torch(
        lambda z: cross_entropy(z, target, reduction=reduction, label_smoothing=0.1),
        inputs=[logits],
        torch_fn=lambda z: TF.cross_entropy(z, torch.tensor(target), reduction=reduction,
                                            label_smoothing=0.1))


def test_cross_entropy_targets_as_float_tensor_list_and_int_tensor_agree() -> None:
    logits = np.random.default_rng(5).normal(size=(6, 4)).astype(np.float32)
    target = labels((6,), 4, seed=5)
    expected = TF.cross_entropy(torch.tensor(logits), torch.tensor(target)).item()
    for given in (target, target.tolist(), Tensor(target), Tensor(target, dtype=np.int64),
                  Tensor(target.astype(np.int32), dtype=np.int32)):
        assert cross_entropy(Tensor(logits), given).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_fused_cross_entropy_gradcheck_float64(reduction: str, smoothing: float) -> None:
    target = labels((3, 4), 5, seed=6)
    target[1, 2] = -100
    z = Tensor(np.random.default_rng(6).normal(size=(3, 4, 5)), dtype=np.float64,
               requires_grad=True)
    assert gradcheck(lambda z: cross_entropy(z, target, reduction=reduction,
                                             label_smoothing=smoothing), [z])


def test_fused_cross_entropy_soft_targets_gradcheck_float64() -> None:
    probs = np.random.default_rng(7).dirichlet(np.ones(4), size=5)
    z = Tensor(np.random.default_rng(7).normal(size=(5, 4)) * 3, dtype=np.float64,
               requires_grad=True)
    assert gradcheck(lambda z: cross_entropy(z, probs, reduction="none", label_smoothing=0.1),
                     [z])


def test_cross_entropy_float64_matches_torch_exactly() -> None:
    target = labels((4, 3), 6, seed=8)
    target[0, 0] = -100
    assert_matches_torch(
        lambda z: cross_entropy(z, target, label_smoothing=0.05), [(4, 3, 6)],
        torch_fn=lambda z: TF.cross_entropy(z.movedim(-1, 1), torch.tensor(target),
                                            label_smoothing=0.05),
        dtype=np.float64)


# --- NLL and log_softmax -------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_of_log_softmax_matches_torch(reduction: str) -> None:
    target = labels((2, 5), 7, seed=9)
    target[1, 1] = -100
    assert_matches_torch(
        lambda z: NLLLoss(reduction=reduction)(log_softmax(z), target), [(2, 5, 7)],
        torch_fn=lambda z: TF.nll_loss(torch.log_softmax(z, -1).movedim(-1, 1),
                                       torch.tensor(target), reduction=reduction))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_log_softmax_function_matches_torch(dim: int) -> None:
    assert_matches_torch(lambda z: log_softmax(z, dim=dim), [(4, 6)],
                         torch_fn=lambda z: torch.log_softmax(z, dim=dim), low=-50, high=50)


# --- MSE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_torch_including_target_gradient(reduction: str) -> None:
    assert_matches_torch(lambda p, t: MSELoss(reduction)(p, t), [(5, 3), (5, 3)],
                         torch_fn=lambda p, t: TF.mse_loss(p, t, reduction=reduction))


def test_mse_constant_targets_match_torch() -> None:
    target = np.random.default_rng(10).normal(size=(4, 2)).astype(np.float32)
    assert_matches_torch(lambda p: F.mse_loss(p, target), [(4, 2)],
                         torch_fn=lambda p: TF.mse_loss(p, torch.tensor(target)))


# --- binary cross-entropy -----------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("soft", [False, True])
def test_bce_matches_torch(reduction: str, soft: bool) -> None:
    rng = np.random.default_rng(11)
    target = (rng.uniform(size=(6, 2)) if soft else rng.integers(0, 2, (6, 2))).astype(np.float32)
    assert_matches_torch(lambda p: BinaryCrossEntropyLoss(reduction)(p, target), [(6, 2)],
                         torch_fn=lambda p: TF.binary_cross_entropy(p, torch.tensor(target),
                                                                    reduction=reduction),
                         low=0.05, high=0.95)


def test_bce_alias_and_functional_agree_with_torch() -> None:
    target = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    assert BCELoss is BinaryCrossEntropyLoss
    assert_matches_torch(lambda p: F.binary_cross_entropy(p, target), [(4,)],
                         torch_fn=lambda p: TF.binary_cross_entropy(p, torch.tensor(target)),
                         low=0.1, high=0.9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch_including_target_gradient(reduction: str) -> None:
    rng = np.random.default_rng(12)
    inputs = [rng.uniform(-6, 6, size=(5, 3)).astype(np.float32),
              rng.uniform(0, 1, size=(5, 3)).astype(np.float32)]
    assert_matches_torch(
        lambda x, y: BCEWithLogitsLoss(reduction)(x, y), inputs=inputs,
        torch_fn=lambda x, y: TF.binary_cross_entropy_with_logits(x, y, reduction=reduction))


def test_bce_with_logits_extreme_logits_are_finite_and_match_torch() -> None:
    logits = np.array([-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0], dtype=np.float32)
    target = np.array([1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0], dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        x = Tensor(logits, requires_grad=True)
        F.binary_cross_entropy_with_logits(x, target, reduction="sum").backward()
    assert np.isfinite(x.grad.data).all()
    assert_matches_torch(
        lambda x: F.binary_cross_entropy_with_logits(x, target, reduction="none"),
        inputs=[logits],
        torch_fn=lambda x: TF.binary_cross_entropy_with_logits(x, torch.tensor(target),
                                                               reduction="none"))


def test_bce_gradcheck_float64() -> None:
    rng = np.random.default_rng(13)
    p = Tensor(rng.uniform(0.1, 0.9, size=(3, 4)), dtype=np.float64, requires_grad=True)
    y = Tensor(rng.uniform(0, 1, size=(3, 4)), dtype=np.float64, requires_grad=True)
    x = Tensor(rng.normal(size=(3, 4)) * 3, dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda p, y: F.binary_cross_entropy(p, y, reduction="none"), [p, y])
    assert gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y), [x, y])
