"""Transformers (module 13): LayerNorm, the MLP, the pre-LN block and a GPT that generates text.

A GPT embeds tokens and positions, runs them through ``num_layers`` blocks (each: attention
that may only look backwards, then a position-wise MLP, both around residual connections with
LayerNorm first) and maps the result to one logit per vocabulary entry. ``GPT.generate`` samples
one token at a time; with ``use_cache=True`` it keeps past keys and values in a ``KVCache`` so
each step processes only the newest token.

Example:
    >>> model = GPT(vocab_size=11, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=16)
    >>> model(Tensor([[1, 2, 3]], dtype=np.int64)).shape
    (1, 3, 11)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tinytorch.core import init
from tinytorch.core.activations import GELU
from tinytorch.core.attention import KVCache, MultiHeadAttention
from tinytorch.core.autograd import Function, Node, no_grad
from tinytorch.core.broadcasting import constant, sum_rows
from tinytorch.core.embeddings import Embedding, PositionalEncoding, as_token_ids
from tinytorch.core.errors import ShapeError, explain
from tinytorch.core.layers import Dropout, Linear, Module
from tinytorch.core.ops.blocked import row_blocks
from tinytorch.core.rng import get_rng
from tinytorch.core.tensor import Parameter, Tensor

Array = np.ndarray


def create_causal_mask(seq_len: int) -> Tensor:
    """The mask that lets position i attend to positions 0..i only (1 = attend, 0 = block).

    Returns:
        A float32 Tensor of shape (seq_len, seq_len): ones on and below the diagonal.

    Example:
        >>> create_causal_mask(3).tolist()
        [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    """
    return Tensor._from_op(np.tril(np.ones((seq_len, seq_len), dtype=np.float32)), None)


@functools.lru_cache(maxsize=64)
def _causal_mask(num_queries: int, num_keys: int) -> Array:
    """Boolean causal mask for the last ``num_queries`` of ``num_keys`` positions (read-only)."""
    mask = np.tril(np.ones((num_queries, num_keys), dtype=bool), k=num_keys - num_queries)
    mask.flags.writeable = False
    return mask


# --- LayerNorm ---------------------------------------------------------------------------------


class LayerNormFunction(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing ``weight.ndim`` axes.

    One op with the exact backward, instead of the ~10 ops a composition would record:
    with xhat the normalized input, g = dy * weight and r = 1 / sqrt(var + eps),
    dx = r * (g - mean(g) - xhat * mean(g * xhat)).

    Both directions walk the rows in cache-sized blocks (``ops.blocked``): the statistics and
    the normalization of a block are computed while it sits in cache, so each direction
    streams its inputs from memory about once instead of once per pass.
    """

    op_name = "LayerNorm"  # its grad_fn is LayerNormBackward, the name PyTorch users know

    @staticmethod
    def forward(ctx: Node, x: Array, weight: Array, bias: Array, *, eps: float) -> Array:
        rows = x.reshape(-1, weight.size)                        # (N, n): one row per vector
        w, b = weight.reshape(-1), bias.reshape(-1)
        normalize = _normalized_small if rows.size <= SMALL_ELEMENTS else _normalized_blocked
        xhat, rstd, out = normalize(rows, w, b, eps)
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.shape = x.shape
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, Array | None, Array | None]:
        xhat, rstd, weight = ctx.saved_tensors
        n = weight.size
        g_rows = grad.reshape(-1, n)
        grad_w = grad_b = grad_x = None
        if ctx.needs_input_grad[1]:
            grad_w = np.einsum("ij,ij->j", g_rows, xhat).reshape(weight.shape)
        if ctx.needs_input_grad[2]:
            grad_b = sum_rows(g_rows).reshape(weight.shape)
        if ctx.needs_input_grad[0]:
            dx = np.empty(xhat.shape, xhat.dtype)
            w = weight.reshape(-1)
            for blk in row_blocks(*xhat.shape):
                g = np.multiply(g_rows[blk], w, out=dx[blk])     # (rows, n), in cache
                mean_g = _row_means(g)
                mean_gx = np.einsum("ij,ij->i", g, xhat[blk])[:, None] * (1.0 / n)
                g -= mean_g
                g -= xhat[blk] * mean_gx
                g *= rstd[blk]
            grad_x = dx.reshape(ctx.shape)
        return grad_x, grad_w, grad_b


