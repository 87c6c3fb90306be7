"""The functional face, PyTorch-style: ``import tinytorch.nn.functional as F``.

Each function is the stateless form of a module and computes exactly what the module does.
Differences from PyTorch, all on purpose (see docs/differences.md):

- ``linear(x, weight, bias)`` takes ``weight`` of shape ``(in_features, out_features)``, the
  layout of our ``Linear``, and computes ``x @ weight + bias`` (PyTorch's weight is ``(out, in)``).
- ``cross_entropy`` and ``nll_loss`` take the class axis **last**: ``(N, C)`` or ``(N, ..., C)``.
- ``gelu`` defaults to ``approximate='tanh'`` (as our ``GELU`` and GPT-2); pass ``'none'`` for
  the exact erf form that is PyTorch's default.
- ``scaled_dot_product_attention`` gives a query whose keys are all masked out a zero output
  (PyTorch's math gives NaN there); everything else is PyTorch's contract.

Example:
    >>> from tinytorch.core.tensor import Tensor
    >>> relu(Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tinytorch.core import ops
from tinytorch.core.activations import GELU
from tinytorch.core.attention import Attention
from tinytorch.core.broadcasting import normalize_axis
from tinytorch.core.embeddings import EmbeddingLookup, as_token_ids
from tinytorch.core.errors import IndexOutOfRangeError, ShapeError, explain
from tinytorch.core.layers import Dropout
from tinytorch.core.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    mse_loss,
    nll_loss,
)
from tinytorch.core.rng import get_rng
from tinytorch.core.spatial import avg_pool2d, batch_norm, conv2d, max_pool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor_methods import index_array
from tinytorch.core.transformer import LayerNormFunction


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# --- activations ---------------------------------------------------------------------------------


def relu(x: Any, inplace: bool = False) -> Tensor:
    """max(x, 0) (``inplace`` is accepted; the result is always a new tensor)."""
    return ops.Relu.apply(_tensor(x))


def leaky_relu(x: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return ops.LeakyRelu.apply(_tensor(x), negative_slope=negative_slope)


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x), stable for large |x|."""
    return ops.Sigmoid.apply(_tensor(x))


def tanh(x: Any) -> Tensor:
    """tanh(x)."""
    return ops.Tanh.apply(_tensor(x))


