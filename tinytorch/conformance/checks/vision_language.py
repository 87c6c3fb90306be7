"""Modules 09-12: convolutions and pooling, tokenization, embeddings, attention.

Values and gradients against the oracle, structural promises (causal attention never looks
ahead) and a CNN that must learn. Module 13, the transformer, is in ``transformer.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..harness import arr, check, expect, expect_close, grad_of, need, seeded, summary
from ._common import (
    GRAD_TOL,
    backward_against,
    expect_every_parameter_trains,
    expect_gradients,
    leaf,
    learns,
    set_param,
)

# --- 09 spatial --------------------------------------------------------------------------------


def _conv_loss(xp: Any, x: Any, w: Any, b: Any, r: Any) -> Any:
    return xp.sum(xp.conv2d(x, w, b, stride=1, padding=1) * r)


@check("09", "Conv2d(2, 3, 3, padding=1): forward values and gradients of x, weight, bias")
def check_conv2d(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    Conv2d = need("core.spatial", "Conv2d")  # noqa: N806
    rng = seeded(40)
    conv = Conv2d(2, 3, 3, padding=1)
    xv, wv, bv = (rng.standard_normal(s) for s in ((2, 2, 5, 6), (3, 2, 3, 3), (3,)))
    set_param(conv.weight, wv)
    set_param(conv.bias, bv)
    x = leaf(Tensor, xv)
    out = conv(x)
    want = oracle.value(lambda xp, x, w, b: xp.conv2d(x, w, b, stride=1, padding=1), xv, wv, bv)
    expect_close(out, want, what="Conv2d forward", rtol=1e-4, atol=1e-4,
                 why="out[n, o] = sum over c, i, j of x_padded[n, c, h+i, w+j] * W[o, c, i, j] "
                     "+ b[o] (cross-correlation, NCHW, weight (out, in, kh, kw))",
                 fix="check the padding, the window offsets and the weight layout")
    rv = rng.standard_normal(want.shape)
    backward_against(out, rv)
    expect_gradients({"input x": x, "weight": conv.weight, "bias": conv.bias},
                     oracle.gradients(_conv_loss, xv, wv, bv, rv), layer="Conv2d",
                     why="dW = sum over positions of grad_out x window; dx scatters grad_out @ W "
                         "back over the overlapping windows; db sums grad_out",
                     fix="with im2col: dW = grad_cols @ cols^T, dx = col2im(W^T @ grad_cols)")


@check("09", "MaxPool2d(2): forward values; gradient only to each window's maximum")
def check_max_pool(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    MaxPool2d = need("core.spatial", "MaxPool2d")  # noqa: N806
    rng = seeded(41)
    xv = rng.permutation(2 * 3 * 4 * 6).reshape(2, 3, 4, 6) / 10.0   # distinct: one max each
    rv = rng.standard_normal((2, 3, 2, 3))
    x = leaf(Tensor, xv)
    out = MaxPool2d(2)(x)
    expect_close(out, oracle.value(lambda xp, x: xp.max_pool2d(x, 2), xv), what="MaxPool2d(2)",
                 why="each output is the largest value of its 2x2 window (stride = kernel)",
                 fix="check the window reshape and the axes of the max")
    backward_against(out, rv)
    expect_gradients({"input x": x},
                     oracle.gradients(lambda xp, x, r: xp.sum(xp.max_pool2d(x, 2) * r), xv, rv),
                     layer="MaxPool2d",
                     why="only the maximum of each window influenced the output, so only it "
                         "receives the gradient; the other three get 0",
                     fix="remember the argmax of each window in forward and scatter grad there")


def _bars(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Images of one vertical (class 0) or horizontal (class 1) bar at a random place."""
    rng = seeded(42)
    labels = np.arange(n) % 2
    images = rng.normal(0.0, 0.1, (n, 1, 6, 6)).astype(np.float32)
    where = rng.integers(0, 6, n)
    images[labels == 0, 0, :, where[labels == 0]] += 1.0
    images[labels == 1, 0, where[labels == 1], :] += 1.0
    return images, labels


