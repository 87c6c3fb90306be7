"""The systems modules: profiling, quantization, compression, acceleration, memoization, benchmarks.

Importing this package changes nothing; each tool is switched on by calling it (the allocator
policy is applied by ``import tinytorch`` itself, see ``allocator.apply_default_policy``).
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
from tinytorch.perf.benchmarking import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSuite,
    MLPerf,
    MLPerfTask,
)
from tinytorch.perf.compression import (
    Compressor,
    CSRMatrix,
    KnowledgeDistillation,
    LowRankLinear,
    SparseLinear,
    compress_model,
    low_rank_approximate,
    magnitude_prune,
    measure_sparsity,
    remove_pruning,
    structured_prune,
)
from tinytorch.perf.memoization import KVCache, disable_kv_cache, enable_kv_cache
from tinytorch.perf.profiling import LatencyStats, Profiler, profile
from tinytorch.perf.quantization import (
    MinMaxObserver,
    PercentileObserver,
    QuantizationReport,
    QuantizedConv2d,
    QuantizedLinear,
    Quantizer,
    compare_model_sizes,
    dequantize_int8,
    quantize_int8,
    quantize_model,
)

__all__ = ["allocator_tuned", "tune_allocator"]
__all__ += ["Benchmark", "BenchmarkResult", "BenchmarkSuite", "MLPerf", "MLPerfTask"]
__all__ += ["MinMaxObserver", "PercentileObserver", "QuantizationReport", "QuantizedConv2d",
            "QuantizedLinear", "Quantizer", "compare_model_sizes", "dequantize_int8",
            "quantize_int8", "quantize_model"]
__all__ += ["LatencyStats", "Profiler", "profile"]
__all__ += ["Accelerator", "GradScaler", "KVCache", "MixedPrecisionModel", "MixedPrecisionTrainer",
            "checkpoint", "checkpoint_sequential", "disable_kv_cache", "enable_kv_cache",
            "fused_gelu", "tiled_matmul", "unfused_gelu", "vectorized_matmul"]
__all__ += ["CSRMatrix", "Compressor", "KnowledgeDistillation", "LowRankLinear", "SparseLinear",
            "compress_model", "low_rank_approximate", "magnitude_prune", "measure_sparsity",
            "remove_pruning", "structured_prune"]
