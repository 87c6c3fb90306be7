"""`tinytorch bench --compare OLD.json`: regressions beyond the runs' own noise are flagged."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import harness
from benchmarks.compare import compare_reports, format_comparison, load_report
from benchmarks.harness import main

from .test_bench_harness import FakeClock, fake_workload


def _report(medians: dict[str, tuple[float, float]]) -> dict:
    rows = [{"workload": name, "allocator_requested": "default",
             "frameworks": {"tinytorch": {"status": "ok", "median_s": m, "iqr_s": iqr}},
             "ratios": {"tinytorch/torch": 1.0}} for name, (m, iqr) in medians.items()]
    return {"results": rows}


def test_changes_inside_the_noise_are_not_regressions() -> None:
    old = _report({"steady": (1.0, 0.01), "noisy": (1.0, 0.30), "faster": (1.0, 0.01)})
    new = _report({"steady": (1.20, 0.01), "noisy": (1.20, 0.05), "faster": (0.8, 0.01),
                   "new_only": (1.0, 0.0)})
    verdicts = {r["workload"]: r["verdict"] for r in compare_reports(old, new)}
    assert verdicts == {"steady": "regression", "noisy": "within noise", "faster": "improvement"}
    row = compare_reports(old, new)[0]
    assert row["change"] == pytest.approx(0.20) and row["noise"] == pytest.approx(0.05)
    assert "REGRESSION" in format_comparison(compare_reports(old, new))


def test_a_file_that_is_not_a_report_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="not a benchmark report"):
        load_report(bad)
    assert main(["--quick", "--compare", str(bad), "--json", str(tmp_path / "r.json")],
                workloads=[]) == 2


def test_compare_flag_exits_4_on_a_regression(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(harness, "time", SimpleNamespace(perf_counter=clock))
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    fast = fake_workload(clock, {"tinytorch": 1e-3, "torch": 1e-3})
    assert main(["--quick", "--json", str(old)], workloads=[fast]) == 0
    assert main(["--quick", "--compare", str(old), "--json", str(new)], workloads=[fast]) == 0
    slow = fake_workload(clock, {"tinytorch": 2e-3, "torch": 1e-3})
    assert main(["--quick", "--compare", str(old), "--json", str(new)], workloads=[slow]) == 4
