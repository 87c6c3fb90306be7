"""Measuring models (module 19's machinery): timers, the environment, and ``Benchmark``.

``Benchmark`` runs each model the same way: warmup runs that are thrown away, then
``measurement_runs`` timed runs (``time.perf_counter_ns``), kept as a ``BenchmarkResult`` with
its statistics and confidence interval. Accuracy is computed on the labelled data it is given,
and nowhere else; memory is the real bytes of the parameters plus the peak of the arrays a
forward pass allocates (traced with ``tracemalloc``, which NumPy reports to). Every result
carries the environment it was measured in: CPU, thread settings, NumPy and its BLAS.

Example:
    >>> import numpy as np
    >>> from tinytorch.core.layers import Linear
    >>> x, y = np.eye(4, dtype=np.float32), np.arange(4)
    >>> bench = Benchmark([Linear(4, 4)], [(x, y)], warmup_runs=1, measurement_runs=3)
    >>> bench.run_latency_benchmark()["model_0"].count
    3
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.errors import ConfigError, explain
from tinytorch.core.tensor import Tensor
from tinytorch.perf.statistics import BenchmarkResult

__all__ = ["Benchmark", "Timer", "environment", "precise_timer"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class Timer:
    """What ``precise_timer`` yields: ``elapsed`` seconds (and ``elapsed_ns``) once it exits."""

    elapsed_ns: int = 0

    @property
    def elapsed(self) -> float:
        """The measured time in seconds."""
        return self.elapsed_ns / 1e9


@contextlib.contextmanager
def precise_timer() -> Iterator[Timer]:
    """Time the block with the monotonic nanosecond clock.

    Example:
        >>> with precise_timer() as timer:
        ...     _ = sum(range(1000))
        >>> timer.elapsed > 0
        True
    """
    timer = Timer()
    start = time.perf_counter_ns()
    try:
        yield timer
    finally:
        timer.elapsed_ns = time.perf_counter_ns() - start


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> dict[str, Any]:
    try:
        from threadpoolctl import threadpool_info  # optional: reports the live thread count
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                return {"library": pool.get("internal_api"), "version": pool.get("version"),
                        "threads": pool.get("num_threads")}
    try:
        config = np.show_config(mode="dicts")  # type: ignore[func-returns-value]
    except TypeError:  # NumPy < 1.25 can only print its configuration
        config = None
    blas = config.get("Build Dependencies", {}).get("blas", {}) if config else {}
    return {"library": blas.get("name"), "version": blas.get("version"), "threads": None}


def environment() -> dict[str, Any]:
    """The machine and libraries a measurement depends on, for every report.

    Example:
        >>> sorted(environment())[:3]
        ['blas', 'cpu', 'cpu_count']
    """
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "blas": _blas(),
        "thread_settings": {name: os.environ.get(name) for name in THREAD_VARIABLES},
    }


def _as_array(value: Any) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value)


def _named(models: Sequence[Any] | Mapping[str, Any] | None) -> dict[str, Any]:
    if models is None:
        return {}
    if isinstance(models, Mapping):
        return dict(models)
    return {getattr(m, "name", None) or f"model_{i}": m for i, m in enumerate(models)}


def _batches(dataset: Any) -> Iterator[tuple[Any, Any]]:
    """(inputs, labels) pairs from an (x, y) tuple or from any iterable of such batches."""
    if isinstance(dataset, tuple) and len(dataset) == 2 and not isinstance(dataset[0], tuple):
        yield dataset
        return
    for batch in dataset:
        yield batch[0], batch[1]


def _argmax_labels(outputs: np.ndarray) -> np.ndarray:
    if outputs.ndim < 2 or outputs.shape[-1] < 2:
        raise ConfigError(explain(
            what=f"model outputs of shape {outputs.shape} cannot be read as class scores",
            why="the default prediction is the argmax over the last axis, which needs >= 2 classes",
            fix="pass predict=fn to Benchmark, mapping outputs to predicted labels",
        ))
    return outputs.argmax(axis=-1)


@contextlib.contextmanager
def _inference(model: Any) -> Iterator[None]:
    """Evaluation mode and no graph for the block; the model's own mode is restored after."""
    was_training = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            yield
    finally:
        if was_training is not None and hasattr(model, "train"):
            model.train(was_training)