def _row_means(rows: Array) -> Array:
    """Each row's mean as a column, (N, 1).

    ``einsum`` sums each row with one independent inner loop, so a row's mean has the same
    bits in a block of any height (a BLAS matrix-vector product does not promise that), and
    it runs in a third of the time of ``rows.mean(axis=1)``.
    """
    means: Array = np.einsum("ij->i", rows)[:, None]
    means *= 1.0 / rows.shape[1]
    return means


SMALL_ELEMENTS = 16384  # up to here (128 rows of 128: generation) fewer calls beat cache blocking


def _normalized_small(rows: Array, w: Array, b: Array, eps: float) -> tuple[Array, Array, Array]:
    """(xhat, rstd, xhat * w + b) of a few rows in the fewest NumPy calls.

    At this size a call costs more than its arithmetic, so the statistics run in float64 (the
    conversion is one cheap call, and it makes the blocked path's correcting second pass
    unnecessary) and the row sums are matrix-vector products, the cheapest reduction to call.
    """
    x = rows.astype(np.float64)
    mean_weights = constant((rows.shape[1], 1), 1.0 / rows.shape[1], np.float64)  # x @ it: means
    x -= x @ mean_weights                                        # centred
    var = (x * x) @ mean_weights
    var += eps
    var **= -0.5                                                 # now 1 / sqrt(var + eps)
    x *= var
    xhat, rstd = x.astype(rows.dtype), var.astype(rows.dtype)
    out = xhat * w
    out += b
    return xhat, rstd, out


def _normalized_blocked(rows: Array, w: Array, b: Array,
                        eps: float) -> tuple[Array, Array, Array]:
    """(xhat, rstd, xhat * w + b), walking the rows in cache-sized blocks."""
    xhat = np.empty(rows.shape, np.result_type(rows, w))
    out = np.empty_like(xhat)
    rstd = np.empty((rows.shape[0], 1), xhat.dtype)
    for blk in row_blocks(*rows.shape):
        _normalize_rows(rows[blk], xhat[blk], rstd[blk], eps)
        np.multiply(xhat[blk], w, out=out[blk])
        out[blk] += b
    return xhat, rstd, out


def _normalize_rows(rows: Array, xhat: Array, rstd: Array, eps: float) -> None:
    """Write (rows - mean) / sqrt(var + eps) into ``xhat`` and the 1 / sqrt(...) into ``rstd``."""
    n = rows.shape[1]
    np.subtract(rows, _row_means(rows), out=xhat)
    # for inputs far from zero (|mean| >> std) the float32 mean is off by a rounding error that
    # would shift every normalized value alike: measure what is left and take it out too
    shift = _row_means(xhat)
    var = np.einsum("ij,ij->i", xhat, xhat)[:, None]
    var *= 1.0 / n
    var -= shift * shift              # the variance about the corrected mean ...
    np.maximum(var, 0.0, out=var)     # ... which rounding must not push below zero
    xhat -= shift
    np.sqrt(var + eps, out=rstd)
    np.divide(1.0, rstd, out=rstd)
    xhat *= rstd


