"""Memoization (module 18): keep the keys and values of past tokens instead of recomputing them.

Generating token t without a cache runs the whole context, t tokens, through every layer again,
although the keys and values of the first t - 1 tokens cannot have changed. A KV cache stores
them: ``GPT.generate(use_cache=True)`` runs the prompt once (prefill) and then feeds only the
newest token, which attends over the cached keys and values. Per step the projections and MLPs
cost O(1) tokens instead of O(t), and attention O(t) instead of O(t^2).

There is one cache class in the project, ``KVCache``, defined in ``tinytorch.core.attention``
beside the attention that uses it (core never imports perf) and re-exported here. This module
owns the switch and the accounting:

- ``enable_kv_cache(model)`` gives the model a persistent cache (``model.kv_cache``, the
  attribute ``generate`` reuses) and returns it; ``disable_kv_cache(model)`` removes it. No
  method is replaced: without a persistent cache, ``generate(use_cache=True)`` allocates a
  fresh one per call, and ``use_cache=False`` always recomputes.
- ``kv_cache_bytes`` predicts the buffers' size, 2 * layers * batch * heads * max_seq_len *
  head_dim * 4 bytes, which ``KVCache.get_memory_usage()`` reports from the real arrays.
- ``compare_generation`` times both strategies on one prompt and checks that they agree.

When the context is full (prompt + generated tokens > max_seq_len) generation crops to the last
max_seq_len tokens. Positions then shift every step, so the cached keys (computed at the old
positions) no longer apply; ``generate`` falls back to recomputing the window, exactly as the
uncached path does, and both give the same tokens.

Example:
    >>> from tinytorch.core.transformer import GPT
    >>> model = GPT(vocab_size=10, embed_dim=8, num_layers=2, num_heads=2, max_seq_len=16)
    >>> cache = enable_kv_cache(model)
    >>> cache.get_memory_usage()["total_bytes"] == kv_cache_bytes(model)
    True
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tinytorch.core.attention import KVCache, MultiHeadAttention
from tinytorch.core.errors import ConfigError, explain
from tinytorch.core.layers import Module

_BYTES_PER_FLOAT32 = 4


def _check_generator(model: Any, who: str) -> None:
    """The model must offer what generate() uses: ``make_cache`` and a ``kv_cache`` slot."""
    if callable(getattr(model, "make_cache", None)) and hasattr(model, "kv_cache"):
        return
    if not isinstance(model, Module):
        why = f"{type(model).__name__} is not a tinytorch Module"
    elif not any(isinstance(m, MultiHeadAttention) for m in model.modules()):
        why = f"{type(model).__name__} has no attention layers, so it has no keys and values " \
              "to cache"
    else:
        why = f"{type(model).__name__} has attention but no generation loop that reads a " \
              "cache (no make_cache() / kv_cache)"
    raise TypeError(explain(
        what=f"{who} got a {type(model).__name__}",
        why=why + "; the cache serves the autoregressive generate() of a GPT",
        fix="pass a tinytorch GPT, or call MultiHeadAttention.forward(x, cache=KVCache(...), "
            "layer_idx=i) yourself",
    ))


def enable_kv_cache(model: Any, batch_size: int = 1) -> KVCache:
    """Give ``model`` a persistent KV cache that ``generate`` reuses; return it.

    The cache is sized from the model (layers, heads, head_dim, max_seq_len) for
    ``batch_size`` sequences. ``generate`` empties it at the start of every call; a call with
    another batch size allocates a temporary cache of its own instead.

    Raises:
        TypeError: the model has no attention layers or no cache-aware ``generate``.
        ValueError: ``batch_size`` is not a positive integer.
    """
    _check_generator(model, "enable_kv_cache")
    cache: KVCache = model.make_cache(batch_size)
    model.kv_cache = cache
    model._kv_cache, model._cache_enabled = cache, True     # upstream's attribute names
    return cache


def disable_kv_cache(model: Any) -> None:
    """Drop the persistent cache (its memory is freed). ``generate(use_cache=False)`` recomputes.

    Raises:
        TypeError: the model is not one ``enable_kv_cache`` accepts.
    """
    _check_generator(model, "disable_kv_cache")
    model.kv_cache = None
    model._kv_cache, model._cache_enabled = None, False


def kv_cache_bytes(model: Any, batch_size: int = 1, seq_len: int | None = None) -> int:
    """Bytes of a float32 KV cache for ``model``: 2 * L * B * H * S * head_dim * 4.

    Args:
        model: a GPT (anything with num_layers, num_heads, embed_dim, max_seq_len).
        batch_size: sequences generated together.
        seq_len: positions held (default: the model's max_seq_len, what the cache allocates).

    Example:
        >>> from tinytorch.core.transformer import GPT
        >>> kv_cache_bytes(GPT(10, 8, num_layers=2, num_heads=2, max_seq_len=16))
        2048
    """
    _check_generator(model, "kv_cache_bytes")
    length = model.max_seq_len if seq_len is None else seq_len
    if batch_size < 1 or length < 0:
        raise ConfigError(explain(
            what=f"kv_cache_bytes got batch_size={batch_size}, seq_len={seq_len}",
            why="a cache holds at least one sequence and a non-negative number of positions",
            fix="pass batch_size >= 1 and 0 <= seq_len",
        ))
    head_dim = int(model.embed_dim // model.num_heads)
    return 2 * int(model.num_layers) * batch_size * int(model.num_heads) * int(length) * \
        head_dim * _BYTES_PER_FLOAT32


def compare_generation(model: Any, prompt: Any, max_new_tokens: int = 32,
                       repeats: int = 3) -> dict[str, Any]:
    """Time greedy generation with and without the cache, and check they give the same tokens.

    Returns:
        ``uncached_s`` and ``cached_s`` (median seconds), ``speedup`` (their ratio),
        ``same_tokens`` (bool) and ``cache_bytes`` (of the cache the cached runs used).
    """
    _check_generator(model, "compare_generation")
    times: dict[bool, list[float]] = {False: [], True: []}
    tokens: dict[bool, np.ndarray] = {}
    for _ in range(repeats):
        for use_cache in (False, True):          # alternate, so drift hits both alike
            start = time.perf_counter()
            out = model.generate(prompt, max_new_tokens=max_new_tokens, temperature=0,
                                 use_cache=use_cache)
            times[use_cache].append(time.perf_counter() - start)
            tokens[use_cache] = out.data
    uncached, cached = float(np.median(times[False])), float(np.median(times[True]))
    batch = 1 if np.ndim(tokens[True]) == 1 else tokens[True].shape[0]
    return {"uncached_s": uncached, "cached_s": cached, "speedup": uncached / cached,
            "same_tokens": bool(np.array_equal(tokens[False], tokens[True])),
            "cache_bytes": kv_cache_bytes(model, batch)}


__all__ = ["KVCache", "compare_generation", "disable_kv_cache", "enable_kv_cache",
           "kv_cache_bytes"]
