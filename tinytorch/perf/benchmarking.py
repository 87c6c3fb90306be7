"""Benchmarking (module 19): measure models fairly, report distributions, never invent a number.

The pieces, each in its own file and all importable from here:

- ``BenchmarkResult`` (``perf/statistics.py``): every measurement of one metric with its mean,
  median, spread, percentiles, 95% Student-t confidence interval and outliers.
- ``Benchmark`` (``perf/measurement.py``): latency, throughput, accuracy on the labelled data
  it is given, and memory, for several models measured the same way, with the environment.
- ``BenchmarkSuite`` (here): every metric for every model, written as JSON and Markdown and,
  with matplotlib, a latency-vs-accuracy plot marking the Pareto frontier (the models no other
  model beats on both).
- ``MLPerf`` (``perf/mlperf.py``): fixed tasks with quality targets that are checked, in a
  closed and an open division.

Example:
    >>> import numpy as np
    >>> from tinytorch.core.layers import Linear
    >>> x, y = np.eye(4, dtype=np.float32), np.arange(4)
    >>> suite = BenchmarkSuite({"linear": Linear(4, 4)}, [(x, y)], warmup_runs=0,
    ...                        measurement_runs=2)
    >>> sorted(suite.run_full_benchmark())
    ['accuracy', 'latency', 'memory', 'throughput']
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tinytorch.perf.measurement import Benchmark, Timer, environment, precise_timer
from tinytorch.perf.mlperf import MLPerf, MLPerfReport, MLPerfTask, accuracy_quality
from tinytorch.perf.statistics import BenchmarkResult, t_quantile

__all__ = ["Benchmark", "BenchmarkResult", "BenchmarkSuite", "MLPerf", "MLPerfReport",
           "MLPerfTask", "Timer", "accuracy_quality", "environment", "pareto_frontier",
           "plot_pareto", "precise_timer", "t_quantile"]


def pareto_frontier(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """Names of the points no other point beats: lower x (latency) and higher y (accuracy).

    Example:
        >>> pareto_frontier({"a": (10, 0.90), "b": (15, 0.95), "c": (12, 0.89)})
        ['a', 'b']
    """
    def dominated(x: float, y: float) -> bool:
        return any(ox <= x and oy >= y and (ox, oy) != (x, y) for ox, oy in points.values())

    return sorted(name for name, (x, y) in points.items() if not dominated(x, y))


class BenchmarkSuite:
    """Every metric for every model, written as JSON and Markdown (and a Pareto plot).

    Args:
        models, datasets: as for ``Benchmark``.
        output_dir: where ``save_reports`` and ``plot_pareto_frontier`` write.
        warmup_runs, measurement_runs: as for ``Benchmark``.
    """

    def __init__(self, models: Sequence[Any] | Mapping[str, Any], datasets: Sequence[Any],
                 output_dir: str | os.PathLike[str] = "benchmark_results",
                 warmup_runs: int = 5, measurement_runs: int = 10) -> None:
        self.benchmark = Benchmark(models, datasets, warmup_runs, measurement_runs)
        self.output_dir = Path(output_dir)

    @property
    def results(self) -> dict[str, dict[str, BenchmarkResult]]:
        """metric -> model name -> BenchmarkResult, for everything measured so far."""
        return self.benchmark.results

    def run_full_benchmark(self, batch_size: int = 64) -> dict[str, dict[str, BenchmarkResult]]:
        """Latency, throughput, accuracy and memory of every model."""
        self.benchmark.run_latency_benchmark()
        self.benchmark.run_throughput_benchmark(batch_size)
        self.benchmark.run_accuracy_benchmark()
        self.benchmark.run_memory_benchmark()
        return self.results

    def pareto_frontier(self) -> list[str]:
        """The models on the latency/accuracy Pareto frontier."""
        return pareto_frontier(self._points())

    def _points(self) -> dict[str, tuple[float, float]]:
        latency, accuracy = self.results.get("latency", {}), self.results.get("accuracy", {})
        return {n: (latency[n].median, accuracy[n].mean) for n in latency if n in accuracy}

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        return {"environment": self.benchmark.system_info,
                "results": {metric: {name: r.to_dict() for name, r in by_model.items()}
                            for metric, by_model in self.results.items()},
                "pareto_frontier": self.pareto_frontier()}

    def generate_report(self) -> str:
        """A Markdown report: one table row per model, then the environment."""
        rows = ["| model | latency median (ms) | 95% CI (ms) | throughput (samples/s) "
                "| accuracy | forward peak (KB) | state (KB) |", "|---|---|---|---|---|---|---|"]
        for name in self.benchmark.models:
            lat = self.results.get("latency", {}).get(name)
            thr = self.results.get("throughput", {}).get(name)
            acc = self.results.get("accuracy", {}).get(name)
            mem = self.results.get("memory", {}).get(name)
            rows.append("| " + " | ".join([
                name,
                f"{lat.median * 1e3:.3f}" if lat else "",
                f"[{lat.ci_lower * 1e3:.3f}, {lat.ci_upper * 1e3:.3f}]" if lat else "",
                f"{thr.median:,.0f}" if thr else "",
                f"{acc.mean:.2%} (n={acc.metadata['samples']})" if acc else "",
                f"{mem.median / 1024:.1f}" if mem else "",
                f"{mem.metadata['state_bytes'] / 1024:.1f}" if mem else "",
            ]) + " |")
        env = self.benchmark.system_info
        blas = env["blas"]
        return "\n".join([
            "# Benchmark report", "", *rows, "",
            f"Pareto frontier (latency vs accuracy): {', '.join(self.pareto_frontier()) or '-'}",
            "", f"Environment: {env['cpu']} ({env['cpu_count']} CPUs), Python {env['python']}, "
                f"NumPy {env['numpy']}, BLAS {blas['library']} {blas['version']} "
                f"({blas['threads']} threads), thread settings {env['thread_settings']}", ""])

    def save_reports(self) -> dict[str, Path]:
        """Write ``report.json`` and ``report.md`` into ``output_dir``; return their paths."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        paths = {"json": self.output_dir / "report.json", "markdown": self.output_dir / "report.md"}
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2))
        paths["markdown"].write_text(self.generate_report())
        return paths

    def plot_pareto_frontier(self, filename: str = "pareto.png") -> Path | None:
        """Save latency (x) against accuracy (y), frontier drawn; None without matplotlib."""
        return plot_pareto(self._points(), self.output_dir / filename)


def plot_pareto(points: Mapping[str, tuple[float, float]], path: str | os.PathLike[str],
                title: str = "Latency vs accuracy (red: Pareto frontier)") -> Path | None:
    """Save a latency (seconds, x) vs accuracy (y) scatter with the frontier; None without
    matplotlib (an optional extra: ``pip install tinytorch[viz]``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    frontier = set(pareto_frontier(points))
    figure, axes = plt.subplots(figsize=(6, 4))
    for name, (x, y) in points.items():
        axes.scatter(x * 1e3, y, color="tab:red" if name in frontier else "tab:gray")
        axes.annotate(name, (x * 1e3, y), textcoords="offset points", xytext=(4, 4))
    line = sorted(points[name] for name in frontier)
    axes.plot([x * 1e3 for x, _ in line], [y for _, y in line], color="tab:red", lw=1)
    axes.set_xlabel("median latency (ms)")
    axes.set_ylabel("accuracy")
    axes.set_title(title)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return target