class LayerNorm(Module):
    """Normalize each vector over its last axes to mean 0 and variance 1, then scale and shift.

    Args:
        normalized_shape: size (int) or sizes (tuple) of the trailing axes normalized together.
        eps: added to the variance to avoid dividing by zero.

    Attributes:
        weight, bias: learned scale (ones) and shift (zeros); ``gamma`` and ``beta`` are
            upstream's names for them.

    Shapes:
        x: (..., *normalized_shape) -> same shape

    Example:
        >>> y = LayerNorm(4)(Tensor([[1.0, 2.0, 3.0, 4.0]]))
        >>> round(float(y.data.mean()), 6), round(float(y.data.std()), 3)
        (0.0, 1.0)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else \
            tuple(normalized_shape)
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps = eps
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=np.float32))
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=np.float32))

    @property
    def gamma(self) -> Parameter:
        """Upstream's name for ``weight`` (a property, so it is not counted twice)."""
        return self.weight

    @gamma.setter
    def gamma(self, value: Parameter) -> None:
        self.weight = value

    @property
    def beta(self) -> Parameter:
        """Upstream's name for ``bias``."""
        return self.bias

    @beta.setter
    def beta(self, value: Parameter) -> None:
        self.bias = value

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k:] != self.normalized_shape:
            raise ShapeError(explain(
                what=f"LayerNorm({self.normalized_shape}) got input of shape {x.shape}",
                why=f"the last {k} axis/axes must be {self.normalized_shape}",
                fix="build the LayerNorm with the model's embed_dim",
            ))
        return LayerNormFunction.apply(x, self.weight, self.bias, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


# --- The feed-forward network and the block ----------------------------------------------------


class MLP(Module):
    """Position-wise feed-forward network: Linear -> GELU (tanh form) -> Linear -> Dropout.

    Args:
        embed_dim: input and output width.
        hidden_dim: inner width (default 4 * embed_dim).
        dropout_prob: dropout on the output, active in training only.

    Shapes:
        x: (..., embed_dim) -> same shape
    """

    def __init__(self, embed_dim: int, hidden_dim: int | None = None,
                 dropout_prob: float = 0.1) -> None:
        super().__init__()
        hidden_dim = 4 * embed_dim if hidden_dim is None else hidden_dim
        self.embed_dim, self.hidden_dim = embed_dim, hidden_dim
        self.linear1 = Linear(embed_dim, hidden_dim)
        self.gelu = GELU(approximate="tanh")
        self.linear2 = Linear(hidden_dim, embed_dim)
        self.dropout = Dropout(dropout_prob)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.linear2(self.gelu(self.linear1(x))))


class TransformerBlock(Module):
    """Pre-LN transformer block: x + Attention(LN(x)), then x + MLP(LN(x)).

    Args:
        embed_dim: model width.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of embed_dim (ignored when ff_dim is given).
        dropout_prob: dropout on attention weights and on both residual branches (training only).
        ff_dim: explicit MLP hidden width.

    Shapes:
        x: (B, T, embed_dim) -> same shape
    """

    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: int = 4,
                 dropout_prob: float = 0.1, ff_dim: int | None = None) -> None:
        super().__init__()
        hidden = ff_dim if ff_dim is not None else int(mlp_ratio * embed_dim)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.ln1 = LayerNorm(embed_dim)
        self.attention = MultiHeadAttention(embed_dim, num_heads, dropout=dropout_prob)
        self.dropout = Dropout(dropout_prob)
        self.ln2 = LayerNorm(embed_dim)
        self.mlp = MLP(embed_dim, hidden, dropout_prob=dropout_prob)

    def forward(self, x: Tensor, mask: Any = None, cache: KVCache | None = None,
                layer_idx: int = 0) -> Tensor:
        """Apply the block; ``mask``, ``cache`` and ``layer_idx`` go to the attention."""
        x = x + self.dropout(self.attention(self.ln1(x), mask=mask, cache=cache,
                                            layer_idx=layer_idx))
        return x + self.mlp(self.ln2(x))


# --- GPT ---------------------------------------------------------------------------------------


@dataclass
class GPTConfig:
    """The sizes of a GPT, so a model can be described (and rebuilt) from one object."""

    vocab_size: int
    embed_dim: int = 128
    num_layers: int = 2
    num_heads: int = 4
    max_seq_len: int = 1024
    dropout: float = 0.0
    tie_weights: bool = False


