"""Attention (module 12): each position gathers information from the positions it attends to.

``scaled_dot_product_attention`` scores every query against every key, turns the scores into
weights with a softmax and mixes the values with them. ``MultiHeadAttention`` runs several of
these side by side on learned projections, all heads in one batched matmul. ``KVCache`` keeps
the keys and values of past positions so that generation computes each position only once.

Mask convention (upstream's): **1 (or True) = attend, 0 (or False) = block**. A row in which
every key is blocked gets zero weights and a zero output, never NaN.

Example:
    >>> x = Tensor(np.ones((1, 3, 8)))
    >>> MultiHeadAttention(8, 2)(x).shape
    (1, 3, 8)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core import autograd, ops
from tinytorch.core.autograd import Function, Node
from tinytorch.core.broadcasting import broadcasts_to, constant
from tinytorch.core.errors import GraphError, ShapeError, explain
from tinytorch.core.layers import Linear, Module
from tinytorch.core.rng import get_rng
from tinytorch.core.tensor import Tensor

Array = np.ndarray


# --- The attention function ------------------------------------------------------------------


def masked_softmax(z: Array, mask: Array | None) -> Array:
    """Softmax over the last axis of ``z`` (already scaled), in place; blocked keys get 0.

    ``mask`` is boolean, True = attend. A row whose keys are all blocked comes out as zeros.
    Each row is shifted by its own max, so a row's weights depend on that row alone (a shared
    shift would let later queries change earlier rows in the last bit). The row sums are one
    matrix-vector product: NumPy's reduction along a short last axis is several times slower.
    """
    if mask is not None:
        np.copyto(z, -np.inf, where=~mask)                  # exp(-inf) = 0: blocked keys vanish
    peak = z.max(axis=-1, keepdims=True)
    if mask is not None:
        peak[np.isneginf(peak)] = 0.0                       # an all-blocked row: avoid -inf - -inf
    z -= peak
    np.exp(z, out=z)
    total = z @ constant((z.shape[-1], 1), 1.0, z.dtype)    # (..., 1): each row's sum
    if mask is not None:
        total[total == 0.0] = 1.0                           # ... and 0 / 0: the row stays zero
    z /= total
    return z


def masked_softmax_backward(grad: Array, weights: Array, scale: float) -> Array:
    """d(scores) from d(weights) for weights = masked_softmax(scale * scores) (a new array)."""
    # d softmax: w * (g - sum(g * w)); blocked keys have w = 0, so they get no gradient
    inner = np.einsum("...j,...j->...", grad, weights)[..., None]
    out = grad - inner
    out *= weights
    out *= scale
    return out


class AttentionSoftmax(Function):
    """weights = softmax(scale * scores) over the last axis, restricted to the attended keys.

    Fused for two reasons: the scale and the mask cost no extra pass over the scores, and a
    row whose keys are all blocked comes out as zeros (a composed ``masked_fill(-1e9)`` would
    give it uniform weights, silently attending to blocked keys).
    """

    @staticmethod
    def forward(ctx: Node, scores: Array, *, scale: float, mask: Array | None = None) -> Array:
        z = masked_softmax(scores * scale, mask)            # a Python float keeps the dtype
        ctx.save_for_backward(z)
        ctx.scale = scale
        return z

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (weights,) = ctx.saved_tensors
        return masked_softmax_backward(grad, weights, ctx.scale)


class Attention(Function):
    """out = dropout(softmax(scale * Q K^T + bias, masked)) V as one op, with one backward.

    The composed form records a matmul, a transpose, the softmax and a second matmul, each
    with its own output and gradient arrays; fused, the scores live only inside this op and
    the backward is four batched GEMMs around one softmax backward.

    Args (keywords):
        scale: multiplies the scores.
        mask: boolean, broadcastable to the scores, True = attend (or None).
        bias: a float array added to the scaled scores (PyTorch's float ``attn_mask``), or None.
        keep: dropout's kept-and-rescaled multiplier on the weights, or None.
        sink: a list that receives the weights array, for inspection (or None).

    Shapes:
        q: (..., T_q, d)    k: (..., T_k, d)    v: (..., T_k, d_v)  ->  (..., T_q, d_v)
    """

    @staticmethod
    def forward(ctx: Node, q: Array, k: Array, v: Array, *, scale: float,
                mask: Array | None = None, bias: Array | None = None,
                keep: Array | None = None, sink: list[Array] | None = None) -> Array:
        z = np.matmul(q * scale, np.swapaxes(k, -1, -2))   # scaling q: fewer elements than z
        if bias is not None:
            z += bias
        weights = masked_softmax(z, mask)
        if sink is not None:
            sink.append(weights)
        mixing = weights if keep is None else weights * keep
        ctx.save_for_backward(q, k, v, weights, mixing)
        ctx.scale, ctx.keep = scale, keep
        return np.matmul(mixing, v)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, Array | None, Array | None]:
        q, k, v, weights, mixing = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_v = np.matmul(np.swapaxes(mixing, -1, -2), grad) if needs[2] else None
        if not (needs[0] or needs[1]):
            return None, None, grad_v
        grad_w = np.matmul(grad, np.swapaxes(v, -1, -2))             # (..., T_q, T_k)
        if ctx.keep is not None:
            grad_w *= ctx.keep
        grad_s = masked_softmax_backward(grad_w, weights, ctx.scale)
        grad_q = np.matmul(grad_s, k) if needs[0] else None
        grad_k = np.matmul(np.swapaxes(grad_s, -1, -2), q) if needs[1] else None
        return grad_q, grad_k, grad_v


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _mask_array(mask: Any, scores_shape: tuple[int, ...], who: str) -> Array | None:
    """The mask as a boolean array (True = attend) that broadcasts to the scores' shape."""
    if mask is None:
        return None
    array = np.asarray(getattr(mask, "data", mask))
    if array.dtype != bool:
        array = array != 0
    if not broadcasts_to(array.shape, scores_shape):
        raise ShapeError(explain(
            what=f"{who} got a mask of shape {array.shape} for attention scores of shape "
                 f"{scores_shape}",
            why="the mask must broadcast to (..., T_q, T_k): one entry per (query, key) pair, "
                "1 = attend, 0 = block",
            fix="build it with create_causal_mask(seq_len) or give it shape (T_q, T_k), "
                "(batch, T_q, T_k) or (batch, 1, T_q, T_k)",
        ))
    return array


def _attend(Q: Tensor, K: Tensor, V: Tensor, mask: Array | None,  # noqa: N803 (math names)
            dropout_p: float = 0.0) -> tuple[Tensor, Tensor]:
    """The attention computation behind the public function and the multi-head layer."""
    scores = Q @ K.transpose(-2, -1)                                    # (..., T_q, T_k)
    weights = AttentionSoftmax.apply(scores, scale=1.0 / math.sqrt(Q.shape[-1]), mask=mask)
    mixing = weights
    if dropout_p > 0.0:
        keep = get_rng().random(weights.shape, dtype=np.float32) >= dropout_p
        mixing = weights * (keep * np.float32(1.0 / (1.0 - dropout_p)))
    return mixing @ V, weights                                          # (..., T_q, d_v)


def scaled_dot_product_attention(Q: Any, K: Any, V: Any,  # noqa: N803 (the paper's names)
                                 mask: Any = None) -> tuple[Tensor, Tensor]:
    """Weight each value by how well its key matches the query: softmax(Q K^T / sqrt(d)) V.

    Args:
        Q, K, V: queries, keys and values.
        mask: optional, 1 (True) = attend, 0 (False) = block; broadcast against the scores.

    Returns:
        (output, weights). A query whose keys are all blocked gets zero weights and output.

    Shapes:
        Q: (..., T_q, d)    K: (..., T_k, d)    V: (..., T_k, d_v)
        mask: broadcastable to (..., T_q, T_k)
        output: (..., T_q, d_v)    weights: (..., T_q, T_k)

    Raises:
        ShapeError: Q, K and V do not line up, or the mask does not broadcast.

    Example:
        >>> Q = K = V = Tensor(np.ones((1, 2, 4)))
        >>> out, weights = scaled_dot_product_attention(Q, K, V)
        >>> weights.tolist()
        [[[0.5, 0.5], [0.5, 0.5]]]
    """
    Q, K, V = _as_tensor(Q), _as_tensor(K), _as_tensor(V)  # noqa: N806
    if Q.ndim < 2 or K.ndim < 2 or V.ndim < 2 or Q.shape[-1] != K.shape[-1] \
            or K.shape[-2] != V.shape[-2]:
        raise ShapeError(explain(
            what=f"attention got Q {Q.shape}, K {K.shape}, V {V.shape}",
            why="Q and K must share the feature size d (last axis), and K and V the number "
                "of keys T_k (second-to-last axis): Q (..., T_q, d), K (..., T_k, d), "
                "V (..., T_k, d_v)",
            fix="check the projections and the head split",
        ))
    scores_shape = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2]) + (Q.shape[-2], K.shape[-2])
    return _attend(Q, K, V, _mask_array(mask, scores_shape, "scaled_dot_product_attention"))


