"""Submissions (module 20): measure a model and submit numbers anyone can check.

A ``BenchmarkReport`` measures one model on labelled test data: real bytes of its state,
parameter count, accuracy, latency (median, p90, 95% confidence interval) and throughput, with
the environment it ran in. ``generate_submission`` turns a baseline report (and optionally an
optimized one) into a JSON-ready submission with the improvements computed from the
measurements (speedup, compression ratio, accuracy change); ``validate_submission`` checks a
submission against ``SUBMISSION_SCHEMA`` and names every field that is missing or mistyped;
``save_submission`` writes it atomically. ``SubmissionHarness`` does all three in one call.

Example:
    >>> import numpy as np
    >>> from tinytorch.core.layers import Linear
    >>> x, y = np.eye(4, dtype=np.float32), np.arange(4)
    >>> report = BenchmarkReport("linear").benchmark_model(Linear(4, 4), x, y, num_runs=3)
    >>> report["parameters"], report["model_bytes"]
    (20, 80)
    >>> validate_submission(generate_submission(report))
    True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from tinytorch.core.errors import ConfigError, explain
from tinytorch.core.serialization import atomic_write_text
from tinytorch.core.tensor import Tensor
from tinytorch.perf.benchmarking import Benchmark, BenchmarkResult, environment

__all__ = ["SUBMISSION_SCHEMA", "BenchmarkReport", "SubmissionError", "SubmissionHarness",
           "generate_submission", "save_submission", "validate_submission"]

SCHEMA_VERSION = 1

METRICS_SCHEMA: dict[str, Any] = {
    "model_name": str, "parameters": int, "model_bytes": int, "accuracy": float,
    "samples": int, "latency_ms_median": float, "latency_ms_p90": float,
    "latency_ms_ci95": [float], "throughput_samples_per_s": float,
}
SUBMISSION_SCHEMA: dict[str, Any] = {
    "schema_version": int, "submission_name": str, "created_utc": str,
    "techniques_applied": [str],
    "system": {"cpu": str, "cpu_count": int, "platform": str, "python": str, "numpy": str},
    "baseline": METRICS_SCHEMA,
    "optimized": (METRICS_SCHEMA, None),
    "improvements": ({"speedup": float, "compression_ratio": float,
                      "accuracy_delta": float}, None),
}


class SubmissionError(ConfigError):
    """A submission does not follow ``SUBMISSION_SCHEMA``; the message lists every problem."""


def _state_bytes(model: Any) -> tuple[int, int]:
    """(number of stored values, bytes) of a model's state dict: what a saved file holds."""
    state = model.state_dict() if hasattr(model, "state_dict") else {}
    arrays = [np.asarray(v) for v in state.values()]
    return int(sum(a.size for a in arrays)), int(sum(a.nbytes for a in arrays))


class BenchmarkReport:
    """Measures models for a submission: size, accuracy, latency and throughput.

    Args:
        model_name: the name the report and the submission carry.
        warmup_runs: untimed forward passes before each timing.
    """

    def __init__(self, model_name: str = "model", warmup_runs: int = 5) -> None:
        self.model_name = model_name
        self.warmup_runs = warmup_runs
        self.system_info = environment()
        self.results: dict[str, Any] = {}

    def benchmark_model(self, model: Any, X_test: Any, y_test: Any,  # noqa: N803 (course names)
                        num_runs: int = 20, batch_size: int = 64) -> dict[str, Any]:
        """Measure ``model`` on ``(X_test, y_test)``; return (and keep) the metrics.

        Latency is one sample per forward pass; throughput uses batches of ``batch_size``.
        """
        bench = Benchmark({self.model_name: model}, [(X_test, y_test)],
                          warmup_runs=self.warmup_runs, measurement_runs=num_runs)
        accuracy, samples = bench.accuracy(model)
        single = BenchmarkResult("latency", bench.time_forward(model, bench.sample_input()))
        batch = bench.sample_input(batch_size=batch_size)
        offline = BenchmarkResult("batch", bench.time_forward(model, batch))
        parameters, model_bytes = _state_bytes(model)
        self.results = {
            "model_name": self.model_name, "parameters": parameters, "model_bytes": model_bytes,
            "accuracy": float(accuracy), "samples": samples,
            "latency_ms_median": single.median * 1e3, "latency_ms_p90": single.p90 * 1e3,
            "latency_ms_ci95": [single.ci_lower * 1e3, single.ci_upper * 1e3],
            "throughput_samples_per_s": len(batch.data) / offline.median,
        }
        return self.results


def _improvements(baseline: Mapping[str, Any], optimized: Mapping[str, Any]) -> dict[str, float]:
    return {
        "speedup": baseline["latency_ms_median"] / optimized["latency_ms_median"],
        "compression_ratio": baseline["model_bytes"] / optimized["model_bytes"],
        "accuracy_delta": optimized["accuracy"] - baseline["accuracy"],
    }


