"""Critical: the language stack of modules 10-13, from text to loss and back.

text -> tokenizer -> embeddings (+ positions) -> attention -> transformer blocks -> logits ->
cross-entropy. The gradients must reach the token table (only the rows of tokens that were
used), the position table (only the positions that were used) and every block, with the values
PyTorch computes for the same weights; attention must never look ahead; a tiny GPT must learn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from oracle_helpers import import_torch

from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.embeddings import EmbeddingLayer
from tinytorch.core.layers import Linear, Module
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.tokenization import BPETokenizer, CharTokenizer
from tinytorch.core.transformer import GPT, LayerNorm, TransformerBlock, create_causal_mask
from tinytorch.data import load_qa_pairs

ATOL, RTOL = 2e-5, 1e-4


def some_text(pairs: int = 20) -> str:
    """The first question/answer pairs of the shipped corpus, as one string."""
    return "\n".join(f"Q: {q}\nA: {a}" for q, a in load_qa_pairs()[:pairs])


def next_token_batch(ids: list[int], batch: int, seq_len: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random windows of ``ids``: inputs (B, T) and the same windows shifted by one (B, T)."""
    data = np.asarray(ids, dtype=np.int64)
    starts = rng.integers(0, len(data) - seq_len - 1, size=batch)
    windows = data[starts[:, None] + np.arange(seq_len + 1)]                 # (B, T + 1)
    return windows[:, :-1], windows[:, 1:]


def lm_loss(logits: Tensor, targets: np.ndarray, **kwargs: Any) -> Tensor:
    """Mean next-token cross-entropy over every position: logits (B, T, V), targets (B, T)."""
    return CrossEntropyLoss(**kwargs)(logits, Tensor(targets, dtype=np.int64))


# --- a PyTorch twin of the GPT, built from our weights -------------------------------------------

def torch_params(model: Module, torch: Any) -> dict[str, Any]:
    """Every parameter of ``model`` as a torch leaf tensor with the same name and numbers."""
    return {name: torch.tensor(p.data.copy(), requires_grad=True)
            for name, p in model.named_parameters()}


def torch_layer_norm(x: Any, w: Any, b: Any, torch: Any) -> Any:
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps=1e-5)


def torch_block(x: Any, p: dict[str, Any], prefix: str, num_heads: int, torch: Any) -> Any:
    """The pre-LN block with a causal mask, written out in torch (Linear weights are (in, out))."""
    functional = torch.nn.functional
    batch, seq, embed = x.shape
    head_dim = embed // num_heads
    h = torch_layer_norm(x, p[f"{prefix}ln1.weight"], p[f"{prefix}ln1.bias"], torch)
    q, k, v = ((h @ p[f"{prefix}attention.{name}_proj.weight"]
                + p[f"{prefix}attention.{name}_proj.bias"])
               .reshape(batch, seq, num_heads, head_dim).transpose(1, 2)
               for name in "qkv")                                        # (B, H, T, hd)
    scores = q @ k.transpose(-2, -1) / math.sqrt(head_dim)
    future = torch.triu(torch.ones(seq, seq, dtype=torch.bool), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    merged = (weights @ v).transpose(1, 2).reshape(batch, seq, embed)
    x = x + merged @ p[f"{prefix}attention.out_proj.weight"] + p[f"{prefix}attention.out_proj.bias"]
    h = torch_layer_norm(x, p[f"{prefix}ln2.weight"], p[f"{prefix}ln2.bias"], torch)
    h = functional.gelu(h @ p[f"{prefix}mlp.linear1.weight"] + p[f"{prefix}mlp.linear1.bias"],
                        approximate="tanh")
    return x + h @ p[f"{prefix}mlp.linear2.weight"] + p[f"{prefix}mlp.linear2.bias"]


def torch_gpt_logits(model: GPT, p: dict[str, Any], ids: np.ndarray, torch: Any) -> Any:
    tokens = torch.tensor(ids)
    x = p["token_embedding.weight"][tokens] + \
        p["position_embedding.position_embeddings"][: ids.shape[1]]
    for i in range(model.num_layers):
        x = torch_block(x, p, f"blocks.{i}.", model.num_heads, torch)
    x = torch_layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], torch)
    if model.tie_weights:
        return x @ p["token_embedding.weight"].T
    return x @ p["lm_head.weight"] + p["lm_head.bias"]


# --- tests ---------------------------------------------------------------------------------------

