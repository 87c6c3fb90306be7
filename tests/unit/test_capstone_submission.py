"""Module 20 submissions: measured reports, computed improvements, a schema that names fields."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import tinytorch.olympics as olympics
from tinytorch.capstone import (
    BenchmarkReport,
    SubmissionError,
    SubmissionHarness,
    generate_submission,
    save_submission,
    validate_submission,
)
from tinytorch.core.layers import Linear, Sequential


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((120, 6)).astype(np.float32), rng.integers(0, 4, 120)


def test_report_measures_real_bytes_parameters_and_accuracy() -> None:
    x, y = _data()
    model = Sequential(Linear(6, 8), Linear(8, 4))
    report = BenchmarkReport("mlp", warmup_runs=1).benchmark_model(model, x, y, num_runs=4)
    assert report["parameters"] == 6 * 8 + 8 + 8 * 4 + 4
    assert report["model_bytes"] == 4 * report["parameters"]
    logits = (x @ model.layers[0].weight.data + model.layers[0].bias.data) \
        @ model.layers[1].weight.data + model.layers[1].bias.data
    assert report["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == y))
    assert report["samples"] == 120 and report["latency_ms_median"] > 0
    low, high = report["latency_ms_ci95"]
    assert low <= high and report["throughput_samples_per_s"] > 0


def test_improvements_are_computed_from_the_two_reports() -> None:
    base = {"model_name": "b", "parameters": 10, "model_bytes": 400, "accuracy": 0.9,
            "samples": 10, "latency_ms_median": 2.0, "latency_ms_p90": 2.5,
            "latency_ms_ci95": [1.9, 2.1], "throughput_samples_per_s": 100.0}
    fast = base | {"model_name": "o", "model_bytes": 100, "accuracy": 0.88,
                   "latency_ms_median": 0.5}
    submission = generate_submission(base, fast, "run", ["quantize"])
    assert submission["improvements"] == pytest.approx(
        {"speedup": 4.0, "compression_ratio": 4.0, "accuracy_delta": -0.02})
    assert validate_submission(submission)


def _valid() -> dict:
    x, y = _data()
    return SubmissionHarness(x, y, "h", num_runs=2).run(Linear(6, 4), Linear(6, 4), ["none"])


@pytest.mark.parametrize(("mutate", "named"), [
    (lambda s: s.pop("submission_name"), "submission.submission_name: missing (expected str)"),
    (lambda s: s["baseline"].pop("accuracy"), "submission.baseline.accuracy: missing"),
    (lambda s: s["baseline"].update(accuracy="high"),
     "submission.baseline.accuracy: expected number, got str"),
    (lambda s: s["baseline"].update(parameters=3.5),
     "submission.baseline.parameters: expected int, got float"),
    (lambda s: s.update(techniques_applied="quantize"),
     "submission.techniques_applied: expected list of str, got str"),
    (lambda s: s["techniques_applied"].append(7),
     "submission.techniques_applied[1]: expected str, got int"),
    (lambda s: s["system"].pop("cpu"), "submission.system.cpu: missing"),
    (lambda s: s.update(optimized=[]),
     "submission.optimized: expected object or null, got list"),
    (lambda s: s["improvements"].update(speedup=None),
     "submission.improvements.speedup: expected number, got NoneType"),
    (lambda s: s.update(schema_version=99), "submission.schema_version: expected 1, got 99"),
])
def test_validation_names_each_missing_or_mistyped_field(mutate, named: str) -> None:
    submission = _valid()
    mutate(submission)
    with pytest.raises(SubmissionError) as info:
        validate_submission(submission)
    assert named in str(info.value) and "fix:" in str(info.value)


def test_validation_lists_every_problem_at_once() -> None:
    submission = copy.deepcopy(_valid())
    del submission["created_utc"], submission["baseline"]["samples"]
    with pytest.raises(SubmissionError) as info:
        validate_submission(submission)
    assert "created_utc" in str(info.value) and "baseline.samples" in str(info.value)


def test_saved_submission_parses_back_identical_and_invalid_ones_are_not_written(
        tmp_path) -> None:
    submission = _valid()
    path = tmp_path / "sub.json"
    save_submission(submission, path)
    assert json.loads(path.read_text()) == submission
    bad = tmp_path / "bad.json"
    with pytest.raises(SubmissionError):
        save_submission({"schema_version": 1}, bad)
    assert not bad.exists()


def test_olympics_is_the_capstone_under_its_course_name() -> None:
    assert olympics.BenchmarkReport is BenchmarkReport
    assert olympics.SubmissionHarness is SubmissionHarness
