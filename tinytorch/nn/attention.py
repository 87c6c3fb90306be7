"""PyTorch's ``nn.MultiheadAttention``: its signature, its mask conventions, its return value.

The course's ``MultiHeadAttention`` (module 12) takes ``forward(x, mask)`` with the mask
convention 1 = attend. PyTorch programs call ``MultiheadAttention(embed_dim, num_heads,
dropout, bias, batch_first)`` and ``forward(query, key, value, key_padding_mask, need_weights,
attn_mask, average_attn_weights, is_causal)`` with PyTorch's conventions: a boolean mask marks
the pairs to **block** (True = may not attend), a float mask is **added** to the scores. This
layer speaks that dialect and computes with the course's pieces: the fused, masked
``AttentionSoftmax`` of ``core.attention`` and a ``Dropout`` on the weights.

Weights use our ``Linear`` layout, (in, out): ``in_proj_weight`` is (E, 3E) = [W_q | W_k | W_v]
and ``out_proj`` is a ``Linear(E, E)``. Copying from PyTorch means transposing each matrix
(``in_proj_weight.T``, ``out_proj.weight.T``); biases copy as they are.

Example:
    >>> import numpy as np
    >>> mha = MultiheadAttention(8, 2, batch_first=True)
    >>> out, weights = mha(*[Tensor(np.ones((2, 5, 8)))] * 3)
    >>> out.shape, weights.shape
    ((2, 5, 8), (2, 5, 5))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core import init
from tinytorch.core.attention import AttentionSoftmax
from tinytorch.core.errors import ShapeError, explain
from tinytorch.core.layers import Dropout, Linear, Module
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.core.tying import IN_OUT, mark_layout

Array = np.ndarray


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's signature (``kdim = vdim = embed_dim``).

    Args:
        embed_dim: model width E (divisible by num_heads).
        num_heads: number of heads H.
        dropout: probability of dropping an attention weight in training.
        bias: learn biases for the input and output projections.
        batch_first: inputs are (N, L, E) when True, PyTorch's default (L, N, E) when False.

    Shapes:
        query (L, N, E), key and value (S, N, E) (batch_first: (N, L, E), (N, S, E); or
        unbatched (L, E), (S, E)); attn_mask (L, S) or (N * H, L, S); key_padding_mask (N, S).
        Returns output like query and weights (N, L, S) (per head: (N, H, L, S)) or None.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False) -> None:
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads != 0:
            raise ValueError(explain(
                what=f"MultiheadAttention(embed_dim={embed_dim}, num_heads={num_heads})",
                why="each head gets embed_dim / num_heads features, which must be a whole number",
                fix="choose num_heads dividing embed_dim",
            ))
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim, self.batch_first = embed_dim // num_heads, batch_first
        self.dropout = dropout
        self.weight_dropout = Dropout(dropout)
        weight = init.xavier_uniform((embed_dim, 3 * embed_dim), embed_dim, 3 * embed_dim)
        self.in_proj_weight = mark_layout(Parameter(weight), IN_OUT)       # (E, 3E)
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype=np.float32)) if bias \
            else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attend from each query position to the key/value positions; see the class docstring.

        ``is_causal=True`` without an ``attn_mask`` applies the causal mask itself (PyTorch
        only accepts it as a hint beside the mask).
        """
        q_in, k_in, v_in = (self._batched(t) for t in (query, key, value))   # (N, L|S, E)
        batch, length, size = q_in.shape[0], q_in.shape[1], k_in.shape[1]
        q, k, v = self._projections(q_in, k_in, v_in, query is key and key is value)
        attend, additive = self._masks(attn_mask, key_padding_mask, is_causal, batch, length,
                                       size)
        scale = 1.0 / math.sqrt(self.head_dim)
        scores = q @ k.transpose(-2, -1)                                     # (N, H, L, S)
        if additive is not None:
            scores = scores + additive / scale       # the softmax sees scale * qk + additive
        weights = AttentionSoftmax.apply(scores, scale=scale, mask=attend)
        weights = self.weight_dropout(weights, training=self.training)
        merged = (weights @ v).transpose(1, 2).reshape(batch, length, self.embed_dim)
        out = self._unbatched(self.out_proj(merged), np.ndim(getattr(query, "data", query)))
        if not need_weights:
            return out, None
        shown = weights.mean(axis=1) if average_attn_weights else weights
        return out, (shown.squeeze(0) if np.ndim(getattr(query, "data", query)) == 2 else shown)

    def _batched(self, t: Any) -> Tensor:
        t = t if isinstance(t, Tensor) else Tensor(t)
        if t.ndim == 2:
            return t.unsqueeze(0)                                            # (1, L, E)
        if t.ndim != 3 or t.shape[-1] != self.embed_dim:
            raise ShapeError(explain(
                what=f"MultiheadAttention(embed_dim={self.embed_dim}) got an input of shape "
                     f"{t.shape}",
                why="inputs are (L, N, E), (N, L, E) with batch_first=True, or unbatched (L, E)",
                fix="check batch_first and the embedding size",
            ))
        return t if self.batch_first else t.transpose(0, 1)

    def _unbatched(self, out: Tensor, query_ndim: int) -> Tensor:
        if query_ndim == 2:
            return out.squeeze(0)
        return out if self.batch_first else out.transpose(0, 1)

    def _projections(self, q_in: Tensor, k_in: Tensor, v_in: Tensor,
                     shared: bool) -> list[Tensor]:
        """Q, K, V, each (N, H, L|S, hd); one GEMM when query, key and value are one tensor."""
        e, w, b = self.embed_dim, self.in_proj_weight, self.in_proj_bias
        if shared:
            packed = q_in @ w if b is None else q_in @ w + b                 # (N, L, 3E)
            parts = [packed[..., i * e:(i + 1) * e] for i in range(3)]
        else:
            parts = [x @ w[:, i * e:(i + 1) * e] for i, x in enumerate((q_in, k_in, v_in))]
            if b is not None:
                parts = [p + b[i * e:(i + 1) * e] for i, p in enumerate(parts)]
        return [p.reshape(p.shape[0], p.shape[1], self.num_heads, self.head_dim)
                .transpose(1, 2) for p in parts]

    def _masks(self, attn_mask: Any, key_padding_mask: Any, is_causal: bool, batch: int,
               length: int, size: int) -> tuple[Array | None, Array | None]:
        """PyTorch's masks as (attend: bool, True = attend; additive: float), (N, H, L, S)-ready."""
        attend: Array | None = None
        additive: Array | None = None
        if attn_mask is None and is_causal:
            attn_mask = np.triu(np.ones((length, size), dtype=bool), k=1)
        for mask, shape in ((attn_mask, "attn"), (key_padding_mask, "padding")):
            if mask is None:
                continue
            array = np.asarray(getattr(mask, "data", mask))
            array = self._shaped(array, shape, batch, length, size)
            if array.dtype == bool:
                attend = ~array if attend is None else attend & ~array
            else:
                blocked = np.isneginf(array)
                if blocked.any():
                    attend = ~blocked if attend is None else attend & ~blocked
                finite = np.where(blocked, 0.0, array).astype(np.float32)
                additive = finite if additive is None else additive + finite
        return attend, additive

    def _shaped(self, array: Array, kind: str, batch: int, length: int, size: int) -> Array:
        heads = self.num_heads
        if kind == "padding" and array.shape in ((batch, size), (size,)):
            return array.reshape(-1, 1, 1, size)                              # (N, 1, 1, S)
        if kind == "attn" and array.shape == (length, size):
            return array
        if kind == "attn" and array.shape == (batch * heads, length, size):
            return array.reshape(batch, heads, length, size)
        raise ShapeError(explain(
            what=f"MultiheadAttention got a {kind} mask of shape {array.shape}",
            why=f"attn_mask is (L, S) = ({length}, {size}) or (N * H, L, S); key_padding_mask "
                f"is (N, S) = ({batch}, {size})",
            fix="build the masks for this batch; True (or -inf) marks what may not be attended",
        ))

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")


__all__ = ["MultiheadAttention"]
