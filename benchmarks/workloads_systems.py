"""Systems-module workloads: KV-cache generation (module 18), tiled GEMM and fused GELU (17).

``kv_gen{128,496}_{nocache,cache}`` generate 128 and 496 greedy tokens from a 16-token prompt
with the GPT of ``workloads_gpt`` (vocabulary 65, width 128, 4 heads, 2 layers), its context
512 so that 16 + 496 tokens fit. PyTorch runs the same model, weight for weight, with its own
cache (per-layer keys and values concatenated each step). A speed-up is a ratio of two rows of
the same run: nocache median / cache median, per framework. The issue's target: tinytorch's
speed-up at least PyTorch's, i.e. tt/torch on the cache row at most tt/torch on the nocache row.
The 496-token rows time few rounds (an uncached run recomputes up to 511 positions per token).

``matmul_tiled_512`` times ``tiled_matmul`` (64 x 64 blocks) against one ``np.matmul`` (the
numpy column) on 512 x 512 float32: the price, in NumPy, of blocking by hand what BLAS already
blocks. ``gelu_fused`` / ``gelu_unfused`` run GELU forward and backward on 2M floats as one op
and as nine; PyTorch runs its own fused GELU and the same nine-op composition.

``python -m benchmarks.workloads_systems [bench-results/latest.json]`` prints the speed-ups of
a saved report.

``conv_im2col_teaching`` / ``conv_layer`` time the teaching convolution (``im2col_conv2d``,
composed of differentiable ops) against the ``Conv2d`` layer on the same numbers.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import DEFAULT_JSON, Step, Workload, optional_torch
from benchmarks.workloads_gpt import VOCAB, generation_tinytorch, generation_torch

ORDER = 40

CONTEXT, PROMPT_LEN = 512, 16
MATMUL_N, TILE = 512, 64
GELU_SHAPE = (512, 4096)
CONV_SHAPE = (32, 16, 32, 16)          # batch, in channels, out channels, image size


def _prompt() -> np.ndarray:
    return np.random.default_rng(2).integers(0, VOCAB, size=(1, PROMPT_LEN))


# --- KV-cache generation -------------------------------------------------------------------------


def _generation(new_tokens: int, use_cache: bool, rounds: int | None) -> Workload:
    how = "KV cache: prefill, then one token per step" if use_cache else \
        "no cache: the whole context recomputed per token"
    return Workload(
        name=f"kv_gen{new_tokens}_{'cache' if use_cache else 'nocache'}",
        description=f"GPT (context {CONTEXT}): {new_tokens} greedy tokens from a "
                    f"{PROMPT_LEN}-token prompt, {how}",
        make_tinytorch=lambda: generation_tinytorch(CONTEXT, _prompt(), new_tokens, use_cache),
        make_torch=lambda: generation_torch(CONTEXT, _prompt(), new_tokens, use_cache),
        rounds=rounds,
    )


# --- tiled matmul --------------------------------------------------------------------------------


def _matrices() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    shape = (MATMUL_N, MATMUL_N)
    return rng.standard_normal(shape, dtype=np.float32), rng.standard_normal(shape,
                                                                               dtype=np.float32)


def tiled_tinytorch() -> Step:
    """tinytorch: tiled_matmul, 64 x 64 blocks (512 block products)."""
    from tinytorch.perf.acceleration import tiled_matmul

    a, b = _matrices()
    return lambda: tiled_matmul(a, b, tile_size=TILE)


def tiled_numpy() -> Step:
    """NumPy: the same product as one BLAS call."""
    a, b = _matrices()
    return lambda: np.matmul(a, b)


# --- GELU ----------------------------------------------------------------------------------------


def _gelu_arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    return (rng.standard_normal(GELU_SHAPE, dtype=np.float32),
            rng.standard_normal(GELU_SHAPE, dtype=np.float32))


def _forward_backward(x: Any, g: Any, gelu: Any) -> Step:
    """GELU of x, then backward with the upstream gradient g (tinytorch or torch tensors)."""
    def step() -> Any:
        x.grad = None
        gelu(x).backward(g)
        return x.grad

    return step


def gelu_tinytorch(fused: bool) -> Step:
    from tinytorch.core.tensor import Tensor
    from tinytorch.perf.acceleration import fused_gelu, unfused_gelu

    x, g = _gelu_arrays()
    return _forward_backward(Tensor(x, requires_grad=True), Tensor(g),
                             fused_gelu if fused else unfused_gelu)


def _torch_unfused_gelu(torch: Any) -> Any:
    scale = math.sqrt(2.0 / math.pi)
    return lambda x: x * 0.5 * (torch.tanh((x + x * x * x * 0.044715) * scale) + 1.0)


def gelu_torch(fused: bool) -> Step | None:
    torch = optional_torch()
    if torch is None:
        return None
    x, g = _gelu_arrays()
    gelu = (lambda t: torch.nn.functional.gelu(t, approximate="tanh")) if fused else \
        _torch_unfused_gelu(torch)
    return _forward_backward(torch.from_numpy(x).requires_grad_(), torch.from_numpy(g), gelu)


# --- convolution: the teaching im2col composition against the Conv2d layer ----------------------


def _conv_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    n, c, o, size = CONV_SHAPE
    return (rng.standard_normal((n, c, size, size), dtype=np.float32),
            rng.standard_normal((o, c, 3, 3), dtype=np.float32) * np.float32(0.1),
            np.zeros(o, dtype=np.float32),
            rng.standard_normal((n, o, size, size), dtype=np.float32))


def conv_tinytorch(lowered: bool) -> Step:
    from tinytorch.core.spatial import Conv2d
    from tinytorch.core.tensor import Tensor
    from tinytorch.perf.acceleration import im2col_conv2d

    x, w, b, g = _conv_arrays()
    conv = Conv2d(w.shape[1], w.shape[0], 3, padding=1)
    conv.weight.data[...], conv.bias.data[...] = w, b
    forward = (lambda t: im2col_conv2d(t, conv.weight, conv.bias, padding=1)) if lowered \
        else conv
    return _forward_backward(Tensor(x, requires_grad=True), Tensor(g), forward)


def conv_torch() -> Step | None:
    torch = optional_torch()
    if torch is None:
        return None
    x, w, b, g = (torch.from_numpy(a) for a in _conv_arrays())
    w.requires_grad_()
    return _forward_backward(x.requires_grad_(), g,
                             lambda t: torch.nn.functional.conv2d(t, w, b, padding=1))


WORKLOADS = [
    _generation(128, use_cache=False, rounds=5),
    _generation(128, use_cache=True, rounds=None),
    _generation(496, use_cache=False, rounds=3),
    _generation(496, use_cache=True, rounds=5),
    Workload(
        name="matmul_tiled_512",
        description=f"{MATMUL_N}x{MATMUL_N} float32 product: tiled_matmul ({TILE}x{TILE} "
                    "blocks) vs one np.matmul",
        make_tinytorch=tiled_tinytorch,
        make_numpy=tiled_numpy,
    ),
    Workload(
        name="gelu_fused",
        description=f"GELU (tanh) forward + backward on {GELU_SHAPE}: one fused op",
        make_tinytorch=lambda: gelu_tinytorch(fused=True),
        make_torch=lambda: gelu_torch(fused=True),
    ),
    Workload(
        name="gelu_unfused",
        description=f"GELU (tanh) forward + backward on {GELU_SHAPE}: nine elementwise ops",
        make_tinytorch=lambda: gelu_tinytorch(fused=False),
        make_torch=lambda: gelu_torch(fused=False),
    ),
    Workload(
        name="conv_im2col_teaching",
        description="3x3 conv, 16->32 channels, 32 images of 16x16, forward + backward: "
                    "im2col_conv2d (patches as rows, composed ops)",
        make_tinytorch=lambda: conv_tinytorch(lowered=True),
        make_torch=conv_torch,
    ),
    Workload(
        name="conv_layer",
        description="the same convolution with the Conv2d layer (fused im2col + GEMM Function)",
        make_tinytorch=lambda: conv_tinytorch(lowered=False),
        make_torch=conv_torch,
    ),
]

# (slow row, fast row): the speed-up of each framework is slow median / fast median
PAIRS = [("kv_gen128_nocache", "kv_gen128_cache"), ("kv_gen496_nocache", "kv_gen496_cache"),
         ("gelu_unfused", "gelu_fused"), ("conv_im2col_teaching", "conv_layer")]


def speedups(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per pair of rows and framework: the speed-up (ratio of medians) and its rough spread.

    The spread is the ratio recomputed with each median moved by half its interquartile
    range in the unfavourable and the favourable direction.
    """
    rows = {row["workload"]: row for row in report["results"]}
    out = []
    for slow, fast in PAIRS:
        if slow not in rows or fast not in rows:
            continue
        entry: dict[str, Any] = {"pair": f"{slow} / {fast}"}
        for framework in ("tinytorch", "torch"):
            a, b = rows[slow]["frameworks"][framework], rows[fast]["frameworks"][framework]
            if a.get("status") != "ok" or b.get("status") != "ok":
                entry[framework] = None
                continue
            low = (a["median_s"] - a["iqr_s"] / 2) / (b["median_s"] + b["iqr_s"] / 2)
            high = (a["median_s"] + a["iqr_s"] / 2) / max(b["median_s"] - b["iqr_s"] / 2, 1e-12)
            entry[framework] = {"speedup": a["median_s"] / b["median_s"], "low": low,
                                "high": high}
        out.append(entry)
    return out


def format_speedups(report: dict[str, Any]) -> str:
    """The speed-ups as text lines, tinytorch next to PyTorch."""
    lines = []
    for entry in speedups(report):
        cells = []
        for framework in ("tinytorch", "torch"):
            value = entry[framework]
            cells.append(f"{framework} n/a" if value is None else
                         f"{framework} {value['speedup']:.1f}x "
                         f"[{value['low']:.1f}-{value['high']:.1f}]")
        lines.append(f"{entry['pair']}: " + ", ".join(cells))
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_JSON
    print(format_speedups(json.loads(path.read_text())))
