"""The PyTorch-only nn pieces against PyTorch: MultiheadAttention, weight tying, pad, embedding,
AdaptiveAvgPool2d, clip_grad_norm_.

MultiheadAttention copies its weights from ``torch.nn.MultiheadAttention`` (transposed into our
(in, out) layout) and must then give the same output, the same attention weights and the same
gradients for every mask kind PyTorch accepts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from oracle_helpers import assert_matches_torch, import_torch, to_numpy

from tinytorch import nn
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.nn import functional as F  # noqa: N812

torch = import_torch()

E, H, N, L, S = 8, 2, 3, 5, 4


def _pair(batch_first: bool, bias: bool = True, dropout: float = 0.0) -> tuple[Any, Any]:
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, dropout=dropout, bias=bias,
                                         batch_first=batch_first)
    if bias:  # PyTorch starts biases at zero, which would hide a bias bug
        with torch.no_grad():
            theirs.in_proj_bias.uniform_(-0.5, 0.5)
            theirs.out_proj.bias.uniform_(-0.5, 0.5)
    ours = nn.MultiheadAttention(E, H, dropout=dropout, bias=bias, batch_first=batch_first)
    ours.in_proj_weight.data[...] = theirs.in_proj_weight.detach().numpy().T
    ours.out_proj.weight.data[...] = theirs.out_proj.weight.detach().numpy().T
    if bias:
        ours.in_proj_bias.data[...] = theirs.in_proj_bias.detach().numpy()
        ours.out_proj.bias.data[...] = theirs.out_proj.bias.detach().numpy()
    return ours, theirs


def _masks(kind: str) -> dict[str, Any]:
    rng = np.random.default_rng(4)
    if kind == "bool-attn":
        return {"attn_mask": rng.random((L, S)) < 0.3}
    if kind == "float-attn":
        return {"attn_mask": np.where(np.triu(np.ones((L, S)), 1) > 0, -np.inf,
                                      rng.normal(size=(L, S))).astype(np.float32)}
    if kind == "per-head":
        return {"attn_mask": rng.random((N * H, L, S)) < 0.3}
    if kind == "padding":
        padding = np.zeros((N, S), dtype=bool)
        padding[0, -1] = padding[2, -2:] = True
        return {"key_padding_mask": padding}
    return {}


def _run(module: Any, framework: Any, q: np.ndarray, kv: np.ndarray | None,
         masks: dict[str, Any], **kwargs: Any) -> tuple[Any, Any, list[Any]]:
    inputs = [framework(q.copy(), requires_grad=True)]
    if kv is not None:
        inputs += [framework(kv.copy(), requires_grad=True), framework(kv.copy() * 0.5,
                                                                      requires_grad=True)]
    query, key, value = (inputs[0],) * 3 if kv is None else inputs
    wrapped = {k: (torch.tensor(v) if framework is torch.tensor else v)
               for k, v in masks.items()}
    out, weights = module(query, key, value, **wrapped, **kwargs)
    return out, weights, inputs


MASKS = [None, "bool-attn", "float-attn", "per-head", "padding"]
# Self-attention (one tensor for query, key and value: the fused projection) has S = L, so the
# masks, built for (L, S), are exercised with cross-attention.
MHA_CASES = [(True, None, True, {}, None), (False, None, True, {}, None)] + [
    (batch_first, "cross", bias, kwargs, mask) for mask in MASKS
    for batch_first, bias, kwargs in [(True, True, {}), (False, False, {}),
                                      (True, True, {"average_attn_weights": False})]]


@pytest.mark.oracle
@pytest.mark.parametrize(("batch_first", "kind", "bias", "kwargs", "mask"), MHA_CASES)
def test_multihead_attention_matches_torch(batch_first: bool, kind: str | None, bias: bool,
                                           kwargs: dict[str, Any], mask: str | None) -> None:
    ours, theirs = _pair(batch_first, bias)
    rng = np.random.default_rng(1)
    seq_shape = (N, L, E) if batch_first else (L, N, E)
    q = rng.normal(size=seq_shape).astype(np.float32)
    kv = None
    if kind == "cross":
        kv = rng.normal(size=(N, S, E) if batch_first else (S, N, E)).astype(np.float32)
    masks = _masks(mask or "")
    out, weights, inputs = _run(ours, Tensor, q, kv, masks, **kwargs)
    t_out, t_weights, t_inputs = _run(theirs, torch.tensor, q, kv, masks, **kwargs)
    np.testing.assert_allclose(out.data, to_numpy(t_out), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(weights.data, to_numpy(t_weights), atol=1e-6, rtol=1e-4)
    upstream = rng.uniform(0.5, 1.5, size=out.shape).astype(np.float32)
    out.backward(upstream)
    t_out.backward(torch.tensor(upstream))
    for a, b in zip(inputs, t_inputs, strict=True):
        np.testing.assert_allclose(a.grad.data, to_numpy(b.grad), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(ours.in_proj_weight.grad.data,
                               to_numpy(theirs.in_proj_weight.grad).T, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(ours.out_proj.weight.grad.data,
                               to_numpy(theirs.out_proj.weight.grad).T, atol=1e-5, rtol=1e-4)


@pytest.mark.oracle
def test_multihead_attention_unbatched_causal_and_without_weights() -> None:
    ours, theirs = _pair(batch_first=False)
    x = np.random.default_rng(2).normal(size=(L, E)).astype(np.float32)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(L)
    out, weights = ours(Tensor(x), Tensor(x), Tensor(x), is_causal=True)
    t_out, t_weights = theirs(*[torch.tensor(x)] * 3, attn_mask=causal, is_causal=True)
    np.testing.assert_allclose(out.data, to_numpy(t_out), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(weights.data, to_numpy(t_weights), atol=1e-6, rtol=1e-4)
    assert ours(Tensor(x), Tensor(x), Tensor(x), need_weights=False)[1] is None


def _tied_pair(vocab: int, dim: int, direction: str) -> tuple[Any, Any]:
    rng = np.random.default_rng(3)
    table = rng.normal(size=(vocab, dim)).astype(np.float32)       # PyTorch layout (V, E)
    wte, head = nn.Embedding(vocab, dim), nn.Linear(dim, vocab, bias=False)
    t_wte, t_head = torch.nn.Embedding(vocab, dim), torch.nn.Linear(dim, vocab, bias=False)
    t_wte.weight.data[...] = torch.tensor(table)
    if direction == "nanogpt":      # wte.weight = lm_head.weight
        head.weight.data[...] = table.T
        wte.weight = head.weight
        t_wte.weight = t_head.weight
        t_head.weight.data[...] = torch.tensor(table)
    else:                           # lm_head.weight = wte.weight
        wte.weight.data[...] = table
        head.weight = wte.weight
        t_head.weight = t_wte.weight
    return (wte, head), (t_wte, t_head)


@pytest.mark.oracle
@pytest.mark.parametrize(("vocab", "dim"), [(7, 4), (4, 4)], ids=["V!=E", "square"])
@pytest.mark.parametrize("direction", ["nanogpt", "head-from-embedding"])
def test_weight_tying_by_assignment_matches_torch(vocab: int, dim: int, direction: str) -> None:
    (wte, head), (t_wte, t_head) = _tied_pair(vocab, dim, direction)
    ids = np.array([[0, 2, 3, 2], [1, 1, 0, 3]])
    logits = head(wte(Tensor(ids, dtype=np.int64)).tanh())
    t_logits = t_head(torch.tanh(t_wte(torch.tensor(ids))))
    np.testing.assert_allclose(logits.data, to_numpy(t_logits), atol=1e-5, rtol=1e-5)
    upstream = np.random.default_rng(5).normal(size=logits.shape).astype(np.float32)
    logits.backward(upstream)
    t_logits.backward(torch.tensor(upstream))
    shared = wte.weight
    assert shared is head.weight
    expected = to_numpy(t_wte.weight.grad)                            # both uses, summed
    got = shared.grad.data.T if direction == "nanogpt" else shared.grad.data  # (V, E)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    model = nn.ModuleDict({"wte": wte, "head": head})
    assert len(model.parameters()) == 1                               # counted once


@pytest.mark.oracle
@pytest.mark.parametrize("pad", [(1, 2), (0, 1, 2, 0), (1, 1, 1, 1, 1, 1)])
def test_pad_matches_torch(pad: tuple[int, ...]) -> None:
    assert_matches_torch(lambda x: F.pad(x, pad, value=0.5),
                         torch_fn=lambda x: torch.nn.functional.pad(x, pad, value=0.5),
                         shapes=[(2, 3, 4)])


@pytest.mark.oracle
def test_functional_embedding_matches_torch() -> None:
    ids = np.array([[0, 3, 3], [4, 1, 0]])

    def run(lookup: Any, ids_tensor: Any) -> Any:
        return lambda w: lookup(ids_tensor, w, padding_idx=0) * 2.0

    assert_matches_torch(run(F.embedding, Tensor(ids, dtype=np.int64)),
                         torch_fn=run(torch.nn.functional.embedding, torch.tensor(ids)),
                         shapes=[(5, 3)])


@pytest.mark.oracle
@pytest.mark.parametrize(("shape", "size"), [((2, 3, 7, 7), 3), ((2, 3, 5, 6), (2, 4)),
                                             ((1, 2, 4, 4), 1), ((3, 5, 9), (None, 2)),
                                             ((1, 1, 3, 3), 5)])
def test_adaptive_avg_pool2d_matches_torch(shape: tuple[int, ...], size: Any) -> None:
    assert_matches_torch(nn.AdaptiveAvgPool2d(size),
                         torch_fn=torch.nn.AdaptiveAvgPool2d(size), shapes=[shape])


@pytest.mark.oracle
def test_clip_grad_norm_underscore_returns_the_norm_as_a_tensor() -> None:
    grads = [np.array([3.0, 0.0], dtype=np.float32), np.array([[4.0]], dtype=np.float32)]
    ours = [Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads, strict=True):
        p.grad, q.grad = g.copy(), torch.tensor(g)
    norm = nn.utils.clip_grad_norm_(ours, 1.0)
    t_norm = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert isinstance(norm, Tensor) and norm.shape == () and norm.item() == t_norm.item()
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-6)
    nn.utils.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-6)


@pytest.mark.oracle
@pytest.mark.parametrize(("ours", "theirs"), [
    (nn.LeakyReLU(0.2, inplace=True), torch.nn.LeakyReLU(0.2)),
    (nn.GELU(approximate="none"), torch.nn.GELU()),
    (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
    (nn.ReLU(inplace=True), torch.nn.ReLU()),
    (nn.SiLU(inplace=True), torch.nn.SiLU()),
    (nn.Softmax(dim=0), torch.nn.Softmax(dim=0)),
], ids=["leaky", "gelu-none", "gelu-tanh", "relu", "silu", "softmax0"])
def test_activation_arguments_match_torch(ours: Any, theirs: Any) -> None:
    assert_matches_torch(ours, torch_fn=theirs, shapes=[(3, 4)])
