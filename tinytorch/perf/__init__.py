"""The systems modules: profiling, quantization, compression, acceleration, memoization, benchmarks.

Importing this package changes nothing; each tool is switched on by calling it (the allocator
policy is applied by ``import tinytorch`` itself, see ``allocator.apply_default_policy``).
"""

from __future__ import annotations

from tinytorch.perf.allocator import allocator_tuned, tune_allocator

__all__ = ["allocator_tuned", "tune_allocator"]
