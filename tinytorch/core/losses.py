"""Loss functions (module 04): MSE, cross-entropy, binary cross-entropy, and ``log_softmax``.

A loss turns predictions and targets into one number to minimise. MSE is a composition of
tensor ops. The probabilistic losses are fused ``Function``s, for numerical stability: their
forward never exponentiates a large logit, and their backward is the short closed form
(softmax - one-hot for cross-entropy, sigmoid - target for BCE with logits).

Layout: cross-entropy takes logits with the class axis **last**, ``(N, C)`` or ``(N, ..., C)``
(language-model logits are ``(B, T, V)``), as upstream does. PyTorch puts the class axis second
(``(N, C, d1, ...)``); move it last with ``logits.permute(...)`` when porting such code.

Every loss accepts targets as a Tensor, an ndarray or a (nested) list.

Example:
    >>> from tinytorch.core.tensor import Tensor
    >>> round(CrossEntropyLoss()(Tensor([[0.0, 0.0]]), [1]).item(), 4)  # log 2
    0.6931
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.autograd import Function, Node
from tinytorch.core.broadcasting import broadcasts_to
from tinytorch.core.errors import DTypeError, IndexOutOfRangeError, ShapeError, explain
from tinytorch.core.layers import Module
from tinytorch.core.ops.activation import stable_sigmoid
from tinytorch.core.tensor import Tensor

Array = np.ndarray
_REDUCTIONS = ("mean", "sum", "none")


# --- shared helpers ------------------------------------------------------------------------------


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(explain(
            what=f"reduction={reduction!r} is not a known reduction",
            why="a loss is averaged ('mean'), added up ('sum') or returned per element ('none')",
            fix="pass reduction='mean', 'sum' or 'none'",
        ))
    return reduction


def _as_input(x: Any, who: str) -> Tensor:
    """The prediction as a floating Tensor (arrays and lists are wrapped, Tensors kept)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.dtype.kind != "f":
        raise DTypeError(explain(
            what=f"{who} got predictions of dtype {x.dtype}",
            why="a loss is differentiated with respect to its predictions, which must be floats",
            fix="pass floating-point predictions (e.g. the output of a Linear layer)",
        ))
    return x


def _as_target(target: Any, pred: Tensor, who: str) -> Tensor:
    """The target as a Tensor of the prediction's dtype, checked to fit the prediction's shape.

    A target that requires grad (and already has the right dtype) is kept, so gradients reach it;
    anything else becomes a constant, cast once so no op upcasts to float64 later.
    """
    if isinstance(target, Tensor) and target.requires_grad and target.dtype == pred.dtype:
        out = target
    else:
        array = np.asarray(getattr(target, "data", target))
        out = Tensor._from_op(array.astype(pred.dtype, copy=False), None)
    if out.shape != pred.shape and not broadcasts_to(out.shape, pred.shape):
        raise ShapeError(explain(
            what=f"{who} got predictions of shape {pred.shape} and targets of shape {out.shape}",
            why="each prediction is compared with the target at the same position, so the "
                "shapes must match (a silent broadcast of (N, 1) against (N,) would compare "
                "every prediction with every target)",
            fix=f"reshape the targets to {pred.shape}, e.g. targets.reshape({pred.shape})",
        ))
    return out


