"""Gap 18 (memoization): cached generation must be the same computation as recomputation.

Boundary: ``perf.memoization`` (the switch), ``core.attention.KVCache`` (the buffers) and
``GPT.generate`` (prefill, then one token per step). At every step of a real generation loop,
the logits the cached path sampled from must equal those of an independent recomputation (the
model run on the whole context so far, cropped to the window as ``generate`` documents) within
1e-4, and the tokens must equal the uncached ``generate``'s exactly: for one sequence and a
batch of three, for short and long prompts, up to the context limit and beyond it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinytorch.core import transformer
from tinytorch.core.autograd import no_grad
from tinytorch.core.rng import manual_seed
from tinytorch.core.transformer import GPT
from tinytorch.perf.memoization import disable_kv_cache, enable_kv_cache

WINDOW = 24
LOGIT_ATOL = 1e-4


def _model(seed: int = 3) -> GPT:
    """A random GPT whose weights are spread out enough that greedy choices rarely tie."""
    manual_seed(seed)
    model = GPT(vocab_size=30, embed_dim=32, num_layers=2, num_heads=4, max_seq_len=WINDOW)
    for p in model.parameters():
        p.data *= 3.0
    return model


def _prompts(batch: int, length: int) -> np.ndarray:
    return np.random.default_rng(length + 7 * batch).integers(0, 30, size=(batch, length))


def _generate_recording(model: GPT, prompt: np.ndarray, new: int, use_cache: bool,
                        monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, list[np.ndarray]]:
    """generate(), plus the logits it sampled each token from (read at the sampling call)."""
    seen: list[np.ndarray] = []
    original = transformer.sample_next_token

    def recording(logits: np.ndarray, *args: Any) -> np.ndarray:
        seen.append(np.array(logits, copy=True))
        return original(logits, *args)

    with monkeypatch.context() as patch:
        patch.setattr(transformer, "sample_next_token", recording)
        tokens = model.generate(prompt, max_new_tokens=new, temperature=0, use_cache=use_cache)
    return tokens.data, seen


def _recomputed_logits(model: GPT, tokens: np.ndarray, prompt_len: int) -> list[np.ndarray]:
    """For each new token: the last position's logits of a full forward over its context."""
    out = []
    with no_grad():
        for length in range(prompt_len, tokens.shape[1]):
            window = tokens[:, max(0, length - WINDOW):length]       # generate's cropping
            out.append(model(window).data[:, -1])
    return out


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("prompt_len, new", [
    (1, 12),          # a one-token prompt
    (5, 19),          # ends exactly at the context limit: 5 + 19 = 24
    (16, 8),          # a long prompt, one pass of prefill
    (10, 30),         # beyond the limit: the window slides for the last 16 tokens
    (30, 4),          # a prompt longer than the window is cropped before prefill
])
def test_quick_cached_generation_equals_recomputation_at_every_step(
        batch: int, prompt_len: int, new: int, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    prompt = _prompts(batch, prompt_len)
    cached, cached_logits = _generate_recording(model, prompt, new, True, monkeypatch)
    uncached, uncached_logits = _generate_recording(model, prompt, new, False, monkeypatch)
    assert cached.shape == (batch, prompt_len + new)
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_array_equal(cached[:, :prompt_len], prompt)
    reference = _recomputed_logits(model, cached, prompt_len)
    assert len(cached_logits) == len(uncached_logits) == len(reference) == new
    for step, (ours, plain, truth) in enumerate(zip(cached_logits, uncached_logits, reference,
                                                    strict=True)):
        np.testing.assert_allclose(ours, truth, rtol=0, atol=LOGIT_ATOL,
                                   err_msg=f"cached logits differ at step {step}")
        np.testing.assert_allclose(plain, truth, rtol=0, atol=LOGIT_ATOL)
    # not a degenerate model: the continuation varies and the logits move with the context
    assert len(np.unique(cached[:, prompt_len:])) >= 2
    assert np.abs(np.diff(np.stack(reference), axis=0)).max() > 0.5


def test_quick_the_cache_is_really_used_prefill_once_then_one_token_per_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    attention = model.blocks[0].attention
    widths: list[int] = []
    forward = attention.forward

    def counting(x: Any, *args: Any, **kwargs: Any) -> Any:
        widths.append(x.shape[1])
        return forward(x, *args, **kwargs)

    monkeypatch.setattr(attention, "forward", counting)
    cache = enable_kv_cache(model)
    model.generate(_prompts(1, 6), max_new_tokens=25, temperature=0)
    # prefill 6, then 1 token per step until the window holds 24, then full windows of 24
    assert widths == [6] + [1] * 18 + [WINDOW] * 6
    assert cache.seq_len == WINDOW


def test_quick_persistent_cache_gives_the_same_tokens_and_is_reused_across_calls() -> None:
    model = _model(5)
    prompts = _prompts(3, 4)
    fresh = model.generate(prompts, max_new_tokens=12, temperature=0).data
    cache = enable_kv_cache(model, batch_size=3)
    for _ in range(2):                         # the second call starts from an emptied cache
        again = model.generate(prompts, max_new_tokens=12, temperature=0).data
        np.testing.assert_array_equal(again, fresh)
        assert model.kv_cache is cache and cache.seq_len == 4 + 12 - 1
    single = model.generate(prompts[:1], max_new_tokens=12, temperature=0).data
    np.testing.assert_array_equal(single, fresh[:1])     # another batch size: its own cache
    assert cache.seq_len == 15
    disable_kv_cache(model)
    np.testing.assert_array_equal(
        model.generate(prompts, max_new_tokens=12, temperature=0, use_cache=False).data, fresh)


def test_sampled_generation_with_a_cache_draws_the_same_tokens() -> None:
    model = _model(8)
    prompt = _prompts(3, 7)
    draws = []
    for use_cache in (True, False):
        manual_seed(21)
        draws.append(model.generate(prompt, max_new_tokens=30, temperature=0.9, top_k=8,
                                    top_p=0.95, use_cache=use_cache).data)
    np.testing.assert_array_equal(draws[0], draws[1])


def test_cached_generation_leaves_training_untouched() -> None:
    model = _model(9)
    model.train()
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    enable_kv_cache(model)
    model.generate(_prompts(1, 3), max_new_tokens=5, temperature=0)
    assert model.training                                     # generate restores the mode
    logits = model(_prompts(2, 8))
    logits.sum().backward()                                   # a normal graph, no cache in it
    assert all(p.grad is not None for p in model.parameters())
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])