class GPT(Module):
    """A decoder-only transformer language model that predicts each next token.

    Args:
        vocab_size: number of token ids.
        embed_dim: model width.
        num_layers: number of transformer blocks.
        num_heads: attention heads per block.
        max_seq_len: context window (positions it can encode).
        dropout: dropout probability in embeddings and blocks (training only).
        tie_weights: reuse the token embedding as the output projection (no separate lm_head).

    Shapes:
        tokens: (B, T) or (T,) ids, T <= max_seq_len -> logits: (B, T, vocab_size)
        (a 1-D input is treated as a batch of one)

    Example:
        >>> model = GPT(11, 8, num_layers=1, num_heads=2, max_seq_len=16)
        >>> model.generate([1, 2], max_new_tokens=3, temperature=0).shape
        (5,)
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_layers: int, num_heads: int,
                 max_seq_len: int = 1024, dropout: float = 0.0,
                 tie_weights: bool = False) -> None:
        super().__init__()
        self.config = GPTConfig(vocab_size, embed_dim, num_layers, num_heads, max_seq_len,
                                dropout, tie_weights)
        self.vocab_size, self.embed_dim = vocab_size, embed_dim
        self.num_layers, self.num_heads, self.max_seq_len = num_layers, num_heads, max_seq_len
        self.tie_weights = tie_weights
        self.token_embedding = Embedding(vocab_size, embed_dim)
        self.position_embedding = PositionalEncoding(max_seq_len, embed_dim)
        self.dropout = Dropout(dropout)
        self.blocks = [TransformerBlock(embed_dim, num_heads, dropout_prob=dropout)
                       for _ in range(num_layers)]
        self.ln_f = LayerNorm(embed_dim)
        self.lm_head = None if tie_weights else Linear(embed_dim, vocab_size)
        # A cache that generate() reuses when it fits (perf.memoization.enable_kv_cache sets it);
        # otherwise generate() allocates a fresh one per call.
        self.kv_cache: KVCache | None = None
        self._init_weights()

    @classmethod
    def from_config(cls, config: GPTConfig) -> GPT:
        """Build a GPT from a ``GPTConfig``."""
        return cls(**asdict(config))

    @property
    def embedding_layer(self) -> Embedding:
        """The token embedding (the name newer course material uses)."""
        return self.token_embedding

    def _init_weights(self) -> None:
        """GPT-2's scheme: N(0, 0.02) weights, zero biases, residual outputs scaled down.

        Each block adds two residual branches; scaling their output projections by
        1 / sqrt(2 * num_layers) keeps the residual stream's variance from growing with depth.
        """
        std = 0.02
        for module in self.modules():
            if isinstance(module, Linear):
                module.weight.data[...] = init.normal(module.weight.shape, std)
                if module.bias is not None:
                    module.bias.data[...] = 0.0
        self.token_embedding.weight.data[...] = init.normal(self.token_embedding.weight.shape, std)
        residual_std = std / math.sqrt(2 * max(self.num_layers, 1))
        for block in self.blocks:
            for linear in (block.attention.out_proj, block.mlp.linear2):
                linear.weight.data[...] = init.normal(linear.weight.shape, residual_std)

    # --- forward -------------------------------------------------------------------------

    def _token_batch(self, tokens: Any) -> tuple[Array, bool]:
        """(ids as a (B, T) int64 array, whether the input was 1-D)."""
        ids = as_token_ids(tokens, self.vocab_size, f"GPT(vocab_size={self.vocab_size})")
        if ids.ndim == 1:
            return ids[None, :], True
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ShapeError(explain(
                what=f"GPT got tokens of shape {ids.shape}",
                why="it reads a batch of token sequences, (batch, seq_len), or one sequence",
                fix="pass ids of shape (B, T) or (T,) with T >= 1",
            ))
        return ids, False

    def _hidden(self, ids: Array, cache: KVCache | None = None) -> Tensor:
        """The final-LayerNorm output (B, T, E) for ids (B, T) following the cached positions."""
        start = 0 if cache is None else cache.seq_len
        seq_len = ids.shape[1]
        if start + seq_len > self.max_seq_len:
            raise ShapeError(explain(
                what=f"GPT(max_seq_len={self.max_seq_len}) got {seq_len} tokens"
                     + (f" after {start} cached ones" if start else ""),
                why="the model has position embeddings for max_seq_len positions only",
                fix="crop the input to its last max_seq_len tokens (generate() does this)",
            ))
        x = self.token_embedding(ids)                                   # (B, T, E)
        x = self.dropout(self.position_embedding(x, start))
        mask = None if seq_len == 1 else _causal_mask(seq_len, start + seq_len)
        for i, block in enumerate(self.blocks):
            x = block(x, mask=mask, cache=cache, layer_idx=i)
        return self.ln_f(x)

    def _logits(self, hidden: Tensor) -> Tensor:
        if self.lm_head is None:
            return hidden @ self.token_embedding.weight.transpose()      # (..., V), tied
        return self.lm_head(hidden)

    def forward(self, tokens: Any) -> Tensor:
        """Next-token logits at every position: (B, T, vocab_size)."""
        ids, _ = self._token_batch(tokens)
        return self._logits(self._hidden(ids))

    # --- generation ----------------------------------------------------------------------

    def make_cache(self, batch_size: int) -> KVCache:
        """An empty KV cache sized for this model and ``batch_size`` sequences."""
        return KVCache(batch_size, self.max_seq_len, self.num_layers, self.num_heads,
                       self.embed_dim // self.num_heads)

    def _cache_for(self, batch_size: int) -> KVCache:
        """``self.kv_cache`` emptied, if it has the right sizes; else a new cache."""
        cache = self.kv_cache
        wanted = (batch_size, self.max_seq_len, self.num_layers, self.num_heads,
                  self.embed_dim // self.num_heads)
        if cache is None or (cache.batch_size, cache.max_seq_len, cache.num_layers,
                             cache.num_heads, cache.head_dim) != wanted:
            cache = self.make_cache(batch_size)
        cache.reset()
        return cache

    def _next_logits(self, ids: Array, cache: KVCache | None) -> Array:
        """Logits (B, V) of the token after ``ids``; with a cache, ``ids`` are the new tokens."""
        hidden = self._hidden(ids, cache)
        if cache is not None:
            cache.advance(ids.shape[1])
        return self._logits(hidden[:, -1]).data

    def generate(self, prompt_tokens: Any, max_new_tokens: int = 50, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 use_cache: bool = True) -> Tensor:
        """Extend each prompt by sampling ``max_new_tokens`` tokens, one at a time.

        The context is cropped to the last ``max_seq_len`` tokens. With ``use_cache`` the
        prompt is processed once (prefill) and each later step feeds only the newest token,
        attending over cached keys and values; once the window is full and starts to slide,
        positions shift, so generation falls back to recomputing the cropped window.

        Args:
            prompt_tokens: ids, (T,) or (B, T).
            max_new_tokens: how many tokens to add.
            temperature: divides the logits; 0 means greedy (always the most likely token).
            top_k: sample only among the k most likely tokens.
            top_p: sample only from the smallest set of tokens whose probability reaches p.
            use_cache: use a KV cache (same tokens as recomputation, much faster).

        Returns:
            An int64 Tensor: the prompt followed by the new tokens, (T + n,) or (B, T + n).
            Random draws come from the global generator, so ``manual_seed`` makes it repeatable.
        """
        _check_sampling(max_new_tokens, temperature, top_k, top_p)
        ids, unbatched = self._token_batch(prompt_tokens)
        batch, prompt_len = ids.shape
        out = np.empty((batch, prompt_len + max_new_tokens), dtype=np.int64)
        out[:, :prompt_len] = ids
        length = prompt_len
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                cache = self._cache_for(batch) if use_cache and max_new_tokens else None
                window = out[:, max(0, length - self.max_seq_len):length]
                logits = self._next_logits(window, cache) if max_new_tokens else None
                for step in range(max_new_tokens):
                    assert logits is not None
                    out[:, length] = sample_next_token(logits, temperature, top_k, top_p)
                    length += 1
                    if step == max_new_tokens - 1:
                        break
                    if cache is not None and cache.seq_len < self.max_seq_len:
                        logits = self._next_logits(out[:, length - 1:length], cache)
                    else:
                        cache = None    # the window slides from here on: recompute it
                        window = out[:, max(0, length - self.max_seq_len):length]
                        logits = self._next_logits(window, None)
        finally:
            self.train(was_training)
        return Tensor(out[0] if unbatched else out, dtype=np.int64)

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, embed_dim={self.embed_dim}, "
                f"num_layers={self.num_layers}, num_heads={self.num_heads}, "
                f"max_seq_len={self.max_seq_len}, tie_weights={self.tie_weights}")


def _check_sampling(max_new_tokens: int, temperature: float, top_k: int | None,
                    top_p: float | None) -> None:
    problems = []
    if max_new_tokens < 0:
        problems.append(f"max_new_tokens={max_new_tokens} (must be >= 0)")
    if temperature < 0:
        problems.append(f"temperature={temperature} (must be >= 0; 0 means greedy)")
    if top_k is not None and top_k < 1:
        problems.append(f"top_k={top_k} (must be >= 1, or None)")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        problems.append(f"top_p={top_p} (must lie in (0, 1], or None)")
    if problems:
        raise ValueError(explain(
            what="generate() got " + ", ".join(problems),
            why="these settings define a probability distribution to sample from",
            fix="use e.g. temperature=0.8, top_k=40, top_p=0.9",
        ))


def sample_next_token(logits: Array, temperature: float = 1.0, top_k: int | None = None,
                      top_p: float | None = None) -> Array:
    """Draw one token id per row of ``logits`` (B, V) from the global generator.

    Args:
        logits: unnormalized scores, one row per sequence.
        temperature: 0 picks the argmax; otherwise the logits are divided by it.
        top_k: keep only the k largest logits (ties with the k-th are kept too).
        top_p: keep the most likely tokens until their probability mass reaches top_p.

    Returns:
        int64 array of shape (B,).
    """
    if temperature == 0:
        return np.argmax(logits, axis=-1).astype(np.int64)
    # float64 here: B x V numbers once per step, and a float32 cumulative sum over a large
    # vocabulary would drift enough to skew the draw
    z = np.asarray(logits, dtype=np.float64) / temperature
    vocab = z.shape[-1]
    if top_k is not None and top_k < vocab:
        kth = np.partition(z, vocab - top_k, axis=-1)[:, vocab - top_k:vocab - top_k + 1]
        z = np.where(z < kth, -np.inf, z)
    z = z - z.max(axis=-1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-probs, axis=-1, kind="stable")
        sorted_p = np.take_along_axis(probs, order, axis=-1)
        before = np.cumsum(sorted_p, axis=-1) - sorted_p        # mass of the more likely tokens
        keep = np.empty_like(before, dtype=bool)
        np.put_along_axis(keep, order, before < top_p, axis=-1)  # the top token always stays
        probs = np.where(keep, probs, 0.0)
        probs /= probs.sum(axis=-1, keepdims=True)
    cdf = np.cumsum(probs, axis=-1)
    draws = get_rng().random((probs.shape[0], 1)) * cdf[:, -1:]
    picked = (cdf <= draws).sum(axis=-1)          # first index whose cdf exceeds the draw
    return np.minimum(picked, vocab - 1).astype(np.int64)


# --- Upstream-compatible names -------------------------------------------------------------------
TinyGPT = GPT

__all__ = ["GPT", "MLP", "GPTConfig", "LayerNorm", "LayerNormFunction", "TinyGPT",
           "TransformerBlock", "create_causal_mask", "sample_next_token"]
