"""Module 18 (memoization): the one KV cache, its switch on a GPT, and its real size in bytes."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core import attention
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.errors import ShapeError
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.transformer import GPT, TransformerBlock
from tinytorch.perf import memoization
from tinytorch.perf.memoization import (
    KVCache,
    compare_generation,
    disable_kv_cache,
    enable_kv_cache,
    kv_cache_bytes,
)

LAYERS, HEADS, HEAD_DIM = 2, 2, 4


def _gpt(max_seq_len: int = 16) -> GPT:
    return GPT(vocab_size=11, embed_dim=HEADS * HEAD_DIM, num_layers=LAYERS, num_heads=HEADS,
               max_seq_len=max_seq_len)


def _kv(batch: int, n: int, value: float) -> np.ndarray:
    return np.full((batch, HEADS, n, HEAD_DIM), value, dtype=np.float32)


def test_there_is_one_cache_class_in_the_project() -> None:
    assert memoization.KVCache is attention.KVCache


def test_update_get_advance_keep_positions_in_order() -> None:
    cache = KVCache(2, 8, LAYERS, HEADS, HEAD_DIM)
    for layer in range(LAYERS):
        cache.update(layer, _kv(2, 3, 1.0 + layer), _kv(2, 3, -1.0))
    cache.advance(3)
    for layer in range(LAYERS):
        cache.update(layer, _kv(2, 1, 9.0), _kv(2, 1, -9.0))
    keys, values = cache.get(1)
    assert keys.shape == (2, HEADS, 4, HEAD_DIM) and not keys.requires_grad
    assert keys.data[0, 0, :, 0].tolist() == [2.0, 2.0, 2.0, 9.0]
    assert values.data[1, 1, :, 0].tolist() == [-1.0, -1.0, -1.0, -9.0]
    cache.advance()
    assert cache.seq_len == cache.seq_pos == 4
    cache.reset()
    assert cache.seq_len == 0 and cache.get(0)[0].shape[2] == 0


@pytest.mark.parametrize("layer", [-1, LAYERS, 99])
def test_a_bad_layer_index_is_a_clear_error(layer: int) -> None:
    cache = KVCache(1, 4, LAYERS, HEADS, HEAD_DIM)
    with pytest.raises(IndexError, match=f"no layer {layer}"):
        cache.update(layer, _kv(1, 1, 0.0), _kv(1, 1, 0.0))
    with pytest.raises(IndexError, match="fix:"):
        cache.get(layer)


def test_overflowing_max_seq_len_is_a_clear_error_and_changes_nothing() -> None:
    cache = KVCache(1, 4, LAYERS, HEADS, HEAD_DIM)
    cache.update(0, _kv(1, 3, 1.0), _kv(1, 3, 1.0))
    cache.advance(3)
    with pytest.raises(ShapeError, match="holds 3 of 4 positions and was asked for 2 more"):
        cache.update(0, _kv(1, 2, 5.0), _kv(1, 2, 5.0))
    with pytest.raises(ShapeError, match="max_seq_len"):
        cache.advance(2)
    assert cache.seq_len == 3
    assert cache.get(0)[0].data[0, 0, :, 0].tolist() == [1.0, 1.0, 1.0]


def test_wrong_key_shapes_are_refused() -> None:
    cache = KVCache(1, 4, LAYERS, HEADS, HEAD_DIM)
    with pytest.raises(ShapeError, match="batch_size, num_heads, n_new, head_dim"):
        cache.update(0, np.zeros((1, HEADS + 1, 1, HEAD_DIM)), np.zeros((1, HEADS + 1, 1,
                                                                            HEAD_DIM)))


def test_memory_usage_is_the_real_bytes_of_the_buffers() -> None:
    cache = KVCache(3, 10, LAYERS, HEADS, HEAD_DIM)
    usage = cache.get_memory_usage()
    real = cache.keys.nbytes + cache.values.nbytes
    assert usage["total_bytes"] == real == 2 * LAYERS * 3 * HEADS * 10 * HEAD_DIM * 4
    assert usage["per_layer_bytes"] * LAYERS == real
    assert usage["total_mb"] == real / 2**20
    assert usage["used_bytes"] == 0
    cache.advance(5)
    assert cache.get_memory_usage()["used_bytes"] == real // 2


def test_enable_kv_cache_sets_the_attribute_generate_reuses() -> None:
    model = _gpt()
    cache = enable_kv_cache(model, batch_size=2)
    assert model.kv_cache is cache and model._kv_cache is cache and model._cache_enabled
    assert (cache.batch_size, cache.max_seq_len, cache.num_layers, cache.num_heads,
            cache.head_dim) == (2, 16, LAYERS, HEADS, HEAD_DIM)
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    model.generate(prompt, max_new_tokens=5, temperature=0)
    assert cache.seq_len == 3 + 5 - 1            # prefill, then one position per new token
    assert "generate" not in vars(model)          # no method was replaced
    disable_kv_cache(model)
    assert model.kv_cache is None and not model._cache_enabled


def test_kv_cache_bytes_predicts_what_the_cache_allocates() -> None:
    model = _gpt(max_seq_len=12)
    for batch in (1, 3):
        assert kv_cache_bytes(model, batch) == \
            enable_kv_cache(model, batch).get_memory_usage()["total_bytes"]
    assert kv_cache_bytes(model, 1, seq_len=6) == kv_cache_bytes(model) // 2


@pytest.mark.parametrize("model, reason", [
    (Sequential(Linear(2, 2)), "no attention layers"),
    (TransformerBlock(8, 2), "attention but no generation loop"),
    (MultiHeadAttention(8, 2), "attention but no generation loop"),
    ("gpt", "not a tinytorch Module"),
])
def test_models_that_cannot_use_a_cache_get_a_clear_error(model: object, reason: str) -> None:
    for fn in (enable_kv_cache, disable_kv_cache, kv_cache_bytes):
        with pytest.raises(TypeError, match=reason):
            fn(model)


def test_compare_generation_measures_both_paths_and_checks_the_tokens() -> None:
    report = compare_generation(_gpt(), np.array([1, 2, 3]), max_new_tokens=8, repeats=1)
    assert report["same_tokens"] is True
    assert report["uncached_s"] > 0 and report["cached_s"] > 0
    assert report["speedup"] == report["uncached_s"] / report["cached_s"]
    assert report["cache_bytes"] == kv_cache_bytes(_gpt())
