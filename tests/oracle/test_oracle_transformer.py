"""LayerNorm, the transformer block and a whole GPT against PyTorch, weights copied across.

The torch side is written independently from torch primitives (``F.layer_norm``, ``F.gelu``,
``F.scaled_dot_product_attention(is_causal=True)``), so it shares no code with ours. Every
parameter's gradient is compared after backpropagating the same random upstream gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from oracle_helpers import assert_matches_torch, import_torch, to_numpy

from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT, LayerNorm, LayerNormFunction, TransformerBlock

torch = import_torch()
F = torch.nn.functional

pytestmark = pytest.mark.oracle


# --- LayerNorm -----------------------------------------------------------------------------


@pytest.mark.parametrize(("x_shape", "norm_shape"), [
    ((4, 8), (8,)),
    ((2, 5, 16), (16,)),
    ((3, 4, 6), (4, 6)),
    ((7,), (7,)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layernorm_function_matches_torch(x_shape: tuple[int, ...], norm_shape: tuple[int, ...],
                                          dtype: type) -> None:
    assert_matches_torch(
        lambda x, w, b: LayerNormFunction.apply(x, w, b, eps=1e-5),
        [x_shape, norm_shape, norm_shape], dtype=dtype,
        torch_fn=lambda x, w, b: F.layer_norm(x, norm_shape, w, b, eps=1e-5),
    )


def test_layernorm_large_offset_input_matches_torch_float64() -> None:
    """A large mean and a tiny spread: the float32 mean's rounding error must not shift outputs.

    torch's own float32 layer_norm is off by ~6e-3 here, so the oracle runs in float64.
    """
    rng = np.random.default_rng(0)
    x = (1000.0 + rng.normal(0.0, 0.01, size=(6, 32))).astype(np.float32)
    assert_matches_torch(lambda t: LayerNorm(32, eps=1e-5)(t), inputs=[x],
                         torch_fn=lambda t: F.layer_norm(t.double(), (32,), eps=1e-5).float(),
                         atol=1e-5, rtol=1e-4)


# --- a torch GPT built from our parameters -------------------------------------------------


def _torch_params(model: Any, dtype: Any) -> dict[str, Any]:
    """Leaf torch tensors holding copies of our parameters, by our names."""
    return {name: torch.tensor(p.data, dtype=dtype, requires_grad=True)
            for name, p in model.named_parameters()}


def _torch_linear(x: Any, p: dict[str, Any], prefix: str) -> Any:
    return x @ p[f"{prefix}.weight"] + p[f"{prefix}.bias"]   # our weights are (in, out)


def _torch_block(x: Any, p: dict[str, Any], prefix: str, num_heads: int) -> Any:
    b, t, e = x.shape
    norm = F.layer_norm(x, (e,), p[f"{prefix}.ln1.weight"], p[f"{prefix}.ln1.bias"], eps=1e-5)
    q, k, v = (_torch_linear(norm, p, f"{prefix}.attention.{name}_proj")
               .view(b, t, num_heads, e // num_heads).transpose(1, 2) for name in "qkv")
    heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    merged = heads.transpose(1, 2).reshape(b, t, e)
    x = x + _torch_linear(merged, p, f"{prefix}.attention.out_proj")
    norm = F.layer_norm(x, (e,), p[f"{prefix}.ln2.weight"], p[f"{prefix}.ln2.bias"], eps=1e-5)
    hidden = F.gelu(_torch_linear(norm, p, f"{prefix}.mlp.linear1"), approximate="tanh")
    return x + _torch_linear(hidden, p, f"{prefix}.mlp.linear2")


def _torch_gpt(tokens: np.ndarray, p: dict[str, Any], model: GPT) -> Any:
    ids = torch.from_numpy(tokens)
    x = p["token_embedding.weight"][ids] + \
        p["position_embedding.position_embeddings"][: tokens.shape[1]]
    for i in range(model.num_layers):
        x = _torch_block(x, p, f"blocks.{i}", model.num_heads)
    x = F.layer_norm(x, (model.embed_dim,), p["ln_f.weight"], p["ln_f.bias"], eps=1e-5)
    if model.tie_weights:
        return x @ p["token_embedding.weight"].T
    return _torch_linear(x, p, "lm_head")


def _randomize(model: Any, seed: int) -> None:
    """Give every parameter (LayerNorm scales and biases too) a non-trivial value."""
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = rng.normal(0.0, 0.2, size=p.shape) + (1.0 if p.ndim == 1 else 0.0) * \
            rng.uniform(-0.5, 0.5, size=p.shape)


@pytest.mark.parametrize(("dtype", "tie", "atol", "rtol"), [
    (np.float32, False, 1e-4, 1e-3),
    (np.float32, True, 1e-4, 1e-3),
    (np.float64, False, 1e-10, 1e-8),
])
def test_gpt_forward_and_every_gradient_match_torch(dtype: type, tie: bool, atol: float,
                                                    rtol: float) -> None:
    model = GPT(vocab_size=17, embed_dim=24, num_layers=2, num_heads=3, max_seq_len=10,
                tie_weights=tie)
    _randomize(model, 1)
    for p in model.parameters():
        p.data = p.data.astype(dtype)
    theirs = _torch_params(model, torch.float64 if dtype == np.float64 else torch.float32)
    tokens = np.random.default_rng(2).integers(0, 17, size=(3, 9))
    tokens[0, :4] = 5                                        # repeated ids: scatter-add in backward

    logits = model(tokens)
    expected = _torch_gpt(tokens, theirs, model)
    assert logits.dtype == dtype
    np.testing.assert_allclose(logits.data, to_numpy(expected), atol=atol, rtol=rtol)

    upstream = np.random.default_rng(3).normal(size=logits.shape).astype(dtype)
    logits.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    names = [name for name, _ in model.named_parameters()]
    assert set(names) == set(theirs)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, to_numpy(theirs[name].grad), atol=atol,
                                   rtol=rtol, err_msg=f"gradient of {name}")


def test_transformer_block_with_padding_mask_matches_torch() -> None:
    """A block under a causal mask combined with per-sequence key padding."""
    block = TransformerBlock(16, 4, dropout_prob=0.0, ff_dim=40)
    _randomize(block, 4)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 6, 16)).astype(np.float32)
    keep = np.ones((2, 6), dtype=bool)
    keep[1, 4:] = False                                          # sequence 1 has 2 pad tokens
    mask = np.tril(np.ones((6, 6), dtype=bool))[None] & keep[:, None, :]   # (B, T, T)
    p = {name: torch.tensor(q.data) for name, q in block.named_parameters()}

    def torch_block(xt: Any) -> Any:
        b, t, e = xt.shape
        norm = F.layer_norm(xt, (e,), p["ln1.weight"], p["ln1.bias"], eps=1e-5)
        q, k, v = (_torch_linear(norm, p, f"attention.{name}_proj").view(b, t, 4, e // 4)
                   .transpose(1, 2) for name in "qkv")
        heads = F.scaled_dot_product_attention(q, k, v, attn_mask=torch.from_numpy(mask)[:, None])
        xt = xt + _torch_linear(heads.transpose(1, 2).reshape(b, t, e), p, "attention.out_proj")
        norm = F.layer_norm(xt, (e,), p["ln2.weight"], p["ln2.bias"], eps=1e-5)
        hidden = F.gelu(_torch_linear(norm, p, "mlp.linear1"), approximate="tanh")
        return xt + _torch_linear(hidden, p, "mlp.linear2")

    assert_matches_torch(lambda xt: block(xt, mask=mask), inputs=[x], torch_fn=torch_block,
                         atol=1e-4, rtol=1e-3)


def test_gpt_generation_matches_torch_greedy_decoding() -> None:
    """Greedy tokens from our cached generate equal a torch recomputation loop."""
    model = GPT(vocab_size=11, embed_dim=16, num_layers=2, num_heads=2, max_seq_len=12)
    _randomize(model, 6)
    theirs = _torch_params(model, torch.float32)
    prompt = np.array([[1, 2, 3], [4, 4, 4]])
    ours = model.generate(prompt, max_new_tokens=6, temperature=0).data
    tokens = prompt.copy()
    with torch.no_grad():
        for _ in range(6):
            nxt = _torch_gpt(tokens, theirs, model)[:, -1].argmax(-1).numpy()
            tokens = np.concatenate([tokens, nxt[:, None]], axis=1)
    np.testing.assert_array_equal(ours, tokens)
    assert isinstance(model(Tensor(prompt)), Tensor)