def test_quick_text_to_loss_gradients_reach_every_part(rng: np.random.Generator) -> None:
    tokenizer = CharTokenizer()
    text = some_text()
    tokenizer.build_vocab(text)
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text  # the pipeline starts from an exact round trip

    model = GPT(tokenizer.vocab_size, embed_dim=16, num_layers=2, num_heads=2, max_seq_len=24)
    inputs, targets = next_token_batch(ids, batch=4, seq_len=10, rng=rng)
    lm_loss(model(inputs), targets).backward()

    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} has no gradient"
        assert p.grad.shape == p.shape, f"{name} gradient has shape {p.grad.shape}"
        assert np.all(np.isfinite(p.grad.data)), f"{name} gradient is not finite"
        assert np.abs(p.grad.data).sum() > 0, f"{name} gradient is zero"

    table = model.token_embedding.weight.grad.data
    used = np.unique(inputs)
    unused = np.setdiff1d(np.arange(tokenizer.vocab_size), used)
    assert np.all(np.abs(table[used]).sum(axis=1) > 0), "a used token's row got no gradient"
    np.testing.assert_array_equal(table[unused], 0.0)  # rows never looked up stay untouched
    positions = model.position_embedding.position_embeddings.grad.data
    assert np.all(np.abs(positions[:10]).sum(axis=1) > 0)
    np.testing.assert_array_equal(positions[10:], 0.0)  # positions beyond T = 10 were unused


@pytest.mark.oracle
@pytest.mark.parametrize("tie_weights", [False, True], ids=["separate_head", "tied_head"])
def test_gpt_logits_and_every_gradient_match_torch(tie_weights: bool,
                                                   rng: np.random.Generator) -> None:
    torch = import_torch()
    model = GPT(13, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=12,
                tie_weights=tie_weights)
    for p in model.parameters():  # GPT's 0.02 init makes tiny gradients; widen the spread
        p.data[...] = rng.normal(0, 0.3, size=p.shape).astype(np.float32)
    params = torch_params(model, torch)
    ids = rng.integers(0, 13, size=(2, 7))
    targets = rng.integers(0, 13, size=(2, 7))

    logits = model(Tensor(ids, dtype=np.int64))
    lm_loss(logits, targets).backward()
    t_logits = torch_gpt_logits(model, params, ids, torch)
    torch.nn.functional.cross_entropy(t_logits.reshape(-1, 13),
                                      torch.tensor(targets).reshape(-1)).backward()

    np.testing.assert_allclose(logits.data, t_logits.detach().numpy(), atol=ATOL, rtol=RTOL)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, params[name].grad.numpy(), atol=ATOL, rtol=RTOL,
                                   err_msg=f"gradient of {name}")


class ComposedLM(Module):
    """The stack assembled by hand from the public pieces, with the public causal mask."""

    def __init__(self, vocab: int, embed: int, heads: int, max_len: int) -> None:
        super().__init__()
        self.embed = EmbeddingLayer(vocab, embed, max_seq_len=max_len)
        self.block = TransformerBlock(embed, heads, dropout_prob=0.0)
        self.norm = LayerNorm(embed)
        self.head = Linear(embed, vocab)

    def forward(self, ids: Tensor) -> Tensor:
        x = self.embed(ids)                                                  # (B, T, E)
        x = self.block(x, mask=create_causal_mask(ids.shape[1]))              # 1 = attend
        return self.head(self.norm(x))


@pytest.mark.oracle
def test_quick_hand_assembled_stack_matches_torch(rng: np.random.Generator) -> None:
    torch = import_torch()
    model = ComposedLM(vocab=10, embed=8, heads=4, max_len=8)
    for p in model.parameters():
        p.data[...] = rng.normal(0, 0.3, size=p.shape).astype(np.float32)
    params = torch_params(model, torch)
    ids = rng.integers(0, 10, size=(3, 5))
    targets = rng.integers(0, 10, size=(3, 5))

    lm_loss(model(Tensor(ids, dtype=np.int64)), targets).backward()
    x = params["embed.token_embedding.weight"][torch.tensor(ids)] + \
        params["embed.pos_encoding.position_embeddings"][:5]
    x = torch_block(x, params, "block.", 4, torch)
    x = torch_layer_norm(x, params["norm.weight"], params["norm.bias"], torch)
    t_logits = x @ params["head.weight"] + params["head.bias"]
    torch.nn.functional.cross_entropy(t_logits.reshape(-1, 10),
                                      torch.tensor(targets).reshape(-1)).backward()
    for name, p in model.named_parameters():
        assert np.abs(p.grad.data).sum() > 0, f"{name} gradient is zero"
        np.testing.assert_allclose(p.grad.data, params[name].grad.numpy(), atol=ATOL, rtol=RTOL,
                                   err_msg=f"gradient of {name}")


