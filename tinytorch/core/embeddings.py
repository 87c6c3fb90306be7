"""Embeddings (module 11): token ids to vectors, and where each token sits in the sequence.

``Embedding`` is a learned lookup table: row ``i`` is the vector of token ``i``. Its forward is a
gather and its backward a scatter-add, since a token that appears several times in a batch
collects the gradient of every occurrence. Position is added either from a learned table
(``PositionalEncoding``) or from fixed sinusoids (``create_sinusoidal_embeddings``);
``EmbeddingLayer`` combines token and position.

Example:
    >>> emb = Embedding(10, 4)
    >>> emb(Tensor([[1, 2, 2]], dtype=np.int64)).shape
    (1, 3, 4)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core import init
from tinytorch.core.autograd import Function, Node
from tinytorch.core.errors import DTypeError, IndexOutOfRangeError, ShapeError, explain
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.core.tying import IN_OUT, OUT_IN, checked_matrix, layout_of, mark_layout

Array = np.ndarray


def as_token_ids(tokens: Any, vocab_size: int, who: str) -> Array:
    """Token ids as an int64 array, checked to lie in ``[0, vocab_size)``.

    Integer data is taken as is; floating data must hold whole numbers (ids often travel in
    float32 tensors, the default dtype).

    Raises:
        DTypeError: the ids are not whole numbers.
        IndexOutOfRangeError: an id is negative or not below ``vocab_size``.
    """
    ids = np.asarray(getattr(tokens, "data", tokens))
    if ids.dtype.kind == "f":
        fractional = ~(np.isfinite(ids) & (ids == np.round(ids)))
        if fractional.any():
            raise DTypeError(explain(
                what=f"{who} got non-integer token ids such as {ids[fractional][:3].tolist()}",
                why="a token id names a row of the embedding table, so it is a whole number",
                fix="round the ids or pass them with an integer dtype (np.int64)",
            ))
    elif ids.dtype.kind not in "iu":
        raise DTypeError(explain(
            what=f"{who} got token ids of dtype {ids.dtype}",
            why="token ids are integers (or floats holding whole numbers)",
            fix="pass a list, array or Tensor of integer ids",
        ))
    ids = ids.astype(np.int64, copy=False)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = ids[(ids < 0) | (ids >= vocab_size)]
        raise IndexOutOfRangeError(explain(
            what=f"{who} got token id(s) {np.unique(bad)[:5].tolist()} outside the vocabulary "
                 f"of size {vocab_size}",
            why=f"valid ids are 0..{vocab_size - 1}, one per row of the embedding table",
            fix="check the tokenizer's vocab_size against the model's, or map unknown symbols "
                "to an UNK id",
        ))
    return ids


def _scatter_add_rows(ids: Array, grad: Array, num_rows: int) -> Array:
    """out[r] = sum of grad[n] over every n with ids[n] == r; grad is (N, D), out (num_rows, D).

    Sorting the ids groups the repeats, so one ``np.add.reduceat`` sums each group: several
    times faster than ``np.add.at`` and deterministic (a stable sort fixes the summation order).
    """
    out = np.zeros((num_rows, grad.shape[1]), dtype=grad.dtype)
    if ids.size == 0:
        return out
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    first = np.empty(sorted_ids.shape, dtype=bool)
    first[0] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=first[1:])
    starts = np.flatnonzero(first)                               # where each id's group begins
    out[sorted_ids[starts]] = np.add.reduceat(grad[order], starts, axis=0)
    return out


class EmbeddingLookup(Function):
    """out = weight[ids]: a gather forward and a scatter-add backward into the table."""

    op_name = "Embedding"  # its grad_fn is EmbeddingBackward, the name PyTorch users know

    @staticmethod
    def forward(ctx: Node, weight: Array, *, ids: Array, padding_idx: int | None = None) -> Array:
        ctx.ids, ctx.num_rows, ctx.padding_idx = ids, weight.shape[0], padding_idx
        return np.take(weight, ids, axis=0)                      # ids.shape + (D,)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        dim = grad.shape[-1]
        out = _scatter_add_rows(ctx.ids.reshape(-1), grad.reshape(-1, dim), ctx.num_rows)
        if ctx.padding_idx is not None:
            out[ctx.padding_idx] = 0                             # the padding row never learns
        return out


class Embedding(Module):
    """A learned table of ``vocab_size`` vectors of size ``embed_dim``, indexed by token id.

    Args:
        vocab_size: number of rows (distinct token ids).
        embed_dim: size of each vector.
        padding_idx: optional id whose row is zero and receives no gradient.

    Shapes:
        ids: any shape of integer (or whole-number float) ids -> out: ids.shape + (embed_dim,)

    Example:
        >>> Embedding(5, 3, padding_idx=0)(Tensor([0], dtype=np.int64)).tolist()
        [[0.0, 0.0, 0.0]]
    """

    def __init__(self, vocab_size: int, embed_dim: int, padding_idx: int | None = None) -> None:
        super().__init__()
        if padding_idx is not None and not -vocab_size <= padding_idx < vocab_size:
            raise IndexOutOfRangeError(explain(
                what=f"Embedding({vocab_size}, {embed_dim}) got padding_idx={padding_idx}",
                why=f"the padding id must name a row, 0..{vocab_size - 1}",
                fix="pass the id your tokenizer uses for padding, or None",
            ))
        self.vocab_size, self.embed_dim = vocab_size, embed_dim
        self.padding_idx = None if padding_idx is None else padding_idx % vocab_size
        # std 1/sqrt(embed_dim) gives each vector a norm of about 1
        table = Parameter(init.normal((vocab_size, embed_dim), 1.0 / math.sqrt(embed_dim)))
        self.weight = mark_layout(table, OUT_IN)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0.0

    # As Linear.weight: stored in the instance dict under its own name, checked when assigned.
    @property
    def weight(self) -> Parameter:
        """The (vocab_size, embed_dim) table, or a tied Linear's (embed_dim, vocab_size) weight."""
        return self.__dict__["weight"]  # type: ignore[no-any-return]

    @weight.setter
    def weight(self, value: Parameter) -> None:
        self.__dict__["weight"] = checked_matrix(value, OUT_IN, (self.embed_dim, self.vocab_size),
                                                 "Embedding")

    def forward(self, ids: Any) -> Tensor:
        checked = as_token_ids(ids, self.vocab_size, f"Embedding({self.vocab_size}, "
                                                     f"{self.embed_dim})")
        table = self.weight.T if layout_of(self.weight, OUT_IN) == IN_OUT else self.weight
        return EmbeddingLookup.apply(table, ids=checked, padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.vocab_size}, {self.embed_dim}{pad}"