@check("09", "Conv2d -> ReLU -> MaxPool2d -> Linear: a CNN learns bars (loss falls)")
def check_cnn_learns(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    Conv2d, MaxPool2d = need("core.spatial", "Conv2d", "MaxPool2d")  # noqa: N806
    Linear, Module = need("core.layers", "Linear", "Module")  # noqa: N806
    ReLU = need("core.activations", "ReLU")  # noqa: N806

    class SmallCNN(Module):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.pool, self.relu = Conv2d(1, 4, 3), MaxPool2d(2), ReLU()
            self.head = Linear(16, 2)

        def forward(self, x: Any) -> Any:
            h = self.pool(self.relu(self.conv(x)))
            return self.head(h.reshape(h.shape[0], -1))

    images, labels = _bars(32)
    model = SmallCNN()
    losses = learns(model, Tensor(images), labels, steps=60, lr=0.05)
    grad = getattr(model.conv.weight, "grad", None)
    expect(losses[-1] < 0.5 * losses[0] and grad is not None,
           what=f"CNN loss went {losses[0]:.3f} -> {losses[-1]:.3f} in 60 Adam steps "
                f"(conv weight grad {'present' if grad is not None else 'None'})",
           why="bars are separable by one 3x3 filter: when the convolution trains, the loss "
               "falls far below its start", expected="final loss < 0.5 x initial",
           actual=f"{losses[-1] / losses[0]:.2f} x initial",
           fix="if the conv weight gets no gradient, Conv2d.forward is not recorded on the "
               "graph; if it does, compare the Conv2d gradient check above")


# --- 10 tokenization ---------------------------------------------------------------------------

CORPUS = ["hello world", "the cat sat on the mat", "hello there, cat!"]


@check("10", "CharTokenizer.build_vocab -> encode -> decode: exact round trip")
def check_char_tokenizer(oracle: Any) -> None:
    CharTokenizer = need("core.tokenization", "CharTokenizer")  # noqa: N806
    tok = CharTokenizer()
    tok.build_vocab(CORPUS)
    for text in CORPUS:
        ids = tok.encode(text)
        expect(tok.decode(ids) == text, what=f"decode(encode({text!r})) = {tok.decode(ids)!r}",
               why="every character of the corpus has an id, so the round trip is exact",
               fix="decode must map each id back to its character, without separators")
        expect(all(0 <= int(i) < tok.vocab_size for i in ids),
               what=f"encode({text!r}) gave ids {list(ids)[:8]}, vocab_size {tok.vocab_size}",
               why="ids index an embedding table of vocab_size rows", fix="number ids 0..V-1")
    unseen = tok.encode("xyz")
    expect(len(unseen) == 3 and all(0 <= int(i) < tok.vocab_size for i in unseen),
           what=f"encode('xyz') (characters not in the corpus) gave {list(unseen)}",
           why="unknown characters map to the unknown token: one valid id each, no crash",
           fix="look the character up with a default of the <UNK> id")


@check("10", "BPETokenizer.train -> encode -> decode: round trip, fewer tokens than chars")
def check_bpe_tokenizer(oracle: Any) -> None:
    BPETokenizer = need("core.tokenization", "BPETokenizer")  # noqa: N806
    tok = BPETokenizer(vocab_size=60)
    tok.train(CORPUS * 3)
    for text in CORPUS:
        ids = tok.encode(text)
        expect(tok.decode(ids) == text, what=f"BPE decode(encode({text!r})) = {tok.decode(ids)!r}",
               why="merges only join symbols, so decoding the merged tokens restores the text",
               fix="decode by concatenating each token's string (mind word-boundary markers)")
    total_ids = sum(len(tok.encode(t)) for t in CORPUS)
    total_chars = sum(len(t) for t in CORPUS)
    expect(total_ids < total_chars,
           what=f"BPE with 60 tokens used {total_ids} ids for {total_chars} characters",
           why="trained merges turn frequent pairs into one token, so text gets shorter",
           fix="apply the learned merges in encode, in the order they were learned")


# --- 11 embeddings -----------------------------------------------------------------------------


@check("11", "Embedding lookup -> rows of the table; gradient scatter-adds repeated ids")
def check_embedding(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    Embedding = need("core.embeddings", "Embedding")  # noqa: N806
    emb = Embedding(6, 4)
    ids = np.array([[1, 2, 1], [0, 1, 5]])
    out = emb(Tensor(ids))
    table = arr(emb.weight)
    expect_close(out, table[ids], what="Embedding(6, 4)(ids)",
                 why="an embedding is a table lookup: out[b, t] = weight[ids[b, t]]",
                 fix="index the weight with the integer ids")
    r = seeded(43).standard_normal((2, 3, 4))
    backward_against(out, r)
    want = np.zeros((6, 4))
    np.add.at(want, ids, r)
    expect_close(grad_of(emb.weight, "Embedding.weight"), want, what="Embedding weight gradient",
                 **GRAD_TOL, why="a row used k times collects the sum of its k gradients; "
                                 "unused rows get zero",
                 fix="use np.add.at(grad, ids, grad_out): plain assignment drops repeats")


@check("11", "PositionalEncoding adds a learned row per position; sinusoidal table values")
def check_positions(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    PositionalEncoding, sinusoidal = need("core.embeddings", "PositionalEncoding",  # noqa: N806
                                          "create_sinusoidal_embeddings")
    pe = PositionalEncoding(8, 4)
    (table,) = [p for p in pe.parameters()]
    x = seeded(44).standard_normal((2, 5, 4)).astype(np.float32)
    expect_close(pe(Tensor(x)), x + arr(table)[:5], what="PositionalEncoding(8, 4)(x)",
                 why="position t gets row t of the (max_seq_len, embed_dim) table added",
                 fix="add table[:seq_len], broadcast over the batch")
    angles = np.arange(6)[:, None] / 10000 ** (np.arange(0, 8, 2) / 8)
    want = np.zeros((6, 8))
    want[:, 0::2], want[:, 1::2] = np.sin(angles), np.cos(angles)
    expect_close(sinusoidal(6, 8), want, what="create_sinusoidal_embeddings(6, 8)", atol=1e-5,
                 why="PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d))",
                 fix="sines in the even columns, cosines in the odd ones")


# --- 12 attention ------------------------------------------------------------------------------


def _attention(xp: Any, q: Any, k: Any, v: Any, m: Any, r: Any) -> Any:
    scores = q @ xp.T(k) / q.shape[-1] ** 0.5
    scores = scores * m + (1.0 - m) * -1e9                    # 1 = attend, 0 = block
    return xp.sum(xp.softmax(scores, axis=-1) @ v * r)


@check("12", "scaled_dot_product_attention with a causal mask: values, weights, gradients")
def check_attention(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    sdpa = need("core.attention", "scaled_dot_product_attention")
    rng = seeded(50)
    qv, kv, vv, rv = (rng.standard_normal((2, 4, 3)) for _ in range(4))
    mask = np.tril(np.ones((4, 4)))
    q, k, v = (leaf(Tensor, a) for a in (qv, kv, vv))
    out, weights = sdpa(q, k, v, mask=Tensor(mask.astype(np.float32)))
    w = arr(weights)
    expect(np.allclose(w * (1 - mask), 0, atol=1e-6),
           what="attention weights above the diagonal (future keys) are not zero",
           expected="0 for every future key", actual=summary(w[0][mask == 0]),
           why="the mask convention is 1 = attend, 0 = block; a causal query must give zero "
               "weight to later positions (an inverted mask lets the model read the future)",
           fix="fill the scores with -inf (or -1e9) where mask == 0, before the softmax")
    scores = qv @ np.swapaxes(kv, -1, -2) / np.sqrt(3) + (1 - mask) * -1e9
    e = np.exp(scores - scores.max(-1, keepdims=True))
    expect_close(out, e / e.sum(-1, keepdims=True) @ vv, what="attention output", atol=1e-5,
                 why="output = softmax(Q K^T / sqrt(d_k) + mask) V", fix="check the 1/sqrt(d_k)")
    backward_against(out, rv)
    expect_gradients({"Q": q, "K": k, "V": v}, oracle.gradients(_attention, qv, kv, vv, mask, rv),
                     layer="attention",
                     why="gradients flow through both matmuls and the softmax; blocked keys get "
                         "none",
                     fix="compare the softmax backward: w * (g - sum(g * w))")


@check("12", "attention is content-aware: a query matching one key attends to it")
def check_attention_content(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    sdpa = need("core.attention", "scaled_dot_product_attention")
    keys = np.eye(4, dtype=np.float32)[None] * 10.0             # (1, 4, 4): orthogonal keys
    values = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    query = keys[:, [2]]                                        # matches key 2 only
    out, weights = sdpa(Tensor(query), Tensor(keys), Tensor(values))
    expect_close(out, values[:, [2]], what="output of a query equal to key 2", atol=1e-3,
                 why="softmax of the scores puts (almost) all weight on the matching key, so "
                     "the output is that key's value", fix="scores must be Q @ K^T (not K @ Q^T "
                                                           "or a constant), then softmax over keys")


@check("12", "MultiHeadAttention with a causal mask: no position reads the future")
def check_multihead_causal(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    MultiHeadAttention = need("core.attention", "MultiHeadAttention")  # noqa: N806
    mha = MultiHeadAttention(8, 2)
    rng = seeded(51)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    changed = x.copy()
    changed[:, -1] += rng.standard_normal((2, 8)).astype(np.float32)
    mask = Tensor(np.tril(np.ones((5, 5), dtype=np.float32)))
    before, after = arr(mha(Tensor(x), mask)), arr(mha(Tensor(changed), mask))
    expect_close(after[:, :-1], before[:, :-1], what="outputs at positions 0-3 after changing "
                 "the token at position 4", atol=1e-5,
                 why="with a causal mask position t attends to positions <= t only",
                 fix="pass the mask to every head's attention, broadcast over (batch, heads)")
    expect(not np.allclose(after[:, -1], before[:, -1]),
           what="the output at position 4 did not change when its own input changed",
           why="attention is content-aware: the last query sees the new token",
           fix="compute Q, K, V from the input x (not from fixed weights)")
    backward_against(mha(Tensor(x), mask), rng.standard_normal((2, 5, 8)))
    expect_every_parameter_trains(
        mha, "MultiHeadAttention", why="every projection (Q, K, V, output) influences the output",
        fix="build the projections from Linear layers whose outputs stay on the graph")
