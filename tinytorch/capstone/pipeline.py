"""The optimization pipeline (module 20): profile, prune and fine-tune, quantize, cache — measured.

``optimize`` takes a trained classifier and labelled data and applies the techniques in the
order that works (pruning before quantization, so the fine-tuned survivors are what gets
quantized). After every step it measures the same things on the same test data: accuracy,
real bytes of the model's state (what a saved file holds), latency at batch 1 and throughput.
The original model is never changed: each step works on a copy.

``optimize_generation`` does the same for a GPT's text generation: the same greedy prompt with
and without the KV cache, timed, and the two continuations compared token for token.

Example:
    >>> import numpy as np
    >>> from tinytorch.core.layers import Linear, Sequential
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((64, 4)).astype(np.float32); y = (x[:, 0] > 0).astype(int)
    >>> result = optimize(Sequential(Linear(4, 16), Linear(16, 2)), (x, y, x, y),
    ...                   techniques=["quantize"], num_runs=3)
    >>> [step.name for step in result.steps]
    ['baseline', 'quantize']
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tinytorch.capstone.submission import BenchmarkReport
from tinytorch.core.errors import ConfigError, explain
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import magnitude_prune, measure_sparsity, remove_pruning
from tinytorch.perf.profiling import Profiler
from tinytorch.perf.quantization import quantize_model

__all__ = ["OptimizationResult", "OptimizationStep", "TECHNIQUES", "optimize",
           "optimize_generation"]

TECHNIQUES = ("prune", "quantize")


@dataclass
class OptimizationStep:
    """What one step of the pipeline measured."""

    name: str
    accuracy: float
    model_bytes: int
    latency_ms: float
    throughput: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimizationResult:
    """Every step's measurements, the final model, and the before/after table."""

    steps: list[OptimizationStep]
    model: Any
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline(self) -> OptimizationStep:
        """The measurements of the untouched model."""
        return self.steps[0]

    @property
    def final(self) -> OptimizationStep:
        """The measurements after the last step."""
        return self.steps[-1]

    def table(self) -> str:
        """A Markdown table: one row per step, with ratios to the baseline."""
        base = self.baseline
        lines = ["| step | accuracy | change (points) | bytes | smaller | latency b=1 (ms) "
                 "| throughput (samples/s) |", "|---|---|---|---|---|---|---|"]
        for s in self.steps:
            lines.append(
                f"| {s.name} | {s.accuracy:.2%} | {100 * (s.accuracy - base.accuracy):+.1f} "
                f"| {s.model_bytes:,} | {base.model_bytes / s.model_bytes:.2f}x "
                f"| {s.latency_ms:.3f} | {s.throughput:,.0f} |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready steps and profile."""
        return {"profile": self.profile, "steps": [asdict(s) for s in self.steps]}


def _measure(name: str, model: Any, x: np.ndarray, y: np.ndarray, num_runs: int,
             **details: Any) -> OptimizationStep:
    metrics = BenchmarkReport(name, warmup_runs=3).benchmark_model(model, x, y, num_runs)
    return OptimizationStep(name, metrics["accuracy"], metrics["model_bytes"],
                            metrics["latency_ms_median"], metrics["throughput_samples_per_s"],
                            details)


def fine_tune(model: Any, x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 1e-3,
              batch_size: int = 64, seed: int = 0) -> None:
    """A few epochs of Adam on cross-entropy (pruning masks keep pruned weights at zero)."""
    optimizer, loss_fn = Adam(model.parameters(), lr=lr), CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(Tensor(x[rows])), y[rows]).backward()
            optimizer.step()
    model.eval()


def _check_techniques(techniques: Sequence[str]) -> list[str]:
    unknown = [t for t in techniques if t not in TECHNIQUES]
    if unknown or not techniques:
        raise ConfigError(explain(
            what=f"optimize got techniques={list(techniques)!r}",
            why=f"the classifier pipeline knows {TECHNIQUES} (for a GPT's KV cache use "
                "optimize_generation)",
            fix="pass a non-empty list such as ['prune', 'quantize']",
        ))
    return sorted(techniques, key=TECHNIQUES.index)  # prune before quantize