def _check_length(seq_len: int, start: int, max_seq_len: int, who: str) -> None:
    if start < 0 or start + seq_len > max_seq_len:
        raise ShapeError(explain(
            what=f"{who} was asked for positions {start}..{start + seq_len - 1} "
                 f"(a sequence of length {seq_len} starting at {start})",
            why=f"it only has positions 0..{max_seq_len - 1} (max_seq_len={max_seq_len})",
            fix="crop the sequence to the last max_seq_len tokens, or build the layer with a "
                "larger max_seq_len",
        ))


class PositionalEncoding(Module):
    """Learned positional embeddings: adds row ``t`` of a trained table to the vector at position t.

    Args:
        max_seq_len: the longest sequence it can encode.
        embed_dim: the size of the vectors it is added to.

    Shapes:
        x: (..., T, embed_dim) with T <= max_seq_len -> same shape

    Example:
        >>> PositionalEncoding(8, 4)(Tensor(np.zeros((2, 3, 4)))).shape
        (2, 3, 4)
    """

    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        super().__init__()
        self.max_seq_len, self.embed_dim = max_seq_len, embed_dim
        self.position_embeddings = Parameter(init.normal((max_seq_len, embed_dim), 0.02))

    @property
    def weight(self) -> Parameter:
        """PyTorch-style name of the table (a property, so it is not counted twice)."""
        return self.position_embeddings

    def forward(self, x: Tensor, start_pos: int = 0) -> Tensor:
        """Add the encodings of positions ``start_pos .. start_pos + T - 1`` to ``x``.

        ``start_pos`` lets generation with a KV cache encode one new token at its true position.
        """
        if x.ndim < 2 or x.shape[-1] != self.embed_dim:
            raise ShapeError(explain(
                what=f"PositionalEncoding({self.max_seq_len}, {self.embed_dim}) got input of "
                     f"shape {x.shape}",
                why=f"it expects (..., seq_len, {self.embed_dim})",
                fix="pass the token embeddings, of shape (batch, seq_len, embed_dim)",
            ))
        seq_len = x.shape[-2]
        _check_length(seq_len, start_pos, self.max_seq_len, "PositionalEncoding")
        return x + self.position_embeddings[start_pos:start_pos + seq_len]   # (T, D) broadcast

    def extra_repr(self) -> str:
        return f"max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim}"


