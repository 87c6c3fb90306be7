"""The systems modules: profiling, quantization, compression, acceleration, memoization, benchmarks.

Importing this package changes nothing; each tool is switched on by calling it.
"""

from __future__ import annotations

from tinytorch.perf.allocator import allocator_tuned, tune_allocator
from tinytorch.perf.benchmarking import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSuite,
    MLPerf,
    MLPerfTask,
)

__all__ = ["allocator_tuned", "tune_allocator"]
__all__ += ["Benchmark", "BenchmarkResult", "BenchmarkSuite", "MLPerf", "MLPerfTask"]

# --- compression (module 16) ---
from tinytorch.perf.compression import (  # noqa: E402
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

__all__ += ["CSRMatrix", "Compressor", "KnowledgeDistillation", "LowRankLinear", "SparseLinear",
            "compress_model", "low_rank_approximate", "magnitude_prune", "measure_sparsity",
            "remove_pruning", "structured_prune"]
