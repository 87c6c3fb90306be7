"""Unit tests for module 13: LayerNorm, MLP, TransformerBlock and GPT (forward, generate, learn)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.errors import ShapeError
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import AdamW
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import (
    GPT,
    MLP,
    GPTConfig,
    LayerNorm,
    LayerNormFunction,
    TinyGPT,
    TransformerBlock,
    create_causal_mask,
    sample_next_token,
)


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


# --- masks and LayerNorm -------------------------------------------------------------------


def test_causal_mask_is_lower_triangle_of_ones() -> None:
    mask = create_causal_mask(4)
    assert mask.shape == (4, 4) and mask.dtype == np.float32
    np.testing.assert_array_equal(mask.data, np.tril(np.ones((4, 4))))
    assert mask.data[1].tolist() == [1.0, 1.0, 0.0, 0.0]   # 1 = attend (past), 0 = block


def test_layernorm_normalizes_then_scales_and_shifts(rng: np.random.Generator) -> None:
    ln = LayerNorm(6)
    ln.weight.data[...] = rng.normal(size=6)
    ln.bias.data[...] = rng.normal(size=6)
    x = rng.normal(3.0, 2.0, size=(2, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(ln(Tensor(x)).data, _layer_norm(x, ln.weight.data, ln.bias.data),
                               atol=1e-5)


def test_layernorm_gradient_is_exact() -> None:
    rng = np.random.default_rng(5)
    x = Tensor(rng.normal(size=(3, 5)), requires_grad=True)
    w = Tensor(rng.normal(size=5), requires_grad=True)
    b = Tensor(rng.normal(size=5), requires_grad=True)
    assert gradcheck(lambda x_, w_, b_: LayerNormFunction.apply(x_, w_, b_, eps=1e-5), [x, w, b])


def test_layernorm_over_two_trailing_axes() -> None:
    rng = np.random.default_rng(6)
    x = Tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    w = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    b = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    assert gradcheck(lambda x_, w_, b_: LayerNormFunction.apply(x_, w_, b_, eps=1e-5), [x, w, b])
    out = LayerNorm((3, 4))(Tensor(x.data.astype(np.float32))).data.reshape(2, 12)
    np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-6)


def test_layernorm_gamma_beta_are_aliases_not_extra_parameters() -> None:
    ln = LayerNorm(3)
    assert ln.gamma is ln.weight and ln.beta is ln.bias
    assert [name for name, _ in ln.named_parameters()] == ["weight", "bias"]
    assert ln.weight.data.tolist() == [1.0, 1.0, 1.0] and ln.bias.data.tolist() == [0.0] * 3


def test_layernorm_rejects_wrong_width() -> None:
    with pytest.raises(ShapeError, match=r"LayerNorm\(\(4,\)\) got input of shape \(2, 5\)"):
        LayerNorm(4)(Tensor(np.ones((2, 5))))


# --- MLP and block -------------------------------------------------------------------------


def test_mlp_is_linear_gelu_linear(rng: np.random.Generator) -> None:
    mlp = MLP(4, dropout_prob=0.0)
    assert mlp.hidden_dim == 16
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    hidden = _gelu_tanh(x @ mlp.linear1.weight.data + mlp.linear1.bias.data)
    expected = hidden @ mlp.linear2.weight.data + mlp.linear2.bias.data
    np.testing.assert_allclose(mlp(Tensor(x)).data, expected, atol=1e-5)


def test_block_is_pre_ln_with_residuals(rng: np.random.Generator) -> None:
    block = TransformerBlock(8, 2, dropout_prob=0.0)
    for p in block.parameters():
        p.data[...] = rng.normal(0, 0.3, size=p.shape)
    x = rng.normal(size=(2, 5, 8)).astype(np.float32)
    mask = np.tril(np.ones((5, 5)))
    h = x + block.attention(Tensor(_layer_norm(x, block.ln1.weight.data, block.ln1.bias.data)),
                            mask=mask).data
    expected = h + block.mlp(Tensor(_layer_norm(h, block.ln2.weight.data,
                                                block.ln2.bias.data))).data
    np.testing.assert_allclose(block(Tensor(x), mask=mask).data, expected, atol=1e-4)


def test_block_ff_dim_sets_mlp_width() -> None:
    assert TransformerBlock(8, 2, ff_dim=20).mlp.hidden_dim == 20
    assert TransformerBlock(8, 2, mlp_ratio=2).mlp.hidden_dim == 16


def test_block_dropout_only_in_training(rng: np.random.Generator) -> None:
    block = TransformerBlock(8, 2, dropout_prob=0.3)
    x = Tensor(rng.normal(size=(2, 4, 8)))
    assert not np.allclose(block(x).data, block(x).data)
    block.eval()
    np.testing.assert_array_equal(block(x).data, block(x).data)


# --- GPT forward -------------------------------------------------------------------------------


def _small_gpt(**kwargs: object) -> GPT:
    settings: dict[str, object] = dict(vocab_size=13, embed_dim=16, num_layers=2, num_heads=4,
                                       max_seq_len=12)
    settings.update(kwargs)
    return GPT(**settings)  # type: ignore[arg-type]


def test_gpt_logits_shape_for_batched_1d_list_and_float_inputs() -> None:
    model = _small_gpt()
    tokens = np.array([[1, 2, 3], [4, 5, 6]])
    logits = model(tokens)
    assert logits.shape == (2, 3, 13) and logits.dtype == np.float32
    np.testing.assert_allclose(model([4, 5, 6]).data[0], logits.data[1], atol=1e-6)
    np.testing.assert_allclose(model(Tensor(tokens)).data, logits.data, atol=1e-6)  # float ids


def test_gpt_rejects_too_long_input_and_bad_ids() -> None:
    model = _small_gpt()
    with pytest.raises(ShapeError, match="max_seq_len=12"):
        model(np.zeros((1, 13), dtype=np.int64))
    with pytest.raises(IndexError, match="vocabulary of size 13"):
        model([1, 13])


def test_gpt_every_parameter_gets_a_gradient() -> None:
    model = _small_gpt()
    logits = model(np.array([[1, 2, 3, 4]]))
    cross_entropy(logits.reshape(-1, 13), np.array([2, 3, 4, 5])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.data).sum() > 0, name


def test_gpt_upstream_names() -> None:
    model = _small_gpt()
    assert model.embedding_layer is model.token_embedding
    assert TinyGPT is GPT
    assert isinstance(model.blocks[0].attention, MultiHeadAttention)
    from tinytorch.core import transformers
    from tinytorch.models import transformer as models_transformer

    assert transformers.TinyGPT is GPT and transformers.MultiHeadAttention is MultiHeadAttention
    assert models_transformer.GPT is GPT


def test_gpt_tied_weights_share_the_embedding() -> None:
    model = _small_gpt(tie_weights=True)
    assert model.lm_head is None
    names = [name for name, _ in model.named_parameters()]
    assert "token_embedding.weight" in names and not any("lm_head" in n for n in names)
    tokens = np.array([[1, 2, 3]])
    with no_grad():
        hidden = model._hidden(tokens).data
    np.testing.assert_allclose(model(tokens).data, hidden @ model.token_embedding.weight.data.T,
                               atol=1e-5)


def test_gpt_config_round_trip() -> None:
    config = GPTConfig(vocab_size=7, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=5)
    model = GPT.from_config(config)
    assert model.config == config and model.max_seq_len == 5


def test_gpt_state_dict_round_trip(tmp_path: object) -> None:
    model, other = _small_gpt(), _small_gpt()
    path = f"{tmp_path}/gpt.npz"
    model.save(path)
    other.load(path)
    tokens = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(model(tokens).data, other(tokens).data)


# --- generation ---------------------------------------------------------------------------


def test_cached_logits_equal_recomputed_logits() -> None:
    model = _small_gpt()
    model.eval()
    tokens = np.array([[3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8]])
    with no_grad():
        full = model(tokens).data                                   # (2, 8, V), no cache
        cache = model.make_cache(2)
        stepwise = [model._next_logits(tokens[:, :3], cache)]       # prefill 3 tokens
        for t in range(3, 8):
            stepwise.append(model._next_logits(tokens[:, t:t + 1], cache))
    np.testing.assert_allclose(np.stack(stepwise, axis=1), full[:, 2:], atol=1e-5)


@pytest.mark.parametrize("new_tokens", [5, 20])  # 20 runs past max_seq_len=12: window slides
def test_cached_and_uncached_greedy_generation_agree(new_tokens: int) -> None:
    model = _small_gpt()
    prompt = np.array([[1, 2, 3], [7, 7, 0]])
    cached = model.generate(prompt, max_new_tokens=new_tokens, temperature=0, use_cache=True)
    plain = model.generate(prompt, max_new_tokens=new_tokens, temperature=0, use_cache=False)
    assert cached.shape == (2, 3 + new_tokens) and cached.dtype == np.int64
    np.testing.assert_array_equal(cached.data, plain.data)
    np.testing.assert_array_equal(cached.data[:, :3], prompt)


def test_generate_really_feeds_one_token_at_a_time_with_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = _small_gpt()
    fed: list[tuple[int, bool]] = []
    hidden = model._hidden

    def spy(ids: np.ndarray, cache: object = None) -> Tensor:
        fed.append((ids.shape[1], cache is not None))
        return hidden(ids, cache)

    monkeypatch.setattr(model, "_hidden", spy)
    model.generate([1, 2, 3], max_new_tokens=12, temperature=0)
    # prefill 3, then single tokens until the 12 positions are cached, then the cropped window
    assert fed == [(3, True)] + [(1, True)] * 9 + [(12, False)] * 2
    fed.clear()
    model.generate([1, 2, 3], max_new_tokens=4, temperature=0, use_cache=False)
    assert fed == [(3, False), (4, False), (5, False), (6, False)]


def test_generate_reuses_a_fitting_model_cache() -> None:
    model = _small_gpt()
    model.kv_cache = model.make_cache(batch_size=2)
    model.kv_cache.advance(5)                                   # stale state is reset first
    reused = model.generate([[1, 2], [3, 4]], max_new_tokens=4, temperature=0)
    assert model.kv_cache.seq_len == 2 + 3                      # prefill 2, then 3 single steps
    fresh = _small_gpt()
    fresh.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(reused.data, fresh.generate([[1, 2], [3, 4]], max_new_tokens=4,
                                                              temperature=0).data)
    model.generate([5], max_new_tokens=2, temperature=0)       # batch 1: a fresh cache instead
    assert model.kv_cache.seq_len == 5


def test_generate_crops_a_long_prompt_to_the_context() -> None:
    model = _small_gpt()
    prompt = np.arange(20) % 13
    out = model.generate(prompt, max_new_tokens=2, temperature=0)
    assert out.shape == (22,)
    np.testing.assert_array_equal(out.data[:20], prompt)
    expected_first = model(prompt[-12:]).data[0, -1].argmax()
    assert out.data[20] == expected_first


def test_generate_is_reproducible_under_manual_seed() -> None:
    model = _small_gpt()
    manual_seed(11)
    a = model.generate([[1, 2]], max_new_tokens=15, temperature=1.5)
    manual_seed(11)
    b = model.generate([[1, 2]], max_new_tokens=15, temperature=1.5)
    manual_seed(12)
    c = model.generate([[1, 2]], max_new_tokens=15, temperature=1.5)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)


def test_generate_samples_each_batch_row_independently() -> None:
    model = _small_gpt()
    out = model.generate(np.tile([[1, 2]], (8, 1)), max_new_tokens=10, temperature=3.0).data
    assert len({tuple(row) for row in out}) > 1


def test_generate_restores_training_mode_and_validates_arguments() -> None:
    model = _small_gpt(dropout=0.5)
    model.train()
    a = model.generate([1], max_new_tokens=6, temperature=0)
    b = model.generate([1], max_new_tokens=6, temperature=0)
    np.testing.assert_array_equal(a.data, b.data)     # dropout was off while generating
    assert model.training and model.blocks[0].dropout.training
    with pytest.raises(ValueError, match="temperature=-1"):
        model.generate([1], temperature=-1)
    with pytest.raises(ValueError, match="top_p=1.5"):
        model.generate([1], top_p=1.5)
    assert model.generate([1, 2], max_new_tokens=0).tolist() == [1, 2]


def _draws(logits: list[float], n: int = 20000, **kwargs: object) -> np.ndarray:
    batch = np.tile(np.asarray(logits, dtype=np.float32), (n, 1))
    picked = sample_next_token(batch, **kwargs)  # type: ignore[arg-type]
    return np.bincount(picked, minlength=len(logits)) / n


def test_temperature_zero_is_argmax_and_temperature_reshapes_the_distribution() -> None:
    logits = [2.0, 1.0, 0.0, -1.0]
    assert sample_next_token(np.array([logits, logits[::-1]]), temperature=0).tolist() == [0, 3]
    for temperature in (0.5, 1.0, 2.0):
        scaled = np.exp(np.array(logits) / temperature)
        np.testing.assert_allclose(_draws(logits, temperature=temperature),
                                   scaled / scaled.sum(), atol=0.015)


def test_top_k_keeps_only_the_k_most_likely() -> None:
    freq = _draws([0.0, 3.0, 1.0, 2.5, -1.0], top_k=2)
    assert freq[[0, 2, 4]].sum() == 0.0
    expected = np.exp([3.0, 2.5]) / np.exp([3.0, 2.5]).sum()
    np.testing.assert_allclose(freq[[1, 3]], expected, atol=0.015)
    assert _draws([0.0, 3.0, 1.0], top_k=1).tolist() == [0.0, 1.0, 0.0]


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    logits = np.log([0.5, 0.3, 0.15, 0.05]).tolist()
    freq = _draws(logits, top_p=0.7)                   # 0.5 < 0.7, so 0.5 + 0.3 is needed
    assert freq[2] == 0.0 and freq[3] == 0.0
    np.testing.assert_allclose(freq[:2], [0.5 / 0.8, 0.3 / 0.8], atol=0.015)
    assert _draws(logits, top_p=0.4).tolist() == [1.0, 0.0, 0.0, 0.0]  # the top token always


# --- learning ------------------------------------------------------------------------------


def test_small_gpt_overfits_a_short_text() -> None:
    text = "to be or not to be, that is the question."
    vocab = sorted(set(text))
    ids = np.array([[vocab.index(c) for c in text]])
    model = GPT(len(vocab), 32, num_layers=1, num_heads=2, max_seq_len=len(text))
    optimizer = AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        loss = cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(len(vocab)), abs=0.3)
    assert losses[-1] < 0.1
    prompt = ids[0, :1]
    completion = model.generate(prompt, max_new_tokens=len(text) - 1, temperature=0)
    assert "".join(vocab[i] for i in completion.tolist()) == text


@pytest.mark.slow
def test_gpt_learns_sequence_reversal() -> None:
    vocab, length, sep = 10, 6, 10
    rng = np.random.default_rng(0)
    model = GPT(vocab + 1, 48, num_layers=2, num_heads=4, max_seq_len=2 * length + 1)
    optimizer = AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)

    def batch(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        digits = rng.integers(0, vocab, (n, length))
        seq = np.concatenate([digits, np.full((n, 1), sep), digits[:, ::-1]], axis=1)
        targets = seq[:, 1:].copy()
        targets[:, :length] = -100                      # only the reversed half is scored
        return seq[:, :-1], targets, digits

    for _ in range(250):  # ~150 steps already suffice; the margin keeps it reliable
        inputs, targets, _ = batch(64)
        optimizer.zero_grad()
        cross_entropy(model(inputs), targets).backward()
        optimizer.step()
    inputs, _, digits = batch(500)
    model.eval()
    with no_grad():
        # teacher-forced argmax at every output position is right <=> greedy decoding is right
        predicted = model(inputs).data.argmax(-1)[:, length:]
    accuracy = np.mean(np.all(predicted == digits[:, ::-1], axis=1))
    assert accuracy >= 0.95
    generated = model.generate(np.concatenate([digits[:20], np.full((20, 1), sep)], axis=1),
                               max_new_tokens=length, temperature=0).data[:, length + 1:]
    assert np.mean(np.all(generated == digits[:20, ::-1], axis=1)) >= 0.9
