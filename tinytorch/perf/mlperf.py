"""A TinyMLPerf-style suite: fixed tasks, quality targets that are checked, two divisions.

Each ``MLPerfTask`` names a reference model, a quality measure computed on held-out data
(accuracy, or a validation loss), the target the quality must reach, and the inputs of two
scenarios: *single stream* (one sample at a time: latency) and *offline* (a large batch:
throughput). A submission is a model for a task, in one of two divisions:

- **closed**: the submission must be the reference network itself: the same parameter names,
  shapes and float dtypes (only system-level changes such as a KV cache or thread settings are
  allowed). This compares implementations of one model.
- **open**: any model (quantized, pruned, distilled, ...). This compares ideas.

In both divisions a result counts only if its measured quality meets the task's target; a
submission that misses is reported as such, never scored.

Example:
    >>> import numpy as np
    >>> from tinytorch.core.layers import Linear
    >>> x, y = np.eye(3, dtype=np.float32), np.arange(3)
    >>> reference = Linear(3, 3)
    >>> reference.weight.data[...] = np.eye(3) ; reference.bias.data[...] = 0
    >>> task = MLPerfTask("identity", reference, accuracy_quality(x, y), target=0.99,
    ...                   sample=x[:1], batch=x)
    >>> MLPerf([task], warmup_runs=0, measurement_runs=2).run().rows[0]["target_met"]
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core.errors import ConfigError, explain
from tinytorch.core.tensor import Tensor
from tinytorch.perf.measurement import Benchmark, _as_array, _bytes_of_state, environment
from tinytorch.perf.statistics import BenchmarkResult

__all__ = ["MLPerf", "MLPerfReport", "MLPerfTask", "accuracy_quality", "DIVISIONS"]

DIVISIONS = ("closed", "open")


def accuracy_quality(inputs: Any, labels: Any) -> Callable[[Any], float]:
    """A quality measure: the fraction of ``labels`` a model's argmax gets right on ``inputs``."""
    x, y = _as_array(inputs), _as_array(labels).astype(np.int64)

    def accuracy(model: Any) -> float:
        return Benchmark([model], [(x, y)], warmup_runs=0, measurement_runs=1).accuracy(model)[0]

    return accuracy


@dataclass
class MLPerfTask:
    """One benchmark task: a reference model, its quality measure and target, its inputs.

    Args:
        name: the task's name, e.g. ``"digits-mlp"``.
        reference: the reference model (the closed division's network).
        quality: model -> quality score, measured on held-out data.
        target: the score a submission must reach.
        sample: one input for the single-stream (latency) scenario.
        batch: a batch of inputs for the offline (throughput) scenario.
        higher_is_better: False for losses (the score must be at most the target).
        quality_name: how the score is labelled in reports.
    """

    name: str
    reference: Any
    quality: Callable[[Any], float]
    target: float
    sample: Any
    batch: Any
    higher_is_better: bool = True
    quality_name: str = "accuracy"

    def meets(self, score: float) -> bool:
        """True when ``score`` reaches the target in the task's direction."""
        return score >= self.target if self.higher_is_better else score <= self.target


def _tensor(inputs: Any) -> Tensor:
    return inputs if isinstance(inputs, Tensor) else Tensor(_as_array(inputs))


