"""Module 19: every statistic equals NumPy's, every accuracy is measured, every report parses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinytorch.bench import Benchmark as BenchAlias
from tinytorch.core.errors import ConfigError
from tinytorch.core.layers import Linear, Module, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.perf.benchmarking import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSuite,
    MLPerf,
    MLPerfTask,
    accuracy_quality,
    pareto_frontier,
    t_quantile,
)


class ConstantClass(Module):
    """Always predicts class ``k`` of ``n``: its accuracy must be that class's frequency."""

    def __init__(self, k: int, n: int = 10) -> None:
        super().__init__()
        self.k, self.n = k, n

    def forward(self, x: Tensor) -> Tensor:
        scores = np.zeros((len(x.data), self.n), dtype=np.float32)
        scores[:, self.k] = 1.0
        return Tensor(scores)


class CountingModel(Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        return x


@pytest.mark.parametrize(("p", "df", "expected"), [
    (0.975, 1, 12.706205), (0.975, 4, 2.776445), (0.975, 9, 2.262157), (0.975, 30, 2.042272),
    (0.95, 5, 2.015048), (0.025, 9, -2.262157), (0.975, 1e6, 1.959966),
])
def test_t_quantile_matches_published_tables(p: float, df: float, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=2e-6)


def test_result_statistics_equal_numpy() -> None:
    values = np.random.default_rng(3).gamma(2.0, 1e-3, size=57)
    r = BenchmarkResult("latency", values)
    assert r.mean == pytest.approx(values.mean(), rel=1e-12)
    assert r.std == pytest.approx(values.std(ddof=1), rel=1e-12)
    assert r.median == pytest.approx(np.median(values), rel=1e-12)
    assert (r.min_val, r.max_val) == (values.min(), values.max())
    assert r.p90 == pytest.approx(np.percentile(values, 90))
    assert r.p99 == pytest.approx(np.percentile(values, 99))
    half = t_quantile(0.975, 56) * values.std(ddof=1) / np.sqrt(57)
    assert (r.ci_lower, r.ci_upper) == pytest.approx((values.mean() - half, values.mean() + half))
    assert r.count == 57 and r.to_dict()["values"] == pytest.approx(values.tolist())


def test_outliers_are_tukeys_and_a_single_value_has_no_spread() -> None:
    r = BenchmarkResult("t", [1.0, 1.1, 0.9, 1.0, 1.05, 9.0])
    assert r.outliers == [9.0]
    one = BenchmarkResult("t", [2.0])
    assert (one.std, one.ci_lower, one.ci_upper) == (0.0, 2.0, 2.0)


@pytest.mark.parametrize("values", [[], [1.0, float("nan")], [[1.0, 2.0]]])
def test_result_refuses_values_it_cannot_summarise(values: list) -> None:
    with pytest.raises(ConfigError, match="at least one finite measurement"):
        BenchmarkResult("t", values)


def test_benchmark_constructs_with_no_arguments_and_alias_is_the_same_class() -> None:
    assert Benchmark().models == {} and BenchAlias is Benchmark


def test_warmup_runs_are_run_and_not_timed() -> None:
    model = CountingModel()
    bench = Benchmark([model], warmup_runs=4, measurement_runs=7)
    result = bench.run_latency_benchmark(input_shape=(1, 3))["model_0"]
    assert model.calls == 11 and result.count == 7 and all(v > 0 for v in result.values)


def _labelled(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 5)).astype(np.float32), rng.integers(0, 3, n)


def test_accuracy_equals_an_independent_computation_over_batches() -> None:
    x, y = _labelled()
    model = Linear(5, 3)
    expected = np.mean((x @ model.weight.data + model.bias.data).argmax(1) == y)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, len(x), 32)]
    result = Benchmark({"lin": model}, [batches]).run_accuracy_benchmark()["lin"]
    assert result.mean == pytest.approx(expected) and result.metadata["samples"] == 200


def test_a_model_that_always_predicts_one_class_scores_that_class_frequency() -> None:
    y = np.random.default_rng(1).integers(0, 10, 500)
    x = np.zeros((500, 4), dtype=np.float32)
    scores = Benchmark([ConstantClass(3)], [(x, y)]).run_accuracy_benchmark()
    assert scores["model_0"].mean == pytest.approx(np.mean(y == 3))


