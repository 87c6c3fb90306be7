"""The speed suite: fixed workloads timed in tinytorch, PyTorch and raw NumPy in one process.

Run it with ``python -m benchmarks`` (or ``make bench``); ``benchmarks.harness`` explains how
it measures and how to add a workload.
"""
