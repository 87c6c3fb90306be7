"""``tinytorch.bench``: the course's short name for the benchmarking module (module 19)."""

from __future__ import annotations

from tinytorch.perf.benchmarking import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSuite,
    MLPerf,
    MLPerfReport,
    MLPerfTask,
    accuracy_quality,
    environment,
    pareto_frontier,
    precise_timer,
)

__all__ = ["Benchmark", "BenchmarkResult", "BenchmarkSuite", "MLPerf", "MLPerfReport",
           "MLPerfTask", "accuracy_quality", "environment", "pareto_frontier", "precise_timer"]