# --- The KV cache ------------------------------------------------------------------------------


class KVCache:
    """Preallocated keys and values of past positions, one slot per layer, for fast generation.

    Without a cache, producing token t recomputes the keys and values of all t - 1 earlier
    tokens in every layer. With it, each step computes them for the one new token, stores them
    with ``update`` and attends over ``get``. Call ``advance`` once all layers have stored the
    step.

    Args:
        batch_size, max_seq_len, num_layers, num_heads, head_dim: the sizes of the float32
            buffers, ``(num_layers, batch_size, num_heads, max_seq_len, head_dim)`` each for keys
            and values, allocated once.

    Attributes:
        seq_len: positions committed by ``advance`` (also ``seq_pos``, upstream's name).

    Example:
        >>> cache = KVCache(1, 8, num_layers=2, num_heads=2, head_dim=4)
        >>> k = np.ones((1, 2, 3, 4), dtype=np.float32)
        >>> cache.update(0, k, k); cache.get(0)[0].shape
        (1, 2, 3, 4)
    """

    def __init__(self, batch_size: int, max_seq_len: int, num_layers: int, num_heads: int,
                 head_dim: int) -> None:
        sizes = {"batch_size": batch_size, "max_seq_len": max_seq_len, "num_layers": num_layers,
                 "num_heads": num_heads, "head_dim": head_dim}
        bad = {k: v for k, v in sizes.items() if not isinstance(v, (int, np.integer)) or v < 1}
        if bad:
            raise ValueError(explain(
                what=f"KVCache got {bad}",
                why="every size of the cache must be a positive integer",
                fix="pass the model's batch size, context length, layer and head counts",
            ))
        self.batch_size, self.max_seq_len = int(batch_size), int(max_seq_len)
        self.num_layers, self.num_heads, self.head_dim = int(num_layers), int(num_heads), \
            int(head_dim)
        shape = (self.num_layers, self.batch_size, self.num_heads, self.max_seq_len,
                 self.head_dim)
        self.keys = np.zeros(shape, dtype=np.float32)
        self.values = np.zeros(shape, dtype=np.float32)
        self.seq_len = 0
        self._filled = [0] * self.num_layers    # per layer: seq_len plus this step's update

    @property
    def seq_pos(self) -> int:
        """Upstream's name for ``seq_len``."""
        return self.seq_len

    def _check_layer(self, layer_idx: int) -> None:
        if not 0 <= layer_idx < self.num_layers:
            raise IndexError(explain(
                what=f"KVCache has no layer {layer_idx}",
                why=f"it was built for {self.num_layers} layers, 0..{self.num_layers - 1}",
                fix="pass the index of the transformer block, or build a larger cache",
            ))

    def _overflow(self, extra: int) -> ShapeError:
        return ShapeError(explain(
            what=f"KVCache holds {self.seq_len} of {self.max_seq_len} positions and was asked "
                 f"for {extra} more",
            why="the buffers were allocated for max_seq_len positions and cannot grow",
            fix="reset() the cache, build it with a larger max_seq_len, or crop the context "
                "and recompute without the cache",
        ))

    def update(self, layer_idx: int, key: Any, value: Any) -> None:
        """Store this step's keys and values of layer ``layer_idx`` after the committed ones.

        Shapes:
            key, value: (batch_size, num_heads, n_new, head_dim)

        Raises:
            ShapeError: wrong shape, or the new positions would not fit in max_seq_len.
        """
        self._check_layer(layer_idx)
        key = np.asarray(getattr(key, "data", key))
        value = np.asarray(getattr(value, "data", value))
        expected = (self.batch_size, self.num_heads, self.head_dim)
        if key.ndim != 4 or value.shape != key.shape or \
                (key.shape[0], key.shape[1], key.shape[3]) != expected:
            raise ShapeError(explain(
                what=f"KVCache.update got key {key.shape} and value {value.shape}",
                why=f"both must be (batch_size, num_heads, n_new, head_dim) = "
                    f"({self.batch_size}, {self.num_heads}, n_new, {self.head_dim})",
                fix="pass the per-head keys and values of the new positions",
            ))
        start, end = self.seq_len, self.seq_len + key.shape[2]
        if end > self.max_seq_len:
            raise self._overflow(key.shape[2])
        self.keys[layer_idx, :, :, start:end] = key
        self.values[layer_idx, :, :, start:end] = value
        self._filled[layer_idx] = end

    def get(self, layer_idx: int) -> tuple[Tensor, Tensor]:
        """Keys and values of layer ``layer_idx``: the committed positions plus this step's.

        Returns views into the buffers (no copy), as tensors that require no gradient.

        Shapes:
            keys, values: (batch_size, num_heads, length, head_dim)
        """
        self._check_layer(layer_idx)
        length = max(self._filled[layer_idx], self.seq_len)
        return (Tensor._from_op(self.keys[layer_idx, :, :, :length], None),
                Tensor._from_op(self.values[layer_idx, :, :, :length], None))

    def advance(self, n: int = 1) -> None:
        """Commit ``n`` new positions (call once per step, after every layer's ``update``)."""
        if self.seq_len + n > self.max_seq_len:
            raise self._overflow(n)
        self.seq_len += n
        self._filled = [self.seq_len] * self.num_layers

    def reset(self) -> None:
        """Forget every position (the buffers are kept and simply overwritten later)."""
        self.seq_len = 0
        self._filled = [0] * self.num_layers

    def get_memory_usage(self) -> dict[str, float]:
        """The real size of the buffers: bytes and MB, in total, per layer and in use now."""
        total = int(self.keys.nbytes + self.values.nbytes)
        used = total * self.seq_len // self.max_seq_len
        return {
            "total_bytes": total,
            "total_mb": total / 2**20,
            "per_layer_bytes": total // self.num_layers,
            "per_layer_mb": total / self.num_layers / 2**20,
            "used_bytes": used,
            "used_mb": used / 2**20,
            "total_elements": int(self.keys.size + self.values.size),
            "cache_tensors": 2 * self.num_layers,
        }

    def __repr__(self) -> str:
        return (f"KVCache(batch_size={self.batch_size}, max_seq_len={self.max_seq_len}, "
                f"num_layers={self.num_layers}, num_heads={self.num_heads}, "
                f"head_dim={self.head_dim}, seq_len={self.seq_len})")