def _reduce(loss: Array, reduction: str, count: int) -> Array:
    """Apply the reduction to per-element losses; 'mean' divides by ``count`` (at least 1)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return np.asarray(total, dtype=loss.dtype)
    return np.asarray(total / max(count, 1), dtype=loss.dtype)


def _upstream(grad: Array, reduction: str, count: int) -> Array:
    """d(reduced loss)/d(per-element loss) times the incoming gradient (broadcastable)."""
    if reduction == "mean":
        return grad * grad.dtype.type(1.0 / max(count, 1))
    return grad  # 'sum': a 0-d array that broadcasts; 'none': already per element


# --- cross-entropy -------------------------------------------------------------------------------


class CrossEntropy(Function):
    """Softmax cross-entropy of logits ``(..., C)``: stable log-softmax + NLL in one op.

    ``target`` is either int64 class indices of shape ``logits.shape[:-1]`` (entries equal to
    ``ignore_index`` are skipped) or probabilities of the logits' shape. With label smoothing
    eps, the target distribution is ``(1 - eps) * target + eps / C``.

    The backward is ``softmax - target_distribution``, scaled per row by the upstream gradient
    (divided by the number of counted rows for 'mean'). Nothing is promoted to float64.
    """

    @staticmethod
    def forward(ctx: Node, logits: Array, *, target: Array, ignore_index: int = -100,
                label_smoothing: float = 0.0, reduction: str = "mean") -> Array:
        classes = logits.shape[-1]
        flat = logits.reshape(-1, classes)                   # (M, C)
        shifted = flat - flat.max(axis=1, keepdims=True)     # (M, C), each row's max is 0
        soft = target.shape == logits.shape
        if soft:
            dist = target.reshape(-1, classes)               # (M, C) probabilities
            if label_smoothing:
                dist = (1 - label_smoothing) * dist + label_smoothing / classes
            mass = dist.sum(axis=1)                          # (M,), 1 for a distribution
            weighted = (dist * shifted).sum(axis=1)          # (M,)
        else:
            index = target.reshape(-1)                       # (M,)
            valid = index != ignore_index
            index = np.where(valid, index, 0)                # any in-range class for skipped rows
            picked = shifted[np.arange(flat.shape[0]), index]   # (M,)
            smooth = shifted.mean(axis=1) if label_smoothing else None
        probs = np.exp(shifted, out=shifted)                 # reuse the buffer: e^(x - max)
        total = probs.sum(axis=1)                            # (M,), in [1, C]
        log_total = np.log(total)
        probs /= total[:, None]                              # softmax, (M, C)
        if soft:
            loss = mass * log_total - weighted               # -sum_c dist_c * log p_c
            count = loss.shape[0]
            ctx.save_for_backward(probs, dist, mass)
        else:
            loss = log_total - picked                        # -log p[target]
            if label_smoothing:
                loss = (1 - label_smoothing) * loss + label_smoothing * (log_total - smooth)
            count = int(np.count_nonzero(valid))
            if count < loss.shape[0]:
                loss[~valid] = 0
            ctx.save_for_backward(probs, index, valid)
        ctx.soft, ctx.count, ctx.reduction = soft, count, reduction
        ctx.smoothing, ctx.shape = label_smoothing, logits.shape
        return _reduce(loss.reshape(logits.shape[:-1]), reduction, count)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        scale = _upstream(grad, ctx.reduction, ctx.count)
        if ctx.reduction == "none":
            scale = scale.reshape(-1)                        # (M,)
        if ctx.soft:
            probs, dist, mass = ctx.saved_tensors
            row = np.broadcast_to(scale, mass.shape)[:, None]   # (M, 1)
            return ((probs * mass[:, None] - dist) * row).reshape(ctx.shape)
        probs, index, valid = ctx.saved_tensors
        row = valid * scale                                  # (M,), zero on skipped rows
        out = probs * row[:, None]                           # (M, C)
        out[np.arange(out.shape[0]), index] -= (1 - ctx.smoothing) * row
        if ctx.smoothing:
            out -= (ctx.smoothing / probs.shape[1]) * row[:, None]
        return out.reshape(ctx.shape)


def _class_targets(target: Any, logits_shape: tuple[int, ...], ignore_index: int,
                   who: str) -> Array:
    """Class indices (int64, shape ``logits.shape[:-1]``) or probabilities (shape of logits)."""
    array = np.asarray(getattr(target, "data", target))
    index_shape = logits_shape[:-1]
    if array.shape == logits_shape and array.dtype.kind in "fiub":
        return array                                         # probabilities: cast by the caller
    if array.shape != index_shape:
        torch_layout = len(logits_shape) > 2 and array.shape == (
            logits_shape[0],) + logits_shape[2:]
        raise ShapeError(explain(
            what=f"{who} got logits of shape {logits_shape} and targets of shape {array.shape}",
            why=f"the class axis of the logits is the last one, so class-index targets must have "
                f"shape {index_shape} (or, for probabilities, the logits' shape)",
            fix=(f"pass targets of shape {index_shape}"
                 + (" (e.g. targets.reshape(-1))" if array.size == int(np.prod(index_shape))
                    else "")
                 + ("; PyTorch-layout logits (N, C, ...) need their class axis moved last "
                    "with logits.permute(...)" if torch_layout else "")),
        ))
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array) & (np.mod(array, 1) == 0)):
            bad = array[~(np.isfinite(array) & (np.mod(array, 1) == 0))]
            raise DTypeError(explain(
                what=f"{who} got non-integer class targets such as {bad[:3].tolist()}",
                why="a class index names one class, so it must be a whole number",
                fix="pass integer labels (e.g. Tensor(labels, dtype=np.int64)); for soft "
                    "labels pass probabilities with the logits' shape",
            ))
    elif array.dtype.kind not in "iu":
        raise DTypeError(explain(
            what=f"{who} got class targets of dtype {array.dtype}",
            why="a class index must be an integer (or a float holding a whole number)",
            fix="pass integer labels, e.g. Tensor(labels, dtype=np.int64)",
        ))
    index = array.astype(np.int64, copy=False)
    classes = logits_shape[-1]
    if index.size == 0 or (index.min() >= 0 and index.max() < classes):
        return index                                         # the common case: one pass each
    bad = index[((index < 0) | (index >= classes)) & (index != ignore_index)]
    if bad.size:
        raise IndexOutOfRangeError(explain(
            what=f"{who} got class targets {sorted(set(bad.tolist()))[:5]} for logits with "
                 f"{classes} classes",
            why=f"a class index must lie in 0..{classes - 1} (or equal ignore_index="
                f"{ignore_index})",
            fix="check the labels and the size of the output layer (its out_features must be "
                "the number of classes)",
        ))
    return index


def cross_entropy(logits: Any, targets: Any, reduction: str = "mean", ignore_index: int = -100,
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``(..., C)`` (class axis last) and class targets.

    Args:
        logits: unnormalized scores, shape ``(N, C)`` or ``(N, ..., C)`` (or ``(C,)``).
        targets: class indices of shape ``logits.shape[:-1]`` (ints, or floats holding whole
            numbers), or class probabilities of the logits' shape.
        reduction: 'mean' (over counted positions), 'sum' or 'none'.
        ignore_index: positions whose target equals it contribute nothing.
        label_smoothing: eps in [0, 1]: the target mixes in eps of the uniform distribution.

    Returns:
        A scalar tensor, or per-position losses of shape ``logits.shape[:-1]`` for 'none'.

    Raises:
        ShapeError, DTypeError, IndexOutOfRangeError: for targets that do not fit the logits.

    Example:
        >>> losses = cross_entropy(Tensor([[2.0, 0.0], [0.0, 2.0]]), [0, 1], reduction="none")
        >>> [round(v, 4) for v in losses.tolist()]  # log(1 + e^-2) each
        [0.1269, 0.1269]
    """
    who = "CrossEntropyLoss"
    logits = _as_input(logits, who)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(explain(
            what=f"label_smoothing={label_smoothing} is outside [0, 1]",
            why="it is the share of probability spread uniformly over the classes",
            fix="pass a value such as 0.1 (0 disables smoothing)",
        ))
    if logits.ndim == 0:
        raise ShapeError(explain(
            what=f"{who} got 0-d logits",
            why="logits need a class axis (the last one)",
            fix="pass logits of shape (N, C) or (N, ..., C)",
        ))
    target = _class_targets(targets, logits.shape, ignore_index, who)
    if target.dtype.kind != "i":                              # probabilities: match the logits
        target = target.astype(logits.dtype, copy=False)
    return CrossEntropy.apply(logits, target=target, ignore_index=ignore_index,
                              label_smoothing=float(label_smoothing), reduction=reduction)


