"""Modules 14-20: the claims of the systems modules, each checked by a number that can be wrong.

Profiling counts exactly; int8 is really int8 and within half a step; pruned weights stay
pruned while training goes on; tiled matmul equals matmul; the KV cache holds what was stored;
benchmark statistics equal NumPy's; a submission missing a field is rejected. Return types are
taken loosely where the course is loose (a Tensor or an ndarray, a percentage or a fraction).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..harness import arr, check, expect, expect_close, need, seeded
from ._common import train
from .transformer import _tiny_gpt


def _mlp() -> Any:
    Linear, Sequential = need("core.layers", "Linear", "Sequential")  # noqa: N806
    ReLU = need("core.activations", "ReLU")  # noqa: N806
    return Sequential(Linear(6, 5), ReLU(), Linear(5, 3))


# --- 14 profiling ------------------------------------------------------------------------------


@check("14", "Profiler.count_parameters and count_flops(Linear) are exact")
def check_profiler_counts(oracle: Any) -> None:
    Profiler = need("perf.profiling", "Profiler")  # noqa: N806
    Linear = need("core.layers", "Linear")  # noqa: N806
    profiler = Profiler()
    count = int(profiler.count_parameters(_mlp()))
    expect(count == 6 * 5 + 5 + 5 * 3 + 3, what=f"count_parameters(Linear(6,5), ReLU, "
                                                f"Linear(5,3)) = {count}",
           why="weights plus biases of both layers: 30 + 5 + 15 + 3", expected=53, actual=count,
           fix="sum p.data.size over model.parameters()")
    flops = int(profiler.count_flops(Linear(64, 32, bias=False), (8, 64)))
    expect(flops == 2 * 64 * 32 * 8,
           what=f"count_flops(Linear(64, 32, bias=False), input_shape=(8, 64)) = {flops}",
           why="each of the batch x out outputs takes in multiply-adds, 2 FLOPs each: "
               "2 * in * out * batch", expected=2 * 64 * 32 * 8, actual=flops,
           fix="count 2 * in_features * out_features per sample and multiply by the batch")


# --- 15 quantization ---------------------------------------------------------------------------


@check("15", "quantize_int8 -> real int8 codes; dequantize_int8 within half a step")
def check_quantization(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    quantize, dequantize = need("perf.quantization", "quantize_int8", "dequantize_int8")
    x = (seeded(70).standard_normal((16, 8)) * 3.0 + 1.0).astype(np.float32)
    q, scale, zero_point = quantize(Tensor(x))
    codes = arr(q)
    expect(codes.dtype == np.int8 and codes.shape == x.shape,
           what=f"quantize_int8 returned codes of dtype {codes.dtype}, shape {codes.shape}",
           why="int8 quantization stores one byte per value: a float32 array of rounded "
               "values saves nothing (the upstream course did exactly that)",
           fix="round, clip to [-128, 127] and .astype(np.int8)",
           expected=f"int8, {x.shape}", actual=f"{codes.dtype}, {codes.shape}")
    step = float(np.max(np.asarray(scale)))
    back = arr(dequantize(q, scale, zero_point)).astype(np.float64)
    error = float(np.max(np.abs(back - x)))
    expect(error <= step / 2 * (1 + 1e-3) + 1e-6,
           what=f"largest dequantization error {error:.4g} with scale {step:.4g}",
           why="rounding to the nearest of evenly spaced codes errs by at most half a step "
               "(scale / 2) inside the range", expected=f"<= {step / 2:.4g}", actual=f"{error:.4g}",
           fix="scale = (max - min) / 255 and zero_point chosen so min maps to -128; "
               "dequantize as (q - zero_point) * scale")
    used = int(codes.max()) - int(codes.min())
    expect(used >= 250, what=f"the codes span only {used + 1} of 256 levels",
           why="an affine scheme maps the data's min and max to the ends of the int8 range",
           fix="derive scale and zero_point from the tensor's own min and max")


# --- 16 compression ----------------------------------------------------------------------------


def _linears(model: Any) -> list[Any]:
    Linear = need("core.layers", "Linear")  # noqa: N806
    return [layer for layer in getattr(model, "layers", []) if isinstance(layer, Linear)]


@check("16", "magnitude_prune(model, 0.5): smallest half zeroed; zeros persist through Adam")
def check_pruning(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    MSELoss = need("core.losses", "MSELoss")  # noqa: N806
    magnitude_prune = need("perf.compression", "magnitude_prune")
    model = _mlp()
    before = [np.abs(arr(layer.weight)).copy() for layer in _linears(model)]
    model = magnitude_prune(model, sparsity=0.5) or model
    masks = [arr(layer.weight) == 0 for layer in _linears(model)]
    for i, (mask, magnitude) in enumerate(zip(masks, before, strict=True)):
        kept_min = magnitude[~mask].min() if (~mask).any() else np.inf
        expect(abs(mask.mean() - 0.5) <= 1.0 / mask.size + 1e-9
               and magnitude[mask].max() <= kept_min,
               what=f"after magnitude_prune(sparsity=0.5) layer {i} has {mask.mean():.0%} "
                    "zeros", expected="50%, the smallest magnitudes",
               actual=f"{mask.mean():.0%}", why="magnitude pruning removes the weights that "
               "matter least: the given fraction with the smallest |w|",
               fix="per layer, zero |w| below the sparsity quantile and remember that mask")
    rng = seeded(71)
    x, y = (Tensor(rng.standard_normal(s).astype(np.float32)) for s in ((10, 6), (10, 3)))
    train(model, x, lambda out: MSELoss()(out, y), steps=5, lr=0.05)
    for i, (layer, mask) in enumerate(zip(_linears(model), masks, strict=True)):
        revived = int(np.count_nonzero(arr(layer.weight)[mask]))
        expect(revived == 0, what=f"layer {i}: {revived} pruned weights became non-zero after 5 "
                                  "Adam steps", expected=0, actual=revived,
               why="a pruned model that keeps training must keep its zeros, or the promised "
                   "sparsity disappears with the first update (Adam's momentum revives them)",
               fix="keep a mask per layer and apply it in forward (weight * mask), or re-apply "
                   "it after every optimizer step")


# --- 17 acceleration ---------------------------------------------------------------------------


@check("17", "tiled_matmul(a, b, tile_size=16) == a @ b (shapes not multiples of the tile)")
def check_tiled_matmul(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    tiled_matmul = need("perf.acceleration", "tiled_matmul")
    rng = seeded(72)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in ((37, 50), (50, 29)))
    expect_close(tiled_matmul(Tensor(a), Tensor(b), tile_size=16), a.astype(np.float64) @ b,
                 what="tiled_matmul((37, 50), (50, 29), tile_size=16)", rtol=1e-4, atol=1e-4,
                 why="blocking only reorders the sums: every output is the same dot product",
                 fix="loop over row, column and inner tiles, accumulating into the output; "
                     "slice the last (partial) tile by the true size")


# --- 18 memoization ----------------------------------------------------------------------------


@check("18", "KVCache: update / advance / get return exactly the stored keys and values")
def check_kv_cache(oracle: Any) -> None:
    KVCache = need("perf.memoization", "KVCache")  # noqa: N806
    rng = seeded(73)
    cache = KVCache(1, 8, 2, 2, 4)   # batch, max_seq_len, layers, heads, head_dim
    steps = [rng.standard_normal((1, 2, n, 4)).astype(np.float32) for n in (3, 1, 1)]
    for keys in steps:
        for layer in range(2):
            cache.update(layer, keys + layer, -keys)
        cache.advance(keys.shape[2]) if _takes_argument(cache.advance) else cache.advance()
    stored = np.concatenate(steps, axis=2)
    for layer in range(2):
        k, v = cache.get(layer)
        expect_close(k, stored + layer, what=f"KVCache.get({layer}) keys after 3 + 1 + 1 "
                     "positions", why="the cache returns every position stored so far, in order",
                     fix="write new keys at seq_len:seq_len+n, read [:seq_len], advance by n")
        expect_close(v, -stored, what=f"KVCache.get({layer}) values", why="as for the keys",
                     fix="store values in their own buffer, at the same positions")
    cache.reset()
    cache.update(0, steps[1], steps[1])
    k, _ = cache.get(0)
    expect(arr(k).shape[2] == 1, what=f"after reset() and one update, get() returns "
                                      f"{arr(k).shape[2]} positions", expected=1,
           actual=arr(k).shape[2], why="reset forgets every position",
           fix="set the position counter back to 0")


def _takes_argument(method: Any) -> bool:
    import inspect

    try:
        return len(inspect.signature(method).parameters) > 0
    except (TypeError, ValueError):
        return True


@check("18", "enable_kv_cache(GPT) -> generate with the cache == without it")
def check_cached_generation(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    enable_kv_cache = need("perf.memoization", "enable_kv_cache")
    model = _tiny_gpt()
    for p in model.parameters():
        arr(p)[...] = arr(p) * 3.0
    prompt = Tensor(np.array([[1, 2, 3]]))
    plain = arr(model.generate(prompt, max_new_tokens=6, top_k=1, use_cache=False)).reshape(-1)
    enable_kv_cache(model)
    cached = arr(model.generate(prompt, max_new_tokens=6, top_k=1, use_cache=True)).reshape(-1)
    expect(np.array_equal(plain, cached), what="greedy tokens with enable_kv_cache differ",
           expected=plain.tolist(), actual=cached.tolist(),
           why="memoization must not change results: the cache only skips recomputing keys "
               "and values that are already known", fix="see the module 13 cache check")


# --- 19 benchmarking ---------------------------------------------------------------------------


@check("19", "BenchmarkResult(name, values): mean, std, median, CI equal NumPy's")
def check_benchmark_result(oracle: Any) -> None:
    BenchmarkResult = need("perf.benchmarking", "BenchmarkResult")  # noqa: N806
    values = [0.012, 0.011, 0.015, 0.013, 0.010, 0.019, 0.012]
    result = BenchmarkResult("latency", values)
    for name, want in (("mean", np.mean(values)), ("median", np.median(values))):
        expect_close(getattr(result, name), want, what=f"BenchmarkResult.{name}", rtol=1e-9,
                     why="statistics describe the measured values, nothing else",
                     fix=f"use np.{name}(values)")
    std = float(result.std)
    expect(any(np.isclose(std, np.std(values, ddof=d), rtol=1e-9) for d in (0, 1)),
           what=f"BenchmarkResult.std = {std}", expected=f"{np.std(values, ddof=1):.6g} "
           f"(ddof=1) or {np.std(values):.6g}", actual=f"{std:.6g}",
           why="the spread of the measurements", fix="use np.std(values, ddof=1)")
    low, high = float(result.ci_lower), float(result.ci_upper)
    expect(low < float(result.mean) < high and np.isclose(high - result.mean, result.mean - low),
           what=f"confidence interval [{low:.6g}, {high:.6g}] around mean {result.mean:.6g}",
           why="a confidence interval of the mean is centred on it and has positive width "
               "when the values vary", fix="mean -/+ t * std / sqrt(n)")


# --- 20 capstone -------------------------------------------------------------------------------


@check("20", "BenchmarkReport -> generate_submission -> validate_submission (missing field)")
def check_submission(oracle: Any) -> None:
    BenchmarkReport, generate, validate = need(  # noqa: N806
        "capstone", "BenchmarkReport", "generate_submission", "validate_submission")
    Linear = need("core.layers", "Linear")  # noqa: N806
    x, y = np.eye(4, dtype=np.float32), np.arange(4)
    report = BenchmarkReport("linear").benchmark_model(Linear(4, 4), x, y, num_runs=3)
    submission = generate(report)
    expect(bool(validate(submission)), what="validate_submission rejected the submission that "
                                            "generate_submission built",
           why="a generated submission follows the schema by construction",
           fix="make generate_submission fill every field validate_submission requires")
    broken = {k: v for k, v in submission.items() if k != "baseline"}
    try:
        accepted = bool(validate(broken))
    except Exception:  # raising is a rejection too (with a message, ideally)
        accepted = False
    expect(not accepted, what="validate_submission accepted a submission without 'baseline'",
           why="a submission without its measurements cannot be compared with others",
           fix="check every required field (and its type) and reject, naming what is missing")