def create_sinusoidal_embeddings(max_seq_len: int, embed_dim: int) -> Tensor:
    """The fixed encodings of "Attention Is All You Need": sines and cosines of many wavelengths.

    ``PE[pos, 2i] = sin(pos / 10000^(2i/d))`` and ``PE[pos, 2i+1] = cos(pos / 10000^(2i/d))``:
    each pair of columns is a clock at its own speed, so nearby positions get similar vectors
    and relative offsets are linear maps.

    Returns:
        A float32 Tensor of shape (max_seq_len, embed_dim), not trainable.

    Example:
        >>> pe = create_sinusoidal_embeddings(4, 6)
        >>> pe.shape, float(pe.data[0, 1])
        ((4, 6), 1.0)
    """
    positions = np.arange(max_seq_len, dtype=np.float64)[:, None]           # (L, 1)
    rates = 10000.0 ** (-np.arange(0, embed_dim, 2, dtype=np.float64) / embed_dim)  # (ceil(d/2),)
    angles = positions * rates                                              # (L, ceil(d/2))
    table = np.empty((max_seq_len, embed_dim), dtype=np.float32)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, :embed_dim // 2])   # an odd embed_dim has one sine more
    return Tensor._from_op(table, None)


_POSITION_KINDS = ("learned", "sinusoidal", None)


class EmbeddingLayer(Module):
    """Token embedding plus position: the input stage of a transformer.

    Args:
        vocab_size: number of token ids.
        embed_dim: vector size.
        max_seq_len: longest sequence.
        pos_encoding: 'learned' (a trained table), 'sinusoidal' (fixed) or None (no position).
        scale_embeddings: multiply token vectors by sqrt(embed_dim) before adding position, as
            the original transformer does.

    Shapes:
        tokens: (B, T) or (T,) -> out: tokens.shape + (embed_dim,)

    Example:
        >>> EmbeddingLayer(10, 4, max_seq_len=8)(Tensor([[1, 2, 3]], dtype=np.int64)).shape
        (1, 3, 4)
    """

    def __init__(self, vocab_size: int, embed_dim: int, max_seq_len: int = 512,
                 pos_encoding: str | None = "learned", scale_embeddings: bool = False) -> None:
        super().__init__()
        if pos_encoding not in _POSITION_KINDS:
            raise ValueError(explain(
                what=f"EmbeddingLayer got pos_encoding={pos_encoding!r}",
                why="the choices are 'learned', 'sinusoidal' and None",
                fix="pass one of them",
            ))
        self.vocab_size, self.embed_dim, self.max_seq_len = vocab_size, embed_dim, max_seq_len
        self.pos_encoding_type = pos_encoding
        self.scale_embeddings = scale_embeddings
        self.token_embedding = Embedding(vocab_size, embed_dim)
        self.pos_encoding: PositionalEncoding | None = None
        self.sinusoidal_table: Tensor | None = None
        if pos_encoding == "learned":
            self.pos_encoding = PositionalEncoding(max_seq_len, embed_dim)
        elif pos_encoding == "sinusoidal":
            self.register_buffer("sinusoidal_table",
                                 create_sinusoidal_embeddings(max_seq_len, embed_dim))

    def forward(self, tokens: Any, start_pos: int = 0) -> Tensor:
        x = self.token_embedding(tokens)                          # (..., T, D)
        if self.scale_embeddings:
            x = x * math.sqrt(self.embed_dim)
        if self.pos_encoding is not None:
            return self.pos_encoding(x, start_pos)
        if self.sinusoidal_table is not None:
            seq_len = x.shape[-2]
            _check_length(seq_len, start_pos, self.max_seq_len, "EmbeddingLayer")
            return x + self.sinusoidal_table.data[start_pos:start_pos + seq_len]
        return x

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, embed_dim={self.embed_dim}, "
                f"max_seq_len={self.max_seq_len}, pos_encoding={self.pos_encoding_type!r}")


__all__ = ["Embedding", "EmbeddingLayer", "EmbeddingLookup", "PositionalEncoding",
           "as_token_ids", "create_sinusoidal_embeddings"]