def nll_loss(log_probs: Any, targets: Any, reduction: str = "mean",
             ignore_index: int = -100) -> Tensor:
    """Negative log-likelihood of log-probabilities ``(..., C)`` (class axis last).

    ``nll_loss(log_softmax(x), t)`` equals ``cross_entropy(x, t)``; prefer the latter (one op).
    """
    who = "NLLLoss"
    log_probs = _as_input(log_probs, who)
    _check_reduction(reduction)
    index = _class_targets(targets, log_probs.shape, ignore_index, who)
    if index.dtype.kind != "i":
        raise ShapeError(explain(
            what=f"{who} got targets of shape {index.shape}, the log-probabilities' shape",
            why="NLLLoss takes one class index per row",
            fix=f"pass class indices of shape {log_probs.shape[:-1]}",
        ))
    flat_index = index.reshape(-1)                           # (M,)
    valid = flat_index != ignore_index
    rows = np.arange(flat_index.size)
    picked = log_probs.reshape(-1, log_probs.shape[-1])[rows, np.where(valid, flat_index, 0)]
    loss = picked * -valid.astype(log_probs.dtype)           # (M,), zero on skipped rows
    if reduction == "none":
        return loss.reshape(index.shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() * (1.0 / max(int(valid.sum()), 1))


# --- binary cross-entropy ------------------------------------------------------------------------


class BinaryCrossEntropy(Function):
    """-(y log p + (1 - y) log(1 - p)) with p clipped to [eps, 1 - eps] so the logs stay finite.

    The gradient is evaluated at the clipped p (not zeroed where the clip is active), so a
    saturated wrong prediction is still pushed back, as PyTorch does.
    """

    @staticmethod
    def forward(ctx: Node, p: Array, y: Array, *, eps: float = 1e-7,
                reduction: str = "mean") -> Array:
        pc = np.clip(p, eps, 1 - eps)
        log_p, log_q = np.log(pc), np.log1p(-pc)
        loss = -(y * log_p + (1 - y) * log_q)
        ctx.save_for_backward(pc, y, log_p, log_q)
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(loss, reduction, loss.size)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, Array | None]:
        pc, y, log_p, log_q = ctx.saved_tensors
        scale = _upstream(grad, ctx.reduction, ctx.count)
        grad_p = scale * (pc - y) / (pc * (1 - pc)) if ctx.needs_input_grad[0] else None
        grad_y = scale * (log_q - log_p) if ctx.needs_input_grad[1] else None
        return grad_p, grad_y