def generate_submission(baseline_report: Mapping[str, Any],
                        optimized_report: Mapping[str, Any] | None = None,
                        submission_name: str | None = None,
                        techniques_applied: Sequence[str] = ()) -> dict[str, Any]:
    """A submission built from measured reports; the improvements are computed, not claimed.

    Args:
        baseline_report: the metrics of ``BenchmarkReport.benchmark_model`` for the baseline.
        optimized_report: the same for the optimized model, if there is one.
        submission_name: defaults to the baseline's model name.
        techniques_applied: what was done to get from baseline to optimized.
    """
    env = environment()
    return {
        "schema_version": SCHEMA_VERSION,
        "submission_name": submission_name or str(baseline_report.get("model_name", "model")),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "techniques_applied": list(techniques_applied),
        "system": {key: env[key] for key in ("cpu", "cpu_count", "platform", "python", "numpy")}
                  | {"blas": env["blas"]},
        "baseline": dict(baseline_report),
        "optimized": dict(optimized_report) if optimized_report is not None else None,
        "improvements": (_improvements(baseline_report, optimized_report)
                         if optimized_report is not None else None),
    }


def _type_name(expected: Any) -> str:
    if isinstance(expected, tuple):
        return " or ".join(_type_name(option) for option in expected)
    if expected is None:
        return "null"
    if isinstance(expected, list):
        return f"list of {_type_name(expected[0])}"
    if isinstance(expected, dict):
        return "object"
    return "number" if expected is float else expected.__name__


def _matches(value: Any, expected: Any) -> bool:
    if expected is None:
        return value is None
    if isinstance(expected, (tuple, list, dict)):
        return {tuple: lambda: any(_matches(value, e) for e in expected),
                list: lambda: isinstance(value, list),
                dict: lambda: isinstance(value, dict)}[type(expected)]()
    if expected is float:  # JSON has one number type: an int is a valid number
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, expected) and not (expected is int and isinstance(value, bool))


def _problems(value: Any, expected: Any, path: str) -> list[str]:
    """Every way ``value`` at ``path`` departs from ``expected``."""
    if isinstance(expected, tuple):  # alternatives: report against the one of matching kind
        for option in expected:
            if _matches(value, option):
                return _problems(value, option, path)
        return [f"{path}: expected {_type_name(expected)}, got {type(value).__name__}"]
    if not _matches(value, expected):
        return [f"{path}: expected {_type_name(expected)}, got {type(value).__name__}"]
    if isinstance(expected, dict):
        found = []
        for key, sub in expected.items():
            if key not in value:
                found.append(f"{path}.{key}: missing (expected {_type_name(sub)})")
            else:
                found += _problems(value[key], sub, f"{path}.{key}")
        return found
    if isinstance(expected, list):
        return [p for i, item in enumerate(value)
                for p in _problems(item, expected[0], f"{path}[{i}]")]
    return []


def validate_submission(submission: Any) -> bool:
    """True when ``submission`` follows ``SUBMISSION_SCHEMA``; else a ``SubmissionError``.

    Raises:
        SubmissionError: listing every missing or mistyped field by its path
            (``submission.baseline.accuracy: expected number, got str``).
    """
    problems = _problems(submission, SUBMISSION_SCHEMA, "submission")
    if isinstance(submission, dict) and submission.get("schema_version") not in (None,
                                                                                 SCHEMA_VERSION):
        problems.append(f"submission.schema_version: expected {SCHEMA_VERSION}, "
                        f"got {submission['schema_version']!r}")
    if problems:
        raise SubmissionError(explain(
            what="the submission does not follow the schema:\n    " + "\n    ".join(problems),
            why="a submission is compared field by field with others, so every field must exist "
                "with its type",
            fix="build it with generate_submission() from BenchmarkReport results",
        ))
    return True


def save_submission(submission: Mapping[str, Any], filepath: str | os.PathLike[str]) -> str:
    """Validate, then write ``submission`` as JSON atomically; return the path written."""
    validate_submission(dict(submission))
    atomic_write_text(filepath, json.dumps(submission, indent=2) + "\n")
    return os.fspath(filepath)


class SubmissionHarness:
    """Benchmark a baseline (and an optimized model), then build, validate and save a submission.

    Args:
        X_test, y_test: the labelled test data every model is measured on.
        name: the submission's name.
        num_runs: timed forward passes per latency measurement.
    """

    def __init__(self, X_test: Any, y_test: Any, name: str = "submission",  # noqa: N803
                 num_runs: int = 20) -> None:
        self.x = X_test.data if isinstance(X_test, Tensor) else np.asarray(X_test)
        self.y = np.asarray(y_test.data if isinstance(y_test, Tensor) else y_test)
        self.name, self.num_runs = name, num_runs

    def run(self, baseline: Any, optimized: Any | None = None,
            techniques_applied: Sequence[str] = (),
            filepath: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Measure both models on the same data; return the (saved, when asked) submission."""
        base = BenchmarkReport(f"{self.name}-baseline").benchmark_model(
            baseline, self.x, self.y, self.num_runs)
        best = None if optimized is None else BenchmarkReport(f"{self.name}-optimized") \
            .benchmark_model(optimized, self.x, self.y, self.num_runs)
        submission = generate_submission(base, best, self.name, techniques_applied)
        validate_submission(submission)
        if filepath is not None:
            save_submission(submission, filepath)
        return submission