def _signature(model: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    state = model.state_dict() if hasattr(model, "state_dict") else {}
    return {k: (np.shape(v), np.asarray(v).dtype.kind) for k, v in state.items()}


def closed_division_problem(task: MLPerfTask, model: Any) -> str | None:
    """Why ``model`` may not enter the closed division of ``task`` (None when it may)."""
    if model is task.reference:
        return None
    mine, theirs = _signature(model), _signature(task.reference)
    if mine.keys() != theirs.keys():
        extra, missing = sorted(mine.keys() - theirs.keys()), sorted(theirs.keys() - mine.keys())
        return f"its parameters differ from the reference's (extra {extra}, missing {missing})"
    for key, (shape, kind) in mine.items():
        if (shape, kind) != theirs[key]:
            return f"{key} is {shape} of kind {kind!r}, the reference's is {theirs[key]}"
    return None


class MLPerfReport:
    """The rows of one MLPerf run, with the environment; ``passed`` when every target is met."""

    def __init__(self, rows: list[dict[str, Any]], env: dict[str, Any]) -> None:
        self.rows, self.environment = rows, env

    @property
    def passed(self) -> bool:
        """True when every submission met its task's quality target."""
        return all(row["target_met"] for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready rows and environment."""
        return {"rows": self.rows, "environment": self.environment, "passed": self.passed}

    def table(self) -> str:
        """A Markdown table of the run."""
        lines = ["| task | division | submission | quality | target | met | latency p50 (ms) "
                 "| latency p90 (ms) | throughput (samples/s) | bytes |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            sign = ">=" if r["higher_is_better"] else "<="
            lines.append(
                f"| {r['task']} | {r['division']} | {r['submission']} | {r['quality_name']} "
                f"{r['quality']:.4g} | {sign} {r['target']:.4g} | "
                f"{'yes' if r['target_met'] else 'NO'} | {r['latency_p50_s'] * 1e3:.3f} | "
                f"{r['latency_p90_s'] * 1e3:.3f} | {r['throughput']:,.0f} | {r['bytes']:,} |")
        return "\n".join(lines)


class MLPerf:
    """Run submissions against tasks: quality first, then single-stream and offline timings.

    Args:
        tasks: the ``MLPerfTask``s of the suite.
        warmup_runs, measurement_runs: as for ``Benchmark``.
    """

    def __init__(self, tasks: Sequence[MLPerfTask] = (), warmup_runs: int = 3,
                 measurement_runs: int = 10) -> None:
        self.tasks = {task.name: task for task in tasks}
        self.warmup_runs, self.measurement_runs = warmup_runs, measurement_runs

    def add_task(self, task: MLPerfTask) -> None:
        """Add ``task`` to the suite."""
        self.tasks[task.name] = task

    def _task(self, name: str) -> MLPerfTask:
        if name not in self.tasks:
            raise ConfigError(explain(
                what=f"no MLPerf task named {name!r} (tasks: {sorted(self.tasks)})",
                why="a submission is measured against the task it names",
                fix="use one of the task names, or add_task() first",
            ))
        return self.tasks[name]

    def evaluate(self, task_name: str, model: Any, division: str = "closed",
                 submission: str = "reference") -> dict[str, Any]:
        """Measure one submission: quality vs target, latency (batch 1), throughput (batch)."""
        task = self._task(task_name)
        if division not in DIVISIONS:
            raise ConfigError(explain(
                what=f"unknown division {division!r}",
                why=f"MLPerf has the divisions {DIVISIONS}",
                fix="use 'closed' for the reference network, 'open' for any other model",
            ))
        problem = closed_division_problem(task, model) if division == "closed" else None
        if problem is not None:
            raise ConfigError(explain(
                what=f"{submission!r} cannot enter the closed division of {task.name}: {problem}",
                why="the closed division compares implementations of the reference network",
                fix="submit it to division='open'",
            ))
        score = float(task.quality(model))
        bench = Benchmark([model], warmup_runs=self.warmup_runs,
                          measurement_runs=self.measurement_runs)
        single = BenchmarkResult(f"{submission}_latency",
                                 bench.time_forward(model, _tensor(task.sample)))
        batch = _tensor(task.batch)
        offline = BenchmarkResult(f"{submission}_offline", bench.time_forward(model, batch))
        return {"task": task.name, "division": division, "submission": submission,
                "quality_name": task.quality_name, "quality": score, "target": task.target,
                "higher_is_better": task.higher_is_better, "target_met": task.meets(score),
                "latency_p50_s": single.median, "latency_p90_s": single.p90,
                "latency_ci_95_s": [single.ci_lower, single.ci_upper],
                "throughput": len(batch.data) / offline.median,
                "bytes": _bytes_of_state(model)}

    def run(self, submissions: Mapping[str, Sequence[tuple[str, Any, str]]] | None = None
            ) -> MLPerfReport:
        """Every task's reference (closed division), plus ``submissions``.

        Args:
            submissions: task name -> list of (submission name, model, division).
        """
        rows = [self.evaluate(name, task.reference) for name, task in self.tasks.items()]
        for task_name, entries in (submissions or {}).items():
            for submission, model, division in entries:
                rows.append(self.evaluate(task_name, model, division, submission))
        return MLPerfReport(rows, environment())