def test_accuracy_without_labelled_data_is_an_error_not_a_number() -> None:
    with pytest.raises(ConfigError, match="never assumed"):
        Benchmark([Linear(2, 2)]).run_accuracy_benchmark()


def test_memory_counts_real_state_bytes_and_restores_training_mode() -> None:
    model = Sequential(Linear(64, 32), Linear(32, 10))
    model.train()
    x, y = np.zeros((8, 64), dtype=np.float32), np.zeros(8)
    result = Benchmark([model], [(x, y)], measurement_runs=2).run_memory_benchmark()["model_0"]
    assert result.metadata["state_bytes"] == sum(p.data.nbytes for p in model.parameters())
    assert result.mean > 0 and model.training


def test_compare_models_needs_measured_results_and_ranks_them() -> None:
    bench = Benchmark({"a": ConstantClass(0), "b": ConstantClass(1)}, [(np.zeros((4, 2)),
                                                                         np.array([1, 1, 1, 0]))])
    with pytest.raises(ConfigError, match="run_accuracy_benchmark"):
        bench.compare_models("accuracy")
    bench.run_accuracy_benchmark()
    ranked = bench.compare_models("accuracy")
    assert [r["model"] for r in ranked] == ["b", "a"] and ranked[1]["ratio_to_first"] == 1.0


def test_pareto_frontier_keeps_only_undominated_points() -> None:
    points = {"fast": (1.0, 0.80), "good": (3.0, 0.95), "worse": (3.5, 0.90), "tie": (1.0, 0.80)}
    assert pareto_frontier(points) == ["fast", "good", "tie"]


def test_suite_writes_reports_that_parse_and_a_pareto_plot(tmp_path) -> None:
    x, y = _labelled(64)
    models = {"small": Linear(5, 3), "constant": ConstantClass(0, n=3)}
    suite = BenchmarkSuite(models, [(x, y)], output_dir=tmp_path, warmup_runs=1,
                           measurement_runs=3)
    suite.run_full_benchmark(batch_size=16)
    paths = suite.save_reports()
    report = json.loads(paths["json"].read_text())
    assert set(report["results"]) == {"latency", "throughput", "accuracy", "memory"}
    assert report["results"]["accuracy"]["constant"]["mean"] == pytest.approx(np.mean(y == 0))
    assert report["environment"]["numpy"] == np.__version__
    markdown = paths["markdown"].read_text()
    assert "| small |" in markdown and "| constant |" in markdown and "BLAS" in markdown
    pytest.importorskip("matplotlib")
    png = suite.plot_pareto_frontier()
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _identity_task(target: float) -> MLPerfTask:
    x, y = np.eye(3, dtype=np.float32), np.arange(3)
    reference = Linear(3, 3)
    reference.weight.data[...] = np.eye(3)
    reference.bias.data[...] = 0.0
    return MLPerfTask("identity", reference, accuracy_quality(x, y), target, sample=x[:1], batch=x)


def test_mlperf_checks_quality_targets_and_divisions() -> None:
    task = _identity_task(target=0.99)
    suite = MLPerf([task], warmup_runs=0, measurement_runs=2)
    wider = Sequential(Linear(3, 8), Linear(8, 3))
    with pytest.raises(ConfigError, match="closed division"):
        suite.evaluate("identity", wider, division="closed", submission="wider")
    report = suite.run({"identity": [("wider", wider, "open")]})
    reference, open_entry = report.rows
    assert reference["target_met"] and reference["quality"] == 1.0
    assert open_entry["division"] == "open"
    assert open_entry["target_met"] == (open_entry["quality"] >= 0.99)
    assert reference["bytes"] == 3 * 3 * 4 + 3 * 4
    assert "| identity | closed | reference |" in report.table()


def test_mlperf_reports_a_missed_target_as_failed() -> None:
    task = _identity_task(target=0.99)
    task.reference.weight.data[...] = 0.0  # every class scores 0: argmax says class 0
    report = MLPerf([task], warmup_runs=0, measurement_runs=1).run()
    assert report.rows[0]["quality"] == pytest.approx(1 / 3) and not report.passed