# --- Multi-head attention --------------------------------------------------------------------


class MultiHeadAttention(Module):
    """Several attention heads side by side, each on its own slice of learned projections.

    Queries, keys and values come from three projections, ``q_proj``, ``k_proj`` and ``v_proj``
    (upstream's and PyTorch's names; at this size three GEMMs cost what one wide GEMM costs, and
    each weight is a parameter of its own). The heads are an axis of one fused ``Attention`` op,
    never a Python loop.

    Args:
        embed_dim: model width E (divisible by num_heads).
        num_heads: number of heads H; each works on E / H features.
        dropout: probability of dropping an attention weight in training.

    Shapes:
        x: (B, T, E) or (T, E)    kv: (B, T_kv, E) for cross-attention
        mask: (T, T_k), (B, T, T_k) or (B, 1|H, T, T_k); 1 = attend, 0 = block
        output: same shape as x

    Example:
        >>> mha = MultiHeadAttention(8, 2)
        >>> mha(Tensor(np.ones((2, 5, 8))), mask=np.tril(np.ones((5, 5)))).shape
        (2, 5, 8)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads != 0:
            raise ValueError(explain(
                what=f"MultiHeadAttention(embed_dim={embed_dim}, num_heads={num_heads})",
                why="each head gets embed_dim / num_heads features, which must be a whole number",
                fix="choose num_heads dividing embed_dim (e.g. 128 with 4 or 8 heads)",
            ))
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.q_proj = Linear(embed_dim, embed_dim)
        self.k_proj = Linear(embed_dim, embed_dim)
        self.v_proj = Linear(embed_dim, embed_dim)
        self.out_proj = Linear(embed_dim, embed_dim)
        self.attention_weights: Tensor | None = None         # the last weights, for inspection

    def _heads(self, t: Tensor) -> Tensor:
        """(B, T, E) -> (B, H, T, hd): a view, the heads as a batch axis."""
        if t.shape[1] == 1:   # one position (generation): the same memory order, one op
            return ops.Reshape.apply(t, shape=(t.shape[0], self.num_heads, 1, self.head_dim))
        split = ops.Reshape.apply(t, shape=t.shape[:2] + (self.num_heads, self.head_dim))
        return ops.Permute.apply(split, axes=(0, 2, 1, 3))

    def forward(self, x: Tensor, mask: Any = None, kv: Tensor | None = None,
                cache: KVCache | None = None, layer_idx: int = 0) -> Tensor:
        """Attend from each position of ``x`` to the positions of ``kv`` (default: ``x``).

        Args:
            x: the queries' input.
            mask: which (query, key) pairs may attend (see the class docstring).
            kv: the keys' and values' input for cross-attention; None for self-attention.
            cache: a KVCache for generation: this call's keys and values are stored in slot
                ``layer_idx`` and attention runs over every cached position. Inference only.
            layer_idx: the slot of ``cache`` this layer uses.
        """
        x = _as_tensor(x)
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(0)
            kv = None if kv is None else _as_tensor(kv).unsqueeze(0)
        self._check_input(x, "x")
        source = x if kv is None else _as_tensor(kv)
        self._check_input(source, "kv")
        q, k, v = (self._heads(proj(t)) for proj, t in
                   ((self.q_proj, x), (self.k_proj, source), (self.v_proj, source)))
        if cache is not None:
            k, v = self._with_cache(cache, layer_idx, k, v)
        weights: list[Array] = []
        heads = Attention.apply(q, k, v, scale=1.0 / math.sqrt(self.head_dim),
                                mask=self._mask(mask, q.shape, k.shape[-2]),
                                keep=self._dropout_keep(q.shape[:-1] + (k.shape[-2],)),
                                sink=weights)                  # (B, H, T, hd)
        self.attention_weights = Tensor._from_op(weights[0], None)
        batch, seq = x.shape[0], x.shape[1]
        if seq > 1:
            heads = ops.Permute.apply(heads, axes=(0, 2, 1, 3))             # (B, T, H, hd)
        merged = ops.Reshape.apply(heads, shape=(batch, seq, self.embed_dim))  # (B, T, E)
        out = self.out_proj(merged)
        return out.squeeze(0) if unbatched else out

    def _dropout_keep(self, shape: tuple[int, ...]) -> Array | None:
        """Dropout's multiplier on the weights (0 or 1 / (1 - p)), or None when inactive."""
        p = self.dropout if self.training else 0.0
        if p <= 0.0:
            return None
        keep = get_rng().random(shape, dtype=np.float32) >= p
        return keep * np.float32(1.0 / (1.0 - p))

    def _check_input(self, t: Tensor, name: str) -> None:
        if t.ndim != 3 or t.shape[-1] != self.embed_dim:
            raise ShapeError(explain(
                what=f"MultiHeadAttention(embed_dim={self.embed_dim}) got {name} of shape "
                     f"{t.shape}",
                why=f"it expects (batch, seq_len, {self.embed_dim}) or (seq_len, "
                    f"{self.embed_dim})",
                fix="embed the tokens first and check embed_dim",
            ))

    def _with_cache(self, cache: KVCache, layer_idx: int, k: Tensor,
                    v: Tensor) -> tuple[Tensor, Tensor]:
        if autograd.is_grad_enabled() and self.q_proj.weight.requires_grad:
            raise GraphError(explain(
                what="MultiHeadAttention was called with a KV cache while recording gradients",
                why="cached keys and values are plain arrays from earlier calls, so gradients "
                    "through them would be silently incomplete",
                fix="use the cache for inference only, inside `with no_grad():`",
            ))
        cache.update(layer_idx, k.data, v.data)
        return cache.get(layer_idx)

    def _mask(self, mask: Any, q_shape: tuple[int, ...], num_keys: int) -> Array | None:
        if mask is None:
            return None
        array = np.asarray(getattr(mask, "data", mask))
        if array.ndim == 3:
            array = array[:, None]                            # (B, T, T_k) -> (B, 1, T, T_k)
        scores_shape = q_shape[:-1] + (num_keys,)
        return _mask_array(array, scores_shape, "MultiHeadAttention")

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


__all__ = ["Attention", "AttentionSoftmax", "KVCache", "MultiHeadAttention", "masked_softmax",
           "scaled_dot_product_attention"]
