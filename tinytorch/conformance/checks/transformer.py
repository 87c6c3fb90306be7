"""Module 13: the causal mask, LayerNorm's exact gradient, a causal block, and a GPT that learns.

Generation with the KV cache must give the same tokens as recomputing the window each step
(``GPT.generate(use_cache=True)`` is part of module 13's API; module 18 checks the cache itself).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..harness import arr, check, expect, expect_close, need, seeded
from ._common import (
    backward_against,
    expect_every_parameter_trains,
    expect_gradients,
    leaf,
    learns,
    set_param,
)


@check("13", "create_causal_mask(seq_len): ones on and below the diagonal (1 = attend)")
def check_causal_mask(oracle: Any) -> None:
    create_causal_mask = need("core.transformer", "create_causal_mask")
    got = arr(create_causal_mask(4)).astype(np.float64)
    expect(got.size == 16, what=f"create_causal_mask(4) has shape {got.shape}",
           why="one entry per (query, key) pair", fix="return a (seq_len, seq_len) mask",
           expected="(4, 4)", actual=str(got.shape))
    expect_close(got.reshape(4, 4), np.tril(np.ones((4, 4))), what="create_causal_mask(4)",
                 why="query i may attend to keys 0..i; the course's convention is 1 = attend, "
                     "0 = block (the upstream course shipped this inverted)",
                 fix="np.tril(np.ones((seq_len, seq_len)))")


def _layer_norm(xp: Any, x: Any, gamma: Any, beta: Any, r: Any) -> Any:
    centered = x - xp.mean(x, axis=-1, keepdims=True)
    var = xp.mean(centered * centered, axis=-1, keepdims=True)
    return xp.sum((centered / (var + 1e-5) ** 0.5 * gamma + beta) * r)


@check("13", "LayerNorm: normalized values and gradients of x, weight (gamma), bias (beta)")
def check_layer_norm(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    LayerNorm = need("core.transformer", "LayerNorm")  # noqa: N806
    rng = seeded(60)
    norm = LayerNorm(6)
    params = list(norm.parameters())
    expect(len(params) == 2, what=f"LayerNorm(6) has {len(params)} parameters",
           why="a scale (initialized to ones) and a shift (zeros)", fix="create gamma and beta",
           expected=2, actual=len(params))
    scale, shift = sorted(params, key=lambda p: -float(arr(p).sum()))   # ones first, zeros next
    xv, gv, bv, rv = (rng.standard_normal(s) for s in ((3, 4, 6), (6,), (6,), (3, 4, 6)))
    set_param(scale, gv)
    set_param(shift, bv)
    x = leaf(Tensor, xv)
    out = norm(x)
    centered = xv - xv.mean(-1, keepdims=True)
    want = centered / np.sqrt(centered.var(-1, keepdims=True) + 1e-5) * gv + bv
    expect_close(out, want, what="LayerNorm forward", atol=1e-4,
                 why="normalize each vector over the last axis (biased variance, eps inside "
                     "the sqrt), then scale and shift", fix="use var = mean((x - mean)^2)")
    backward_against(out, rv)
    expect_gradients({"x": x, "weight (gamma)": scale, "bias (beta)": shift},
                     oracle.gradients(_layer_norm, xv, gv, bv, rv), layer="LayerNorm", atol=1e-4,
                     why="the mean and the variance depend on every element, so dx = r (g - "
                         "mean(g) - xhat mean(g xhat)) with g = grad * gamma and r = 1/std",
                     fix="derive the backward through mean and variance, or build LayerNorm "
                         "from tensor ops that each have a correct backward")


@check("13", "TransformerBlock with a causal mask: no look-ahead; every parameter trains")
def check_block(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    TransformerBlock, create_causal_mask = need("core.transformer",  # noqa: N806
                                                "TransformerBlock", "create_causal_mask")
    block = TransformerBlock(8, 2, mlp_ratio=2, dropout_prob=0.0)
    rng = seeded(61)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    changed = x.copy()
    changed[:, 3:] += 1.0
    mask = create_causal_mask(5)
    before, after = arr(block(Tensor(x), mask)), arr(block(Tensor(changed), mask))
    expect_close(after[:, :3], before[:, :3], atol=1e-5,
                 what="block outputs at positions 0-2 after changing positions 3-4",
                 why="attention with the causal mask mixes only earlier positions; LayerNorm "
                     "and the MLP act on each position alone",
                 fix="pass the mask into the block's attention; normalize over the last axis only")
    backward_against(block(Tensor(x), mask), rng.standard_normal((2, 5, 8)))
    expect_every_parameter_trains(
        block, "TransformerBlock",
        why="attention, both LayerNorms and the MLP all feed the output (residuals)",
        fix="keep every sub-layer's output on the graph: y = x + attn(ln1(x)), ...")


def _tiny_gpt() -> Any:
    GPT = need("core.transformer", "GPT")  # noqa: N806
    return GPT(vocab_size=8, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=16)


def _counting(batch: int, length: int, offset: int = 0) -> np.ndarray:
    """Sequences t, t+1, t+2, ... (mod 8): the next token is always the last plus one."""
    return (np.arange(length)[None, :] + np.arange(batch)[:, None] + offset) % 8


@check("13", "GPT forward: logits (B, T, vocab), causal over positions")
def check_gpt_causal(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    model = _tiny_gpt()
    model.eval()
    tokens = _counting(2, 6)
    changed = tokens.copy()
    changed[:, 4:] = (changed[:, 4:] + 3) % 8
    before, after = arr(model(Tensor(tokens))), arr(model(Tensor(changed)))
    expect(before.shape == (2, 6, 8), what=f"GPT(vocab 8) logits for (2, 6) tokens: "
                                           f"{before.shape}", expected="(2, 6, 8)",
           actual=str(before.shape), why="one row of vocabulary scores per position",
           fix="return the head's output without reshaping or taking the last position")
    expect_close(after[:, :4], before[:, :4], atol=1e-5,
                 what="logits at positions 0-3 after changing tokens 4-5",
                 why="a language model predicts token t+1 from tokens <= t; a wrong or inverted "
                     "mask lets it read the answer, so it trains well and generates nonsense",
                 fix="apply create_causal_mask(T) in every block's attention")


@check("13", "Embedding -> blocks -> head -> CrossEntropy -> Adam: a GPT learns to count")
def check_gpt_learns(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    model = _tiny_gpt()
    sequences = _counting(8, 9)
    losses = learns(model, Tensor(sequences[:, :-1]), sequences[:, 1:], steps=60, lr=0.02)
    expect(losses[-1] < 0.25 * losses[0],
           what=f"GPT next-token loss went {losses[0]:.3f} -> {losses[-1]:.3f} in 60 Adam steps",
           why="counting mod 8 is learnable from the previous token alone: a working GPT "
               "drives the loss far down", expected="below 0.25 x the initial loss",
           actual=f"{losses[-1] / losses[0]:.2f} x",
           fix="check that model.parameters() includes the embeddings, every block and the "
               "head, and that logits (B, T, V) meet targets (B, T) reshaped to (B*T, V), (B*T,)")


@check("13", "GPT.generate: use_cache=True gives the same tokens as recomputing")
def check_generate_cache(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    model = _tiny_gpt()
    for p in model.parameters():   # larger weights: distinct logits, so greedy is unambiguous
        set_param(p, arr(p) * 3.0 + seeded(62).normal(0, 0.02, arr(p).shape))
    prompt = Tensor(_counting(1, 3, offset=2))
    runs = {}
    for use_cache in (False, True):
        out = model.generate(prompt, max_new_tokens=8, temperature=1.0, top_k=1,
                             use_cache=use_cache)
        runs[use_cache] = arr(out).reshape(-1).astype(np.int64)
    expect(runs[True].shape == (11,), what=f"generate(3 tokens, max_new_tokens=8) returned "
                                           f"{runs[True].size} tokens",
           why="the result is the prompt followed by the new tokens", fix="append each token",
           expected=11, actual=runs[True].size)
    expect(np.array_equal(runs[True], runs[False]),
           what="greedy generation (top_k=1) with the KV cache differs from recomputation",
           expected=runs[False].tolist(), actual=runs[True].tolist(),
           why="cached keys and values of earlier positions are exactly what recomputation "
               "would produce; any difference is a cache bug (off by one position, a "
               "missing positional offset, the new key stored after it is read)",
           fix="for each new token: embed it at position len(cache), store its K and V, then "
               "attend over all cached positions including itself")
