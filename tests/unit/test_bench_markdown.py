"""The README's speed table: written by `python -m benchmarks --markdown PATH` from its own run."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.harness import main, run
from benchmarks.markdown import format_markdown, paired_ratio_spread
from benchmarks.markdown import main as markdown_main
from tests.unit.test_bench_harness import FakeClock, fake_workload, numpy_workload


def test_markdown_rows_carry_medians_iqrs_paired_spread_and_verdict() -> None:
    clock = FakeClock()
    report = run([fake_workload(clock, {"tinytorch": 3e-3, "torch": 1e-3, "numpy": 2e-3})],
                 quick=True, clock=clock)
    table = format_markdown(report, "blas: openblas (2 threads)")
    row = next(line for line in table.splitlines() if line.startswith("| fake |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["fake", "3 ms (IQR 0 ms)", "1 ms (IQR 0 ms)", "3.00x (3.00-3.00)",
                     "1.50x (1.50-1.50)", "0 / 0", "tinytorch/torch <= 2x **missed**"]
    assert table.splitlines()[1] == "|---|---|---|---|---|---|---|"
    assert "Machine: blas: openblas (2 threads)." in table


def test_paired_spread_pairs_rounds_not_sorted_samples() -> None:
    # sorted separately the ratios would all be 1; paired round by round they are 0.5 and 2
    ours, theirs = {"samples_s": [1.0, 2.0, 1.0, 2.0]}, {"samples_s": [2.0, 1.0, 2.0, 1.0]}
    assert paired_ratio_spread(ours, theirs) == pytest.approx((0.5, 2.0))


def test_markdown_flag_writes_the_table_of_the_same_run(tmp_path: Path) -> None:
    out = tmp_path / "speed.md"
    assert main(["--quick", "--json", str(tmp_path / "r.json"), "--markdown", str(out)],
                workloads=[numpy_workload()]) == 0
    text = out.read_text()
    assert "| tiny_gemm |" in text and "tinytorch / NumPy" in text


def test_a_saved_report_prints_the_same_table(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    report_path, table_path = tmp_path / "r.json", tmp_path / "speed.md"
    assert main(["--quick", "--json", str(report_path), "--markdown", str(table_path)],
                workloads=[numpy_workload()]) == 0
    capsys.readouterr()
    assert markdown_main([str(report_path)]) == 0
    assert capsys.readouterr().out == table_path.read_text()
    assert markdown_main([]) == 2