def test_quick_attention_never_looks_ahead(rng: np.random.Generator) -> None:
    model = GPT(20, embed_dim=16, num_layers=2, num_heads=4, max_seq_len=16)
    ids = rng.integers(0, 20, size=(2, 9))
    changed = ids.copy()
    changed[:, 6:] = (changed[:, 6:] + 1) % 20  # rewrite the future of position 5
    with no_grad():
        before, after = model(ids).data, model(changed).data
    np.testing.assert_allclose(before[:, :6], after[:, :6], atol=1e-6)
    assert not np.allclose(before[:, 6:], after[:, 6:])

    # the same through the gradient: position 3's loss sends nothing to later inputs
    x = Tensor(rng.standard_normal((1, 6, 16)), requires_grad=True)
    attention = MultiHeadAttention(16, 4)
    attention(x, mask=create_causal_mask(6))[:, 3].sum().backward()
    np.testing.assert_array_equal(x.grad.data[:, 4:], 0.0)
    assert np.all(np.abs(x.grad.data[:, :4]).sum(axis=-1) > 0)


def test_padding_positions_are_ignored_by_the_loss() -> None:
    tokenizer = CharTokenizer(special_tokens=("<PAD>",))
    tokenizer.build_vocab("abc de")
    pad = tokenizer.vocab.index("<PAD>")
    short, long = tokenizer.encode("abc"), tokenizer.encode("de cab")
    inputs = np.array([short + [pad] * 3, long])                               # (2, 6)
    targets = np.array([short[1:] + [pad] * 4, long[1:] + [pad]])             # next tokens
    model = GPT(tokenizer.vocab_size, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=8)
    padded = lm_loss(model(inputs), targets, ignore_index=pad)
    # the mean over real targets only: 2 in the first row, 5 in the second
    with no_grad():
        logits = model(inputs).data
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    real = targets != pad
    expected = -log_probs[real, targets[real]].mean()
    assert padded.item() == pytest.approx(float(expected), rel=1e-5)


def test_quick_tiny_gpt_learns_a_phrase_and_completes_it() -> None:
    tokenizer = CharTokenizer()
    phrase = "the cat sat on the mat. "
    tokenizer.build_vocab(phrase)
    ids = tokenizer.encode(phrase * 4)
    model = GPT(tokenizer.vocab_size, embed_dim=32, num_layers=1, num_heads=2, max_seq_len=32)
    optimizer = Adam(model.parameters(), lr=0.01)
    inputs = np.array([ids[i:i + 24] for i in range(0, 24, 3)])             # (8, 24)
    targets = np.array([ids[i + 1:i + 25] for i in range(0, 24, 3)])
    losses = []
    for _ in range(80):
        optimizer.zero_grad()
        loss = lm_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 0.8 * math.log(tokenizer.vocab_size)  # starts near uniform guessing
    assert losses[-1] < 0.1, f"loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    # greedy decoding within the 24 positions it was trained on
    out = model.generate(tokenizer.encode("the cat "), max_new_tokens=16, temperature=0)
    assert tokenizer.decode(out.tolist()) == "the cat sat on the mat. "


def test_bpe_tokens_flow_through_the_model(rng: np.random.Generator) -> None:
    tokenizer = BPETokenizer(vocab_size=120)
    text = some_text(60)
    tokenizer.train(text)
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert len(ids) < 0.7 * len(text)  # merges really shorten the sequence
    model = GPT(tokenizer.vocab_size, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=16)
    inputs, targets = next_token_batch(ids, batch=4, seq_len=12, rng=rng)
    lm_loss(model(inputs), targets).backward()
    assert model.token_embedding.weight.grad.shape == (tokenizer.vocab_size, 16)
    assert np.abs(model.blocks[0].attention.q_proj.weight.grad.data).sum() > 0
    generated = model.generate(inputs[0, :4], max_new_tokens=5, temperature=0)
    assert isinstance(tokenizer.decode(generated.tolist()), str)
    assert generated.tolist()[:4] == inputs[0, :4].tolist()