def _bytes_of_state(model: Any) -> int:
    state = model.state_dict() if hasattr(model, "state_dict") else {}
    return int(sum(np.asarray(v).nbytes for v in state.values()))


class Benchmark:
    """Latency, throughput, accuracy and memory of several models, measured the same way.

    Args:
        models: the models (a list, or a dict name -> model); anything callable on a Tensor.
            Names come from the dict keys, a model's ``name`` attribute, or ``model_<i>``.
        datasets: labelled data for accuracy: ``(inputs, labels)`` pairs of arrays/Tensors, or
            iterables of such batches (a DataLoader). The first sample also feeds the timings.
        warmup_runs: untimed runs before measuring (caches, allocator, BLAS threads warm up).
        measurement_runs: timed runs kept in each ``BenchmarkResult``.
        predict: maps a batch of outputs (ndarray) to predicted labels; default argmax.

    Latencies are in seconds; throughput in samples per second; memory in bytes.
    """

    def __init__(self, models: Sequence[Any] | Mapping[str, Any] | None = None,
                 datasets: Sequence[Any] | None = None, warmup_runs: int = 5,
                 measurement_runs: int = 10,
                 predict: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if warmup_runs < 0 or measurement_runs < 1:
            raise ConfigError(explain(
                what=f"warmup_runs={warmup_runs}, measurement_runs={measurement_runs}",
                why="statistics need at least one measured run, and warmup cannot be negative",
                fix="use e.g. warmup_runs=5, measurement_runs=10",
            ))
        self.models = _named(models)
        self.datasets = list(datasets or [])
        self.warmup_runs = warmup_runs
        self.measurement_runs = measurement_runs
        self.predict = predict or _argmax_labels
        self.system_info = environment()
        self.results: dict[str, dict[str, BenchmarkResult]] = {}

    def add_model(self, name: str, model: Any) -> None:
        """Benchmark ``model`` too, under ``name``."""
        self.models[name] = model

    def sample_input(self, input_shape: tuple[int, ...] | None = None,
                     batch_size: int = 1) -> Tensor:
        """The input the timings use: real data when there is any, else seeded noise."""
        if input_shape is not None:
            noise = np.random.default_rng(0).standard_normal(input_shape)
            return Tensor(noise.astype(np.float32))
        for dataset in self.datasets:
            for inputs, _ in _batches(dataset):
                array = _as_array(inputs)
                reps = -(-batch_size // len(array))  # ceil: enough rows for the batch
                return Tensor(np.concatenate([array] * reps)[:batch_size])
        raise ConfigError(explain(
            what="the benchmark has no datasets and no input_shape was given",
            why="timings need an input: a real sample, or noise of a stated shape",
            fix="pass datasets=[(x, y)] to Benchmark, or input_shape=(1, 64) to this call",
        ))

    def time_forward(self, model: Any, x: Tensor) -> list[float]:
        """Seconds of each timed forward pass of ``model`` on ``x`` (after the warmup runs)."""
        with _inference(model):
            for _ in range(self.warmup_runs):
                model(x)
            seconds = []
            for _ in range(self.measurement_runs):
                with precise_timer() as timer:
                    model(x)
                seconds.append(timer.elapsed)
        return seconds

    def _record(self, metric: str, name: str, values: Iterable[float],
                **metadata: Any) -> BenchmarkResult:
        result = BenchmarkResult(f"{name}_{metric}", values, {**metadata, **self.system_info})
        self.results.setdefault(metric, {})[name] = result
        return result

    def run_latency_benchmark(self, input_shape: tuple[int, ...] | None = None
                              ) -> dict[str, BenchmarkResult]:
        """Seconds per forward pass of one input, per model (warmup first, then timed runs)."""
        x = self.sample_input(input_shape)
        return {name: self._record("latency", name, self.time_forward(model, x), unit="s",
                                   input_shape=list(x.shape))
                for name, model in self.models.items()}

    def run_throughput_benchmark(self, batch_size: int = 64,
                                 input_shape: tuple[int, ...] | None = None
                                 ) -> dict[str, BenchmarkResult]:
        """Samples per second for batches of ``batch_size``, per model."""
        shape = None if input_shape is None else (batch_size, *input_shape[1:])
        x = self.sample_input(shape, batch_size=batch_size)
        return {name: self._record("throughput", name,
                                   [len(x.data) / s for s in self.time_forward(model, x)],
                                   unit="samples/s", batch_size=len(x.data))
                for name, model in self.models.items()}

    def accuracy(self, model: Any) -> tuple[float, int]:
        """(fraction correct, number of samples) of ``model`` over every dataset."""
        correct = total = 0
        with _inference(model):
            for dataset in self.datasets:
                for inputs, labels in _batches(dataset):
                    predicted = self.predict(_as_array(model(Tensor(_as_array(inputs)))))
                    truth = _as_array(labels).astype(np.int64).reshape(predicted.shape)
                    correct += int((predicted == truth).sum())
                    total += int(truth.size)
        if total == 0:
            raise ConfigError(explain(
                what="accuracy was asked for, but the benchmark has no labelled samples",
                why="accuracy is measured on real labelled data, never assumed",
                fix="pass datasets=[(inputs, labels)] to Benchmark",
            ))
        return correct / total, total

    def run_accuracy_benchmark(self) -> dict[str, BenchmarkResult]:
        """Fraction of correctly predicted labels on the given datasets, per model."""
        results = {}
        for name, model in self.models.items():
            fraction, samples = self.accuracy(model)
            results[name] = self._record("accuracy", name, [fraction], unit="fraction",
                                         samples=samples)
        return results

    def run_memory_benchmark(self, input_shape: tuple[int, ...] | None = None
                             ) -> dict[str, BenchmarkResult]:
        """Bytes held by each model's state, plus the peak bytes one forward pass allocates.

        The values are the per-run peaks of ``tracemalloc`` during a forward pass (NumPy
        reports its arrays to it); ``metadata`` holds ``state_bytes`` (parameters and buffers).
        """
        x = self.sample_input(input_shape)
        results = {}
        for name, model in self.models.items():
            peaks = []
            with _inference(model):
                for _ in range(max(1, min(self.measurement_runs, 3))):
                    tracemalloc.start()
                    try:
                        model(x)
                        peaks.append(float(tracemalloc.get_traced_memory()[1]))
                    finally:
                        tracemalloc.stop()
            results[name] = self._record("memory", name, peaks, unit="bytes",
                                         state_bytes=_bytes_of_state(model))
        return results

    def compare_models(self, metric: str = "latency") -> list[dict[str, Any]]:
        """The models ranked on one measured metric, with each one's ratio to the first model."""
        if metric not in self.results:
            raise ConfigError(explain(
                what=f"no {metric!r} results to compare (have: {sorted(self.results)})",
                why="compare_models ranks results that were measured, it never measures itself",
                fix=f"call run_{metric}_benchmark() first",
            ))
        results = self.results[metric]
        baseline = next(iter(results.values())).mean
        higher_is_better = metric in ("accuracy", "throughput")
        ranked = sorted(results.items(), key=lambda kv: -kv[1].mean if higher_is_better
                        else kv[1].mean)
        return [{"model": name, "mean": r.mean, "ci_95": [r.ci_lower, r.ci_upper],
                 "ratio_to_first": r.mean / baseline if baseline else None}
                for name, r in ranked]