class BinaryCrossEntropyWithLogits(Function):
    """BCE of sigmoid(x), stably: max(x, 0) - x y + log(1 + e^-|x|); backward sigmoid(x) - y."""

    @staticmethod
    def forward(ctx: Node, x: Array, y: Array, *, reduction: str = "mean") -> Array:
        loss = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
        ctx.save_for_backward(x, y)
        ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(loss, reduction, loss.size)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, Array | None]:
        x, y = ctx.saved_tensors
        scale = _upstream(grad, ctx.reduction, ctx.count)
        grad_x = scale * (stable_sigmoid(x) - y) if ctx.needs_input_grad[0] else None
        grad_y = scale * -x if ctx.needs_input_grad[1] else None
        return grad_x, grad_y


def binary_cross_entropy(predictions: Any, targets: Any, reduction: str = "mean",
                         eps: float = 1e-7) -> Tensor:
    """BCE of probabilities in (0, 1) against targets in [0, 1] (clipped to [eps, 1 - eps]).

    Example:
        >>> round(binary_cross_entropy(Tensor([0.5]), [1.0]).item(), 4)  # log 2
        0.6931
    """
    pred = _as_input(predictions, "BinaryCrossEntropyLoss")
    target = _as_target(targets, pred, "BinaryCrossEntropyLoss")
    return BinaryCrossEntropy.apply(pred, target, eps=eps, reduction=_check_reduction(reduction))


