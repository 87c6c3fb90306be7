"""The systems modules: profiling, quantization, compression, acceleration, memoization, benchmarks.

Importing this package changes nothing; each tool is switched on by calling it.
"""

from __future__ import annotations

from tinytorch.perf.allocator import allocator_tuned, tune_allocator
from tinytorch.perf.profiling import LatencyStats, Profiler, profile

__all__ = ["allocator_tuned", "tune_allocator"]
__all__ += ["LatencyStats", "Profiler", "profile"]
