"""Milestone 06 (2018): MLPerf-style optimization — profile, prune, quantize, cache, and measure.

Three models are trained here on the shipped data: the digits MLP, the digits CNN and a
character-level TinyGPT. Each is profiled (parameters, FLOPs per sample, latency), entered in a
small MLPerf suite whose quality targets are checked, then optimized by the capstone pipeline:
the classifiers are pruned to half their weights, fine-tuned, and quantized to int8; the
TinyGPT generates with and without its KV cache. Every number in the before/after tables is
measured in this run.

Run it alone with ``python -m tinytorch.milestones.mlperf [--quick]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from tinytorch.capstone.pipeline import OptimizationResult, optimize, optimize_generation
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.data import load_digits
from tinytorch.milestones.cnn import build_cnn
from tinytorch.milestones.mlp import build_mlp
from tinytorch.milestones.report import Check, MilestoneResult, MilestoneRun, Split, fit, say
from tinytorch.milestones.transformer import Settings, train_tinygpt
from tinytorch.perf.benchmarking import plot_pareto
from tinytorch.perf.mlperf import MLPerf, MLPerfReport, MLPerfTask, accuracy_quality
from tinytorch.perf.profiling import Profiler

ID, NAME, YEAR = "06", "mlperf", 2018
TITLE = "MLPerf-style optimization"
SIZE_TARGET = 3.5       # optimized classifiers: at least this many times fewer real bytes
MAX_ACCURACY_DROP = 0.01  # ... losing at most one percentage point of test accuracy
QUICK_MAX_ACCURACY_DROP = 0.02  # quick runs train and fine-tune for a few epochs only
CACHE_TARGET, CACHE_QUICK_TARGET = 3.0, 1.5  # cached vs uncached generation speed-up
PROMPT_LEN = 16
# Milestone 05's TinyGPT sizes with a longer context: what the cache saves grows with it
# (`tinytorch milestones run 06` measured 2.1x with milestone 05's 64 positions, short of the
# 3x target, and 4.7x at 256), so the full run trains at 256 positions, for fewer steps of as
# many tokens. The quick run is smaller still. The cache's claims, speed and identical text,
# do not depend on how well the model writes.
FULL_GPT = Settings(64, 2, 4, steps=250, batch_size=8, lr=5e-3, seq_len=256, dropout=0.1)
QUICK_GPT = Settings(48, 2, 4, steps=80, batch_size=16, lr=5e-3, seq_len=128)
STORY = (
    "MLPerf (2018) made the field measure what it claimed: fixed tasks, quality targets a "
    "result must reach before its speed counts, and rules that separate comparing systems "
    "(closed division) from comparing ideas (open division)."
)
SHOWS = (
    "The digits MLP and CNN are pruned, fine-tuned and quantized to int8: target >= 3.5x fewer "
    "real bytes, within 1 point of their accuracy. A TinyGPT generates with its KV cache: "
    "target >= 3x faster than recomputing (quick: 1.5x), with identical greedy text."
)


@dataclass
class Classifier:
    """A trained digits classifier and the data it is judged on."""

    name: str
    model: Any
    split: Split
    epochs: int


def _predict(logits: np.ndarray) -> np.ndarray:
    return np.asarray(logits.argmax(axis=-1))


def train_classifiers(quick: bool, out: TextIO) -> list[Classifier]:
    """Train the digits MLP (flat pixels) and CNN (8x8 images) as milestones 03 and 04 do."""
    flat, images = load_digits(flatten=True), load_digits(flatten=False)
    found = []
    for name, model, data, epochs in (
            ("digits-mlp", build_mlp(64), Split(*flat), 8 if quick else 30),
            ("digits-cnn", build_cnn(1, 8, widths=(16, 32)), Split(*images), 6 if quick else 12)):
        say(out, f"training {name} for {epochs} epochs")
        fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.002), data, epochs,
            batch_size=32, predict=_predict, out=out, desc=name)
        model.eval()
        found.append(Classifier(name, model, data, epochs))
    return found


def profile_classifier(clf: Classifier, out: TextIO) -> None:
    """Print parameters, FLOPs per sample and batch-1 latency of a classifier."""
    profiler, sample = Profiler(), clf.split.x_test[:1]
    flops = profiler.count_flops(clf.model, sample.shape)
    latency = profiler.latency_stats(clf.model, Tensor(sample), warmup=5, iterations=30)
    say(out, f"    {clf.name}: {profiler.count_parameters(clf.model):,} parameters, "
             f"{flops:,} FLOPs per sample, latency median {latency.median_ms:.3f} ms "
             f"(IQR {latency.iqr_ms:.3f} ms)")


def mlperf_suite(classifiers: list[Classifier], results: dict[str, OptimizationResult]
                 ) -> MLPerfReport:
    """The references in the closed division, the optimized models in the open one."""
    tasks = []
    for clf in classifiers:
        baseline = results[clf.name].baseline.accuracy
        tasks.append(MLPerfTask(clf.name, clf.model,
                                accuracy_quality(clf.split.x_test, clf.split.y_test),
                                target=baseline - MAX_ACCURACY_DROP,
                                sample=clf.split.x_test[:1], batch=clf.split.x_test[:256]))
    entries = {clf.name: [("pruned+int8", results[clf.name].model, "open")]
               for clf in classifiers}
    return MLPerf(tasks, warmup_runs=3, measurement_runs=20).run(entries)


def classifier_checks(results: dict[str, OptimizationResult], quick: bool) -> list[Check]:
    """Size and accuracy checks of the optimized classifiers against their baselines."""
    max_drop = QUICK_MAX_ACCURACY_DROP if quick else MAX_ACCURACY_DROP
    checks = []
    for name, result in results.items():
        base, final = result.baseline, result.final
        checks += [
            Check(f"{name} pruned+int8", "times fewer real bytes",
                  base.model_bytes / final.model_bytes, SIZE_TARGET, unit=""),
            Check(f"{name} pruned+int8", "accuracy drop (points)",
                  base.accuracy - final.accuracy, max_drop, higher_is_better=False),
        ]
    return checks


def cached_generation(quick: bool, out: TextIO) -> tuple[dict[str, Any], float]:
    """Train the TinyGPT, then time greedy generation with and without its KV cache."""
    language = train_tinygpt(quick, out, QUICK_GPT if quick else FULL_GPT)
    model, loss = language.model, language.val_loss
    prompt = np.array(language.tokenizer.encode(language.split.val_text)[:PROMPT_LEN],
                      dtype=np.int64)
    timing = optimize_generation(model, prompt, max_new_tokens=model.max_seq_len - PROMPT_LEN,
                                 repeats=5)
    text = language.tokenizer.decode(
        model.generate(Tensor(prompt), timing["new_tokens"], temperature=0.0).data.tolist())
    say(out, f"    TinyGPT validation loss {loss:.3f}; {timing['new_tokens']} new tokens: "
             f"uncached {timing['uncached_s'] * 1e3:.0f} ms, cached "
             f"{timing['cached_s'] * 1e3:.0f} ms ({timing['speedup']:.1f}x), identical text: "
             f"{timing['identical']}")
    say(out, "    greedy text: " + repr(text[:120]))
    return timing, loss


def run(quick: bool = False, seed: int = 0, plot_dir: str | Path | None = None,
        out: TextIO | None = None) -> MilestoneResult:
    """Train, profile, optimize and measure the three models; check the targets.

    Args:
        quick: fewer epochs and training steps, and a lower cache speed-up target.
        seed: seeds the weights, the shuffling and the fine-tuning.
        plot_dir: save the latency-vs-accuracy Pareto plot of the classifiers there (PNG).
        out: where to print; defaults to ``sys.stdout`` at call time.
    """
    session = MilestoneRun(ID, NAME, YEAR, TITLE, STORY, SHOWS, quick=quick, seed=seed,
                           plot_dir=plot_dir, out=out)
    out = session.out
    classifiers = train_classifiers(quick, out)
    say(out, "profile:")
    results: dict[str, OptimizationResult] = {}
    for clf in classifiers:
        profile_classifier(clf, out)
        s = clf.split
        results[clf.name] = optimize(clf.model, (s.x_train, s.y_train, s.x_test, s.y_test),
                                     ["prune", "quantize"], sparsity=0.5,
                                     finetune_epochs=2 if quick else 4, seed=seed)
        say(out, f"\n{clf.name}: measured before/after (test set of {len(s.y_test)} digits)")
        say(out, results[clf.name].table())
    report = mlperf_suite(classifiers, results)
    say(out, "\nMLPerf-style suite (quality target = baseline accuracy - 1 point):")
    say(out, report.table())
    timing, _ = cached_generation(quick, out)
    checks = classifier_checks(results, quick) + [
        Check("TinyGPT KV cache", "cached greedy text identical", float(timing["identical"]),
              1.0, unit=""),
        Check("TinyGPT KV cache", "generation speed-up (x)", timing["speedup"],
              CACHE_QUICK_TARGET if quick else CACHE_TARGET, unit=""),
    ]
    notes = [f"MLPerf suite: {'all' if report.passed else 'not all'} quality targets met"]
    if plot_dir is not None:
        points = {f"{name}-{step.name}": (step.latency_ms / 1e3, step.accuracy)
                  for name, result in results.items() for step in result.steps}
        path = plot_pareto(points, Path(plot_dir) / f"{ID}_{NAME}_pareto.png",
                           "Digits classifiers: batch-1 latency vs accuracy")
        say(out, f"Pareto plot: {path}" if path else "Pareto plot skipped: matplotlib missing")
    return session.finish(checks, {}, notes)


if __name__ == "__main__":
    sys.exit(0 if run(quick="--quick" in sys.argv[1:]).passed else 1)