def binary_cross_entropy_with_logits(logits: Any, targets: Any,
                                     reduction: str = "mean") -> Tensor:
    """BCE of sigmoid(logits) against targets in [0, 1], computed without overflow.

    Example:
        >>> round(binary_cross_entropy_with_logits(Tensor([0.0]), [1.0]).item(), 4)
        0.6931
    """
    pred = _as_input(logits, "BCEWithLogitsLoss")
    target = _as_target(targets, pred, "BCEWithLogitsLoss")
    return BinaryCrossEntropyWithLogits.apply(pred, target,
                                              reduction=_check_reduction(reduction))


# --- mean squared error and log_softmax ---------------------------------------------------------


def mse_loss(predictions: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum, or per element) of the squared differences.

    Example:
        >>> mse_loss(Tensor([1.0, 3.0]), [0.0, 1.0]).item()
        2.5
    """
    pred = _as_input(predictions, "MSELoss")
    target = _as_target(targets, pred, "MSELoss")
    _check_reduction(reduction)
    diff = pred - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return squared.sum() if reduction == "sum" else squared.mean()


def log_softmax(x: Any, dim: int = -1) -> Tensor:
    """log(softmax(x)) along ``dim``, stable for any magnitude (one fused op).

    Example:
        >>> [round(v, 4) for v in log_softmax(Tensor([0.0, 0.0])).tolist()]
        [-0.6931, -0.6931]
    """
    return (x if isinstance(x, Tensor) else Tensor(x)).log_softmax(dim)


# --- the loss modules ----------------------------------------------------------------------------


class MSELoss(Module):
    """Mean squared error: mean((predictions - targets)^2)."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)

    def forward(self, predictions: Any, targets: Any) -> Tensor:
        return mse_loss(predictions, targets, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(Module):
    """Softmax cross-entropy of logits (class axis last) against class indices or probabilities.

    Shapes:
        logits: (N, C) or (N, ..., C); targets: (N,) or (N, ...) -> scalar, or (N, ...) for
        reduction='none'.

    Example:
        >>> loss = CrossEntropyLoss()(Tensor([[1.0, 2.0, 3.0]]), [2])
        >>> round(loss.item(), 4)
        0.4076
    """

    def __init__(self, reduction: str = "mean", ignore_index: int = -100,
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return cross_entropy(logits, targets, self.reduction, self.ignore_index,
                             self.label_smoothing)

    def extra_repr(self) -> str:
        return (f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}")


class NLLLoss(Module):
    """Negative log-likelihood of log-probabilities (class axis last), e.g. after LogSoftmax."""

    def __init__(self, reduction: str = "mean", ignore_index: int = -100) -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)
        self.ignore_index = ignore_index

    def forward(self, log_probs: Any, targets: Any) -> Tensor:
        return nll_loss(log_probs, targets, self.reduction, self.ignore_index)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}"


class BinaryCrossEntropyLoss(Module):
    """Binary cross-entropy of probabilities (e.g. a Sigmoid output), clipped to [eps, 1 - eps].

    Prefer ``BCEWithLogitsLoss`` on raw scores: it is exact where this one must clip.
    """

    def __init__(self, reduction: str = "mean", eps: float = 1e-7) -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)
        self.eps = eps

    def forward(self, predictions: Any, targets: Any) -> Tensor:
        return binary_cross_entropy(predictions, targets, self.reduction, self.eps)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, eps={self.eps}"


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy of sigmoid(logits), fused so it is finite for any logit."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return binary_cross_entropy_with_logits(logits, targets, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# --- Upstream-compatible names -------------------------------------------------------------------
BCELoss = BinaryCrossEntropyLoss

__all__ = ["BCELoss", "BCEWithLogitsLoss", "BinaryCrossEntropy", "BinaryCrossEntropyLoss",
           "BinaryCrossEntropyWithLogits", "CrossEntropy", "CrossEntropyLoss", "MSELoss",
           "NLLLoss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "log_softmax", "mse_loss", "nll_loss"]
