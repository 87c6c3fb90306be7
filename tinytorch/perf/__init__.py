"""The systems modules: profiling, quantization, compression, acceleration, memoization, benchmarks.

Importing this package changes nothing; each tool is switched on by calling it.
"""

from __future__ import annotations

from tinytorch.perf.acceleration import (
    Accelerator,
    GradScaler,
    MixedPrecisionModel,
    MixedPrecisionTrainer,
    checkpoint,
    checkpoint_sequential,
    fused_gelu,
    tiled_matmul,
    unfused_gelu,
    vectorized_matmul,
)
from tinytorch.perf.allocator import allocator_tuned, tune_allocator
from tinytorch.perf.memoization import KVCache, disable_kv_cache, enable_kv_cache

__all__ = ["allocator_tuned", "tune_allocator"]
__all__ += ["Accelerator", "GradScaler", "KVCache", "MixedPrecisionModel", "MixedPrecisionTrainer",
            "checkpoint", "checkpoint_sequential", "disable_kv_cache", "enable_kv_cache",
            "fused_gelu", "tiled_matmul", "unfused_gelu", "vectorized_matmul"]
