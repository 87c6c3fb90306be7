"""Unit tests for module 04, losses: hand-computed values, targets in every form, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracle_helpers import assert_three_parts

from tinytorch.core.errors import DTypeError, IndexOutOfRangeError, ShapeError
from tinytorch.core.layers import Linear, Module
from tinytorch.core.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
    cross_entropy,
    log_softmax,
    nll_loss,
)
from tinytorch.core.tensor import Tensor


def log_sum_exp(row: list[float]) -> float:
    return math.log(sum(math.exp(v) for v in row))


# --- MSE -----------------------------------------------------------------------------------------


def test_mse_values_for_each_reduction() -> None:
    pred, target = Tensor([[1.0, 2.0], [3.0, 4.0]]), [[0.0, 2.0], [5.0, 4.0]]
    assert MSELoss()(pred, target).item() == pytest.approx((1 + 0 + 4 + 0) / 4)
    assert MSELoss("sum")(pred, target).item() == pytest.approx(5.0)
    assert MSELoss("none")(pred, target).tolist() == [[1.0, 0.0], [4.0, 0.0]]


def test_mse_gradient_is_two_diff_over_n() -> None:
    pred = Tensor([1.0, 2.0, 6.0], requires_grad=True)
    MSELoss()(pred, np.array([0.0, 2.0, 3.0])).backward()
    assert pred.grad.data == pytest.approx([2 / 3, 0.0, 2.0])


def test_mse_accepts_tensor_array_list_and_int_targets_without_upcasting() -> None:
    pred = Tensor([1.0, 2.0], requires_grad=True)
    for target in ([0, 0], np.array([0, 0]), Tensor([0.0, 0.0]),
                   Tensor(np.array([0, 0]), dtype=np.int64), np.array([0.0, 0.0])):
        loss = MSELoss()(pred, target)
        assert loss.item() == pytest.approx(2.5) and loss.dtype == np.float32
    loss.backward()
    assert pred.grad.dtype == np.float32


def test_mse_shape_mismatch_is_three_part_and_names_the_shapes() -> None:
    with pytest.raises(ShapeError) as info:
        MSELoss()(Tensor(np.zeros((4, 1))), np.zeros(4))  # would silently broadcast to (4, 4)
    assert_three_parts(str(info.value), "(4, 1)", "(4,)", "reshape")


def test_mse_broadcasts_a_scalar_target() -> None:
    assert MSELoss()(Tensor([1.0, 3.0]), 1.0).item() == pytest.approx(2.0)


# --- cross-entropy -------------------------------------------------------------------------------


def test_cross_entropy_by_hand() -> None:
    logits = [[1.0, 2.0, 3.0], [1.0, 0.0, -1.0]]
    loss = CrossEntropyLoss(reduction="none")(Tensor(logits), [2, 1])
    expected = [log_sum_exp(logits[0]) - 3.0, log_sum_exp(logits[1]) - 0.0]
    assert loss.data == pytest.approx(expected, rel=1e-6)
    assert CrossEntropyLoss()(Tensor(logits), [2, 1]).item() == pytest.approx(sum(expected) / 2)
    assert CrossEntropyLoss("sum")(Tensor(logits), [2, 1]).item() == pytest.approx(sum(expected))


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n() -> None:
    logits = Tensor([[0.0, 0.0], [0.0, math.log(3.0)]], requires_grad=True)
    CrossEntropyLoss()(logits, [0, 1]).backward()
    np.testing.assert_allclose(logits.grad.data, [[-0.25, 0.25], [0.125, -0.125]], atol=1e-7)


def test_cross_entropy_on_sequence_logits_class_axis_last() -> None:
    logits = np.random.default_rng(0).normal(size=(2, 3, 5)).astype(np.float32)
    targets = np.array([[0, 4, 2], [1, 1, 3]])
    loss = cross_entropy(Tensor(logits), targets, reduction="none")
    assert loss.shape == (2, 3)
    flat = cross_entropy(Tensor(logits.reshape(6, 5)), targets.reshape(6), reduction="none")
    np.testing.assert_allclose(loss.data.reshape(6), flat.data)


def test_cross_entropy_ignore_index_averages_over_counted_rows_only() -> None:
    logits = Tensor([[2.0, 0.0], [0.0, 2.0], [5.0, -5.0]], requires_grad=True)
    loss = cross_entropy(logits, [0, 1, -100])
    row = math.log(1 + math.exp(-2.0))
    assert loss.item() == pytest.approx(row, rel=1e-6)  # (row + row) / 2, the third is skipped
    loss.backward()
    assert logits.grad.data[2].tolist() == [0.0, 0.0]


def test_cross_entropy_all_rows_ignored_gives_zero_not_nan() -> None:
    logits = Tensor(np.ones((2, 3)), requires_grad=True)
    loss = cross_entropy(logits, [-100, -100])
    assert loss.item() == 0.0
    loss.backward()
    assert not logits.grad.data.any()


def test_cross_entropy_label_smoothing_by_hand() -> None:
    logits = [1.0, 2.0, 0.5]
    eps = 0.3
    log_p = [v - log_sum_exp(logits) for v in logits]
    expected = -(1 - eps) * log_p[1] - eps * sum(log_p) / 3
    got = CrossEntropyLoss(label_smoothing=eps)(Tensor([logits]), [1]).item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_targets_in_every_form_agree() -> None:
    logits = Tensor(np.random.default_rng(1).normal(size=(4, 3)))
    labels = [2, 0, 1, 1]
    expected = cross_entropy(logits, labels).item()
    forms = [np.array(labels), Tensor(labels), Tensor(labels, dtype=np.int64),
             np.array(labels, dtype=np.uint8), np.array(labels, dtype=np.float64),
             np.eye(3)[labels], Tensor(np.eye(3)[labels])]  # the last two: one-hot probabilities
    for form in forms:
        assert cross_entropy(logits, form).item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_keeps_float32_everywhere() -> None:
    logits = Tensor(np.random.default_rng(2).normal(size=(5, 4)), requires_grad=True)
    loss = cross_entropy(logits, [0, 1, 2, 3, 0], label_smoothing=0.1)
    assert loss.dtype == np.float32
    loss.backward()
    assert logits.grad.dtype == np.float32


def test_cross_entropy_extreme_logits_give_finite_loss_and_gradient() -> None:
    logits = Tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    loss = cross_entropy(logits, [1, 1])
    assert loss.item() == pytest.approx(1000.0)  # (2000 + 0) / 2
    loss.backward()
    np.testing.assert_allclose(logits.grad.data, [[0.5, -0.5], [0.0, 0.0]], atol=1e-7)


def test_cross_entropy_unbatched_logits() -> None:
    loss = cross_entropy(Tensor([0.0, 0.0, 0.0, 0.0]), 3)
    assert loss.shape == () and loss.item() == pytest.approx(math.log(4))


def test_cross_entropy_trains_a_linear_classifier() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = Linear(2, 2)
    loss_fn = CrossEntropyLoss()
    first = None
    for _ in range(50):
        loss = loss_fn(model(Tensor(x)), y)
        first = loss.item() if first is None else first
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad.data
    accuracy = (model(Tensor(x)).data.argmax(axis=1) == y).mean()
    assert loss.item() < first / 3 and accuracy > 0.95


def test_cross_entropy_target_shape_error_is_three_part() -> None:
    with pytest.raises(ShapeError) as info:
        cross_entropy(Tensor(np.zeros((4, 10))), np.zeros((4, 1)))
    assert_three_parts(str(info.value), "(4, 10)", "(4, 1)", "(4,)", "reshape(-1)")


def test_cross_entropy_hints_at_pytorch_layout() -> None:
    with pytest.raises(ShapeError) as info:  # torch layout (N, C, T) with targets (N, T)
        cross_entropy(Tensor(np.zeros((2, 5, 7))), np.zeros((2, 7), dtype=np.int64))
    assert_three_parts(str(info.value), "(2, 5, 7)", "(2, 7)", "permute")


def test_cross_entropy_non_integral_float_targets_rejected() -> None:
    with pytest.raises(DTypeError) as info:
        cross_entropy(Tensor(np.zeros((3, 4))), Tensor([0.0, 1.5, 2.0]))
    assert_three_parts(str(info.value), "1.5")
    with pytest.raises(DTypeError):
        cross_entropy(Tensor(np.zeros((2, 4))), np.array([0.0, np.nan]))


def test_cross_entropy_out_of_range_classes_rejected() -> None:
    with pytest.raises(IndexOutOfRangeError) as info:
        cross_entropy(Tensor(np.zeros((3, 4))), [0, 4, -1])
    assert_three_parts(str(info.value), "[-1, 4]", "4 classes", "0..3")
    assert isinstance(info.value, IndexError)


def test_cross_entropy_bad_settings_rejected() -> None:
    with pytest.raises(ValueError) as info:
        CrossEntropyLoss(reduction="average")
    assert_three_parts(str(info.value), "'average'")
    with pytest.raises(ValueError) as info:
        cross_entropy(Tensor(np.zeros((1, 2))), [0], label_smoothing=1.5)
    assert_three_parts(str(info.value), "1.5")
    with pytest.raises(DTypeError) as info:
        cross_entropy(Tensor(np.zeros((1, 2)), dtype=np.int64), [0])
    assert_three_parts(str(info.value), "int64")
    with pytest.raises(DTypeError):
        cross_entropy(Tensor(np.zeros((2, 2))), ["a", "b"])


# --- NLL and log_softmax -------------------------------------------------------------------------


def test_nll_of_log_softmax_equals_cross_entropy() -> None:
    logits = np.random.default_rng(4).normal(size=(3, 4, 6)).astype(np.float32)
    targets = np.array([[0, 5, 2, -100], [1, 1, 3, 4], [-100, 0, 0, 2]])
    a = Tensor(logits, requires_grad=True)
    b = Tensor(logits, requires_grad=True)
    fused = cross_entropy(a, targets)
    composed = NLLLoss()(log_softmax(b), targets)
    assert fused.item() == pytest.approx(composed.item(), rel=1e-6)
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(a.grad.data, b.grad.data, atol=1e-7)


def test_nll_reductions_and_soft_targets_rejected() -> None:
    log_p = Tensor(np.log([[0.5, 0.5], [0.25, 0.75]]))
    assert nll_loss(log_p, [1, 1], reduction="none").data == pytest.approx(
        [math.log(2), -math.log(0.75)])
    assert nll_loss(log_p, [1, 1], reduction="sum").item() == pytest.approx(
        math.log(2) - math.log(0.75))
    with pytest.raises(ShapeError):
        nll_loss(log_p, np.eye(2))


def test_log_softmax_function_is_stable() -> None:
    assert log_softmax(Tensor([1000.0, 0.0])).tolist() == [0.0, -1000.0]
    assert log_softmax([[0.0, 0.0]], dim=0).tolist() == [[0.0, 0.0]]


# --- binary cross-entropy -----------------------------------------------------------------------


def test_bce_by_hand_and_alias() -> None:
    assert BCELoss is BinaryCrossEntropyLoss
    pred, target = Tensor([0.9, 0.2]), [1.0, 0.0]
    expected = [-math.log(0.9), -math.log(0.8)]
    assert BCELoss(reduction="none")(pred, target).data == pytest.approx(expected, rel=1e-6)
    assert BCELoss()(pred, target).item() == pytest.approx(sum(expected) / 2, rel=1e-6)


def test_bce_clips_certain_predictions_to_finite_values() -> None:
    pred = Tensor([0.0, 1.0, 1.0], requires_grad=True)
    loss = BinaryCrossEntropyLoss(reduction="sum")(pred, [1.0, 0.0, 1.0])
    high = float(np.float32(1 - 1e-7))  # the upper clip, as float32 rounds it
    expected = -math.log(float(np.float32(1e-7))) - math.log(1 - high) - math.log(high)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    grad = pred.grad.data
    assert np.isfinite(grad).all()
    assert grad[0] < -1e5 and grad[1] > 1e5  # a confidently wrong output is pushed back hard


def test_bce_gradient_by_hand() -> None:
    pred = Tensor([0.25], requires_grad=True)
    BinaryCrossEntropyLoss()(pred, [1.0]).backward()
    assert pred.grad.item() == pytest.approx(-4.0)  # d/dp of -log p


def test_bce_with_logits_equals_bce_of_sigmoid() -> None:
    x = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], dtype=np.float32)
    y = np.array([0.0, 1.0, 0.5, 1.0, 0.0], dtype=np.float32)
    a = BCEWithLogitsLoss()(Tensor(x), y).item()
    b = BCELoss()(Tensor(1 / (1 + np.exp(-x))), y).item()
    assert a == pytest.approx(b, rel=1e-5)


def test_bce_with_logits_is_exact_at_extremes() -> None:
    x = Tensor([1000.0, -1000.0, 1000.0], requires_grad=True)
    loss = BCEWithLogitsLoss(reduction="none")(x, [0.0, 1.0, 1.0])
    assert loss.tolist() == [1000.0, 1000.0, 0.0]
    loss.backward(np.ones(3, dtype=np.float32))
    assert x.grad.tolist() == [1.0, -1.0, 0.0]


def test_bce_shape_mismatch_and_reduction_errors() -> None:
    with pytest.raises(ShapeError) as info:
        BCEWithLogitsLoss()(Tensor(np.zeros((3, 1))), np.zeros(3))
    assert_three_parts(str(info.value), "(3, 1)", "(3,)")
    with pytest.raises(ValueError):
        BinaryCrossEntropyLoss(reduction="avg")


# --- the loss modules ----------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [MSELoss(), CrossEntropyLoss(), NLLLoss(),
                                  BinaryCrossEntropyLoss(), BCEWithLogitsLoss()], ids=repr)
def test_losses_are_parameter_free_modules_with_forward(loss: Module) -> None:
    assert isinstance(loss, Module) and loss.parameters() == []
    pred = Tensor([[0.2, 0.8], [0.6, 0.4]])
    target = [1, 0] if isinstance(loss, (CrossEntropyLoss, NLLLoss)) else [[0.0, 1.0], [1.0, 0.0]]
    assert loss.forward(pred, target).item() == loss(pred, target).item()


def test_loss_reprs() -> None:
    assert repr(MSELoss()) == "MSELoss(reduction='mean')"
    assert repr(CrossEntropyLoss(label_smoothing=0.1)) == (
        "CrossEntropyLoss(reduction='mean', ignore_index=-100, label_smoothing=0.1)")