def silu(x: Any, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    return ops.Silu.apply(_tensor(x))


def gelu(x: Any, approximate: str = "tanh") -> Tensor:
    """x * Phi(x); ``approximate`` is 'tanh' (default), 'none' (exact erf) or 'sigmoid'."""
    return GELU(approximate)(_tensor(x))


def softmax(x: Any, dim: int = -1) -> Tensor:
    """Softmax along ``dim`` (max-shifted, so it never overflows)."""
    x = _tensor(x)
    return ops.Softmax.apply(x, axis=normalize_axis(dim, x.ndim))


# --- layers --------------------------------------------------------------------------------------


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weight + bias, with ``weight`` of shape (in_features, out_features) as our Linear.

    Shapes:
        x: (..., in_features), weight: (in_features, out_features), bias: (out_features,)
        -> (..., out_features)
    """
    x, weight = _tensor(x), _tensor(weight)
    if weight.ndim != 2 or x.shape[-1:] != weight.shape[:1]:
        raise ShapeError(explain(
            what=f"linear got input of shape {x.shape} and weight of shape {weight.shape}",
            why="the weight is (in_features, out_features) and the input's last axis must be "
                "in_features (this is the transpose of PyTorch's weight layout)",
            fix="pass weight.T if it comes from PyTorch, or reshape the input",
        ))
    if bias is None:
        return ops.Linear.apply(x, weight)
    if np.ndim(getattr(bias, "data", bias)) == 1:
        return ops.Linear.apply(x, weight, bias)        # the bias is added inside the GEMM op
    return x @ weight + bias                            # another broadcastable bias shape


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` when training, scaling the rest by 1/(1 - p)."""
    return Dropout(p)(_tensor(x), training=training)


def flatten(x: Any, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` into one (the batch axis is kept by default)."""
    return _tensor(x).flatten(start_dim, end_dim)


def one_hot(target: Any, num_classes: int = -1) -> Tensor:
    """Integer class indices (...,) -> an int64 tensor (..., num_classes) of zeros and ones."""
    index = index_array(target, "one_hot")
    classes = int(index.max()) + 1 if num_classes < 0 and index.size else max(num_classes, 0)
    if index.size and (index.min() < 0 or index.max() >= classes):
        raise IndexOutOfRangeError(explain(
            what=f"one_hot got indices in {int(index.min())}..{int(index.max())} "
                 f"for {classes} classes",
            why="an index must lie in 0..num_classes-1",
            fix="raise num_classes or check the labels",
        ))
    return Tensor(np.eye(classes, dtype=np.int64)[index], dtype=np.int64)


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Tensor:  # noqa: A002
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ids, as ``nn.Embedding``.

    The gradient is scattered back into the picked rows (none into ``padding_idx``'s).

    Shapes:
        input: any shape of ids -> input.shape + (dim,)
    """
    weight = _tensor(weight)
    ids = as_token_ids(input, weight.shape[0], f"embedding(weight of shape {weight.shape})")
    pad = None if padding_idx is None else padding_idx % weight.shape[0]
    return EmbeddingLookup.apply(weight, ids=ids, padding_idx=pad)


def pad(input: Any, pad: tuple[int, ...], mode: str = "constant",  # noqa: A002
        value: float = 0.0) -> Tensor:
    """Pad with ``value``; ``pad`` lists (before, after) pairs from the **last** axis backwards.

    ``pad(x, (1, 2))`` adds one column before and two after along the last axis;
    ``pad(x, (1, 1, 2, 2))`` also adds two rows on each side of the axis before it. Only
    ``mode='constant'`` and non-negative amounts are supported.

    Example:
        >>> pad(Tensor([[1.0, 2.0]]), (1, 0), value=9.0).tolist()
        [[9.0, 1.0, 2.0]]
    """
    x = _tensor(input)
    amounts = [int(n) for n in pad]
    if mode != "constant" or len(amounts) % 2 or len(amounts) // 2 > x.ndim or min(
            amounts, default=0) < 0:
        raise ValueError(explain(
            what=f"pad got pad={tuple(pad)}, mode={mode!r} for a tensor of shape {x.shape}",
            why="pad takes non-negative (before, after) pairs, at most one per axis, counted "
                "from the last axis, and only constant padding is implemented",
            fix="pass e.g. (1, 1) for the last axis or (1, 1, 2, 2) for the last two, "
                "with mode='constant'",
        ))
    pairs = [(amounts[i], amounts[i + 1]) for i in range(0, len(amounts), 2)][::-1]
    width = ((0, 0),) * (x.ndim - len(pairs)) + tuple(pairs)
    return ops.Pad.apply(x, pad_width=width, value=value)


# --- spatial and transformer functions ------------------------------------------------------------


def layer_norm(x: Any, normalized_shape: int | tuple[int, ...], weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` axes, then scale and shift (fused op)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    weight = Tensor(np.ones(shape, dtype=np.float32)) if weight is None else weight
    bias = Tensor(np.zeros(shape, dtype=np.float32)) if bias is None else bias
    return LayerNormFunction.apply(x, weight, bias, eps=eps)


@functools.lru_cache(maxsize=64)
def _causal(num_queries: int, num_keys: int) -> np.ndarray:
    """PyTorch's ``is_causal`` mask: query i sees keys 0..i (top-left aligned), read-only."""
    mask = np.tril(np.ones((num_queries, num_keys), dtype=bool))
    mask.flags.writeable = False
    return mask


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Tensor:
    """softmax(query key^T * scale + mask) value, fused into one op (PyTorch's signature).

    Args:
        query, key, value: (..., L, E), (..., S, E), (..., S, E_v).
        attn_mask: boolean (True = take part in attention) or float (added to the scores),
            broadcastable to (..., L, S).
        dropout_p: probability of dropping an attention weight (applied whenever > 0).
        is_causal: query i attends to keys 0..i; not combinable with ``attn_mask``.
        scale: multiplies the scores; default 1 / sqrt(E).

    Returns:
        (..., L, E_v). A query whose keys are all masked out gets a zero output.

    Example:
        >>> q = Tensor(np.ones((1, 3, 4)))
        >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
        (1, 3, 4)
    """
    query, key, value = _tensor(query), _tensor(key), _tensor(value)
    if query.ndim < 2 or query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ShapeError(explain(
            what=f"scaled_dot_product_attention got query {query.shape}, key {key.shape}, "
                 f"value {value.shape}",
            why="query (..., L, E) and key (..., S, E) share E; key and value share S",
            fix="check the projections and the head split",
        ))
    mask, bias = _attention_mask(attn_mask, is_causal, query.shape[-2], key.shape[-2])
    keep = None
    if dropout_p > 0.0:
        shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (query.shape[-2],
                                                                          key.shape[-2])
        keep = (get_rng().random(shape, dtype=np.float32) >= dropout_p) \
            * np.float32(1.0 / (1.0 - dropout_p))
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    return Attention.apply(query, key, value, scale=scale, mask=mask, bias=bias, keep=keep)


def _attention_mask(attn_mask: Any, is_causal: bool, num_queries: int,
                    num_keys: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(boolean mask, float bias) from PyTorch's ``attn_mask`` / ``is_causal`` arguments."""
    if is_causal:
        if attn_mask is not None:
            raise ValueError(explain(
                what="scaled_dot_product_attention got both attn_mask and is_causal=True",
                why="is_causal builds the causal mask itself, as in PyTorch",
                fix="pass one of them; combine masks yourself with & if you need both",
            ))
        return _causal(num_queries, num_keys), None
    if attn_mask is None:
        return None, None
    array = np.asarray(getattr(attn_mask, "data", attn_mask))
    if array.dtype == bool:
        return array, None
    return None, array


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout",
    "embedding", "flatten", "pad", "gelu", "leaky_relu", "linear", "log_softmax", "mse_loss",
    "nll_loss", "one_hot",
    "relu", "sigmoid", "silu", "softmax", "tanh",
    "avg_pool2d", "batch_norm", "conv2d", "layer_norm", "max_pool2d",
    "scaled_dot_product_attention",
]