def optimize(model: Any, data: tuple[Any, Any, Any, Any], techniques: Sequence[str] = TECHNIQUES,
             *, sparsity: float = 0.5, finetune_epochs: int = 3, lr: float = 1e-3,
             calibration_samples: int = 256, num_runs: int = 20,
             seed: int = 0) -> OptimizationResult:
    """Profile a trained classifier, then prune/fine-tune and quantize copies of it, measuring each.

    Args:
        model: a trained classifier (left unchanged).
        data: ``(x_train, y_train, x_test, y_test)``; training data fine-tunes and calibrates,
            test data is what every step is measured on.
        techniques: any of ``"prune"`` (magnitude pruning to ``sparsity``, then
            ``finetune_epochs`` of Adam, then the masks folded in) and ``"quantize"`` (int8,
            calibrated on ``calibration_samples`` training inputs); applied in that order.
        num_runs: timed forward passes per latency measurement.
        seed: seeds the fine-tuning's shuffling and initial state.
    """
    order = _check_techniques(techniques)
    x_train, y_train, x_test, y_test = (np.asarray(getattr(a, "data", a)) for a in data)
    profiler = Profiler()
    profile = {"parameters": profiler.count_parameters(model),
               "flops_per_sample": profiler.count_flops(model, (1, *x_test.shape[1:]))}
    steps = [_measure("baseline", model, x_test, y_test, num_runs)]
    working = copy.deepcopy(model)
    for technique in order:
        if technique == "prune":
            manual_seed(seed)
            magnitude_prune(working, sparsity=sparsity)
            before = BenchmarkReport("pruned").benchmark_model(working, x_test, y_test, 1)
            fine_tune(working, x_train, y_train, finetune_epochs, lr=lr, seed=seed)
            sparsity_after = measure_sparsity(working)
            remove_pruning(working)
            steps.append(_measure("prune", working, x_test, y_test, num_runs,
                                  sparsity_percent=sparsity_after,
                                  accuracy_before_finetune=before["accuracy"],
                                  finetune_epochs=finetune_epochs))
        else:
            report = quantize_model(working, calibration_data=x_train[:calibration_samples])
            steps.append(_measure("quantize", working, x_test, y_test, num_runs,
                                  scheme=report.layers[0].scheme if report.layers else None,
                                  layers=len(report.layers)))
    return OptimizationResult(steps, working, profile)


def _generate(model: Any, prompt: np.ndarray, tokens: int, use_cache: bool
              ) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = model.generate(Tensor(prompt), max_new_tokens=tokens, temperature=0.0,
                         use_cache=use_cache)
    return np.asarray(getattr(out, "data", out)), time.perf_counter() - start


def optimize_generation(model: Any, prompt: Any, max_new_tokens: int = 64,
                        repeats: int = 3) -> dict[str, Any]:
    """Greedy generation with and without the KV cache: times, speed-up, identical tokens.

    The two loops alternate, and the fastest of ``repeats`` runs is kept for each: on a busy
    machine interference only ever adds time, so the minimum is the steadiest estimate of what
    the code costs, and alternating keeps a slow spell from landing on one side only.

    Returns:
        ``uncached_s`` and ``cached_s`` (the fastest of ``repeats`` runs), ``speedup``,
        ``tokens_per_s_cached``, and ``identical`` (the two continuations agree exactly).
    """
    ids = np.asarray(getattr(prompt, "data", prompt))
    ids = ids[None, :] if ids.ndim == 1 else ids
    model.eval()
    runs: dict[bool, list[tuple[np.ndarray, float]]] = {False: [], True: []}
    for _ in range(repeats):
        for flag in (False, True):
            runs[flag].append(_generate(model, ids, max_new_tokens, flag))
    uncached = min(t for _, t in runs[False])
    cached = min(t for _, t in runs[True])
    identical = all(np.array_equal(runs[False][0][0], out) for out, _ in runs[True])
    return {"uncached_s": uncached, "cached_s": cached, "speedup": uncached / cached,
            "tokens_per_s_cached": max_new_tokens * ids.shape[0] / cached,
            "identical": bool(identical), "new_tokens": max_new_tokens}
