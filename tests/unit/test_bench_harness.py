"""The benchmark harness on fake NumPy workloads: timing, alternation, ratios, JSON, fallbacks.

A fake clock makes every duration exact, so the statistics and ratios are checked as values.
Anything that tunes the allocator runs in a child process (mallopt cannot be undone).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from benchmarks import harness
from benchmarks.harness import Settings, Workload, all_workloads, format_table, main, measure, run

REPO = Path(__file__).resolve().parents[2]


class FakeClock:
    """A clock that only moves when a fake step says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_workload(
    clock: FakeClock,
    costs: dict[str, float | None],
    calls: list[str] | None = None,
    name: str = "fake",
) -> Workload:
    """A workload whose steps advance `clock` by `costs[framework]` seconds and log each call.

    A framework mapped to None has no step: its factory returns None (as without torch).
    """

    def factory(framework: str) -> Callable[[], Callable[[], Any] | None]:
        def make() -> Callable[[], Any] | None:
            cost = costs.get(framework)
            if cost is None:
                return None

            def step() -> None:
                if calls is not None:
                    calls.append(framework)
                clock.now += cost

            return step

        return make

    return Workload(
        name=name,
        description="fake steps on a fake clock",
        make_tinytorch=factory("tinytorch"),  # type: ignore[arg-type]
        make_torch=factory("torch"),
        make_numpy=factory("numpy") if "numpy" in costs else None,  # type: ignore[arg-type]
        target="tinytorch/torch <= 2x",
        target_baseline="torch",
        target_max_ratio=2.0,
    )


def numpy_workload(name: str = "tiny_gemm", with_torch: bool = False) -> Workload:
    """A real (tiny) NumPy workload timed with the real clock; torch absent unless asked."""

    def make_step() -> Callable[[], Any]:
        a = np.ones((8, 8), dtype=np.float32)
        return lambda: a @ a

    return Workload(
        name=name,
        description="8x8 GEMM",
        make_tinytorch=make_step,
        make_torch=(lambda: None) if not with_torch else make_step,
        make_numpy=make_step,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_frameworks_alternate_round_by_round(clock: FakeClock) -> None:
    calls: list[str] = []
    workload = fake_workload(clock, {"tinytorch": 2e-3, "torch": 1e-3, "numpy": 4e-3}, calls)
    row = measure(workload, Settings(warmup=2, rounds=4, min_rounds=1, budget_s=100.0), clock)
    one_round = ["tinytorch", "torch", "numpy"]
    assert row["order"] == one_round
    assert row["schedule"] == one_round * 4
    assert calls == one_round * (2 + 4)  # warm-up alternates too
    assert row["rounds"] == 4 and row["warmup"] == 2


def test_ratios_are_ratios_of_medians(clock: FakeClock) -> None:
    durations = iter([5e-3, 1e-3, 2e-3, 3e-3, 100e-3] * 3)  # tinytorch: median 3 ms, one outlier

    def tinytorch_step() -> None:
        clock.now += next(durations)

    def torch_step() -> None:
        clock.now += 1.5e-3

    workload = Workload(
        name="medians",
        description="",
        make_tinytorch=lambda: tinytorch_step,
        make_torch=lambda: torch_step,
        target="tinytorch/torch <= 2x",
        target_baseline="torch",
        target_max_ratio=2.0,
    )
    row = measure(workload, Settings(warmup=1, rounds=5, min_rounds=1, budget_s=100.0), clock)
    tt = row["frameworks"]["tinytorch"]
    # warm-up used 5 ms; the five timed calls are 1, 2, 3, 100, 5 ms
    assert tt["samples_s"] == pytest.approx([1e-3, 2e-3, 3e-3, 100e-3, 5e-3])
    assert tt["median_s"] == pytest.approx(3e-3)
    assert tt["iqr_s"] == pytest.approx(5e-3 - 2e-3)
    assert tt["min_s"] == pytest.approx(1e-3) and tt["max_s"] == pytest.approx(0.1)
    assert row["frameworks"]["torch"]["median_s"] == pytest.approx(1.5e-3)
    assert row["ratios"]["tinytorch/torch"] == pytest.approx(2.0)
    assert row["ratios"]["tinytorch/numpy"] is None
    assert row["frameworks"]["numpy"]["status"] == "n/a"
    assert row["target"] == {
        "text": "tinytorch/torch <= 2x",
        "baseline": "torch",
        "max_ratio": 2.0,
        "met": True,
    }


def test_target_missed_is_reported(clock: FakeClock) -> None:
    workload = fake_workload(clock, {"tinytorch": 5e-3, "torch": 1e-3})
    row = measure(workload, Settings(warmup=1, rounds=3, min_rounds=1, budget_s=100.0), clock)
    assert row["ratios"]["tinytorch/torch"] == pytest.approx(5.0)
    assert row["target"]["met"] is False


def test_quick_mode_uses_fewer_rounds_and_warmups(clock: FakeClock) -> None:
    quick, full = Settings.for_mode(True), Settings.for_mode(False)
    assert quick.rounds < full.rounds and quick.warmup < full.warmup
    calls: list[str] = []
    workload = fake_workload(clock, {"tinytorch": 1e-3, "torch": 1e-3}, calls)
    report = run([workload], quick=True, clock=clock)
    row = report["results"][0]
    assert row["rounds"] == quick.rounds
    assert len(calls) == 2 * (quick.warmup + quick.rounds)
    assert report["settings"]["quick"] is True
    assert report["settings"]["rounds"] == quick.rounds


def test_slow_workload_is_cut_to_the_time_budget(clock: FakeClock) -> None:
    workload = fake_workload(clock, {"tinytorch": 4.0, "torch": 1.0})  # 5 s per round
    row = measure(workload, Settings(warmup=1, rounds=20, min_rounds=3, budget_s=20.0), clock)
    assert row["rounds"] == 4  # 20 s budget / 5 s per round
    slower = measure(workload, Settings(warmup=1, rounds=20, min_rounds=3, budget_s=5.0), clock)
    assert slower["rounds"] == 3  # never below min_rounds


def test_torch_absent_gives_na_cells_and_a_clean_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "report.json"
    status = main(["--quick", "--json", str(out)], workloads=[numpy_workload()])
    assert status == 0
    report = json.loads(out.read_text())
    row = report["results"][0]
    assert row["frameworks"]["torch"]["status"] == "n/a"
    assert row["ratios"]["tinytorch/torch"] is None
    assert row["order"] == ["tinytorch", "numpy"]
    table = capsys.readouterr().out
    assert "tiny_gemm" in table
    line = next(text for text in table.splitlines() if text.startswith("tiny_gemm"))
    assert line.split()[:2] == ["tiny_gemm", "default"]
    assert "n/a" in line


def test_torch_import_error_counts_as_absent(clock: FakeClock) -> None:
    def no_torch() -> None:
        raise ModuleNotFoundError("No module named 'torch'")

    workload = Workload(
        name="w", description="", make_tinytorch=lambda: lambda: None, make_torch=no_torch
    )
    row = measure(workload, Settings(warmup=1, rounds=2, min_rounds=1, budget_s=10.0), clock)
    assert row["frameworks"]["torch"]["status"] == "n/a"
    assert "torch unavailable" in row["frameworks"]["torch"]["reason"]


def test_json_report_has_the_expected_keys(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["--quick", "--json", str(out)], workloads=[numpy_workload()]) == 0
    report = json.loads(out.read_text())
    assert {"schema", "created_utc", "settings", "machine", "notes", "results", "argv"} <= set(
        report
    )
    assert report["argv"] == ["--quick", "--json", str(out)]
    machine = report["machine"]
    assert machine["python"] == sys.version.split()[0]
    assert machine["numpy"] == np.__version__
    assert machine["allocator_tuned"] is False
    assert isinstance(machine["env"], dict)
    blas = machine["blas"]
    if isinstance(blas, list):  # threadpoolctl present
        assert {"internal_api", "version", "architecture", "num_threads"} <= set(blas[0])
    row = report["results"][0]
    assert {
        "workload",
        "description",
        "allocator",
        "allocator_requested",
        "rounds",
        "warmup",
        "order",
        "schedule",
        "frameworks",
        "ratios",
        "target",
    } <= set(row)
    assert row["allocator"] == row["allocator_requested"] == "default"
    cells = row["frameworks"]
    assert set(cells) == {"tinytorch", "torch", "numpy"}
    numpy_cell, tt_cell = cells["numpy"], cells["tinytorch"]
    assert tt_cell["n"] == len(tt_cell["samples_s"]) == row["rounds"]
    assert isinstance(tt_cell["minor_faults_median"], (int, float)) and \
        tt_cell["minor_faults_median"] >= 0
    assert row["ratios"]["tinytorch/numpy"] == pytest.approx(
        tt_cell["median_s"] / numpy_cell["median_s"]
    )
    assert row["schedule"] == ["tinytorch", "numpy"] * row["rounds"]


def test_failing_step_gives_error_row_and_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> Callable[[], Any]:
        def step() -> None:
            raise RuntimeError("boom in step")

        return step

    good = numpy_workload("good")
    bad = Workload(name="bad", description="", make_tinytorch=broken, make_numpy=good.make_numpy)
    out = tmp_path / "r.json"
    assert main(["--quick", "--json", str(out)], workloads=[bad, good]) == 1
    rows = {row["workload"]: row for row in json.loads(out.read_text())["results"]}
    assert rows["bad"]["frameworks"]["tinytorch"] == {
        "status": "error",
        "reason": "RuntimeError: boom in step",
    }
    assert rows["bad"]["frameworks"]["numpy"]["status"] == "ok"  # the others still ran
    assert rows["good"]["frameworks"]["tinytorch"]["status"] == "ok"
    assert "error: bad [tinytorch]: RuntimeError: boom in step" in capsys.readouterr().out


def test_only_filters_and_unknown_names_are_rejected(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    workloads = [numpy_workload("one"), numpy_workload("two"), numpy_workload("three")]
    assert main(["--quick", "--only", "three,one", "--json", str(out)], workloads=workloads) == 0
    names = [row["workload"] for row in json.loads(out.read_text())["results"]]
    assert names == ["one", "three"]  # registry order, not argument order
    assert main(["--only", "nope", "--json", str(out)], workloads=workloads) == 2


def test_check_targets_turns_a_miss_into_status_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(harness, "time", SimpleNamespace(perf_counter=clock))
    slow = fake_workload(clock, {"tinytorch": 3e-3, "torch": 1e-3})
    out = tmp_path / "r.json"
    assert main(["--quick", "--json", str(out)], workloads=[slow]) == 0
    assert main(["--quick", "--check-targets", "--json", str(out)], workloads=[slow]) == 3


def test_table_is_plain_ascii(clock: FakeClock) -> None:
    # Powers of two keep the fake clock's sums exact, so the spread is exactly zero.
    workload = fake_workload(clock, {"tinytorch": 2.0**-9, "torch": 2.0**-10, "numpy": 2.0**-10})
    report = run([workload], quick=True, clock=clock)
    report["notes"].append("caf\u00e9 \u00b5s")
    table = format_table(report)
    table.encode("ascii")  # raises if anything is not ASCII
    assert "note: caf? ?s" in table
    row_line = next(line for line in table.splitlines() if line.startswith("fake"))
    cells = row_line.split()
    faults = cells.pop(16)  # real page faults of the fake steps: counts, not fixed values
    assert all(part.isdigit() for part in faults.split("/")) and faults.count("/") == 1
    assert cells == [
        "fake",
        "default",
        "1.95",
        "ms",
        "+-0",
        "us",
        "977",
        "us",
        "+-0",
        "us",
        "977",
        "us",
        "+-0",
        "us",
        "2.00x",
        "2.00x",
        "tinytorch/torch",
        "<=",
        "2x",
        "[ok]",
    ]


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway package `fakebench` with two workload modules and one that fails to import."""
    package = tmp_path / "fakebench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    template = textwrap.dedent("""
        from benchmarks.harness import Workload
        ORDER = {order}
        WORKLOADS = [Workload(name="{name}", description="", make_tinytorch=lambda: (lambda: 0))]
    """)
    (package / "workloads_alpha.py").write_text(template.format(order=50, name="alpha"))
    (package / "workloads_zulu.py").write_text(template.format(order=0, name="zulu"))
    (package / "workloads_broken.py").write_text("raise ImportError('needs a missing thing')\n")
    (package / "helpers.py").write_text("raise AssertionError('not a workload module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fakebench"
    for name in [m for m in sys.modules if m == "fakebench" or m.startswith("fakebench.")]:
        del sys.modules[name]


def test_registry_discovers_modules_by_order_and_reports_broken_ones(
    fake_package: str, clock: FakeClock
) -> None:
    workloads = all_workloads(fake_package)
    assert [w.name for w in workloads] == ["workloads_broken:import", "zulu", "alpha"]
    row = measure(workloads[0], Settings(warmup=1, rounds=2, min_rounds=1, budget_s=1.0), clock)
    reason = row["frameworks"]["tinytorch"]["reason"]
    assert reason.startswith("RuntimeError: importing fakebench.workloads_broken failed")
    assert "ImportError: needs a missing thing" in reason


def test_core_workloads_are_registered_with_their_targets() -> None:
    workloads = {w.name: w for w in all_workloads()}
    matmul, overhead = workloads["matmul_1024"], workloads["op_overhead"]
    assert (matmul.target_baseline, matmul.target_max_ratio) == ("numpy", 1.15)
    for name in ("op_overhead", "op_overhead_1"):        # a tiny op costs no more than torch's
        assert (workloads[name].target_baseline, workloads[name].target_max_ratio) == \
            ("torch", 1.0)
    grad = workloads["op_overhead_1"].make_tinytorch()().data   # d/dx of 500 (x * 1.0001 + c)
    assert grad.shape == (1,) and np.allclose(grad, 1.0001 ** 500, rtol=1e-4)
    assert matmul.make_numpy is not None and overhead.make_numpy is None
    step = matmul.make_numpy()  # the raw-GEMM baseline: out, grad_a, grad_b
    out, grad_a, grad_b = step()
    assert out.shape == grad_a.shape == grad_b.shape == (1024, 1024)
    assert out.dtype == np.float32


def test_allocator_both_runs_default_rows_first_then_tuned(tmp_path: Path) -> None:
    out = tmp_path / "both.json"
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from benchmarks.harness import Workload, main
        def make():
            a = np.ones((4, 4), dtype=np.float32)
            return lambda: a + a
        w = Workload(name="tiny_add", description="", make_tinytorch=make, make_numpy=make)
        sys.exit(main(["--quick", "--allocator", "both", "--json", {str(out)!r}], workloads=[w]))
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    rows = report["results"]
    assert [row["allocator_requested"] for row in rows] == ["default", "tuned"]
    assert rows[0]["allocator"] == "default"
    assert rows[1]["allocator"] == ("tuned" if report["machine"]["allocator_tuned"] else "default")
    assert report["settings"]["allocator_tuned_at_start"] is False


def test_core_tinytorch_steps_compute_the_gradients_they_claim_to_time() -> None:
    # A benchmark of the wrong computation would be meaningless: check one step of each.
    from benchmarks import workloads_core

    _, grad_a, grad_b = workloads_core.matmul_numpy()()
    tt_grad_a, tt_grad_b = workloads_core.matmul_tinytorch()()
    assert tt_grad_a.dtype == np.float32 and tt_grad_b.dtype == np.float32
    np.testing.assert_allclose(tt_grad_a.data, grad_a, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(tt_grad_b.data, grad_b, rtol=1e-4, atol=1e-3)

    chain_grad = workloads_core.chain_tinytorch()()
    expected = np.full(workloads_core.CHAIN_SIZE, 1.0001 ** (workloads_core.CHAIN_OPS // 2))
    assert chain_grad.dtype == np.float32
    np.testing.assert_allclose(chain_grad.data, expected, rtol=1e-4)


def test_without_torch_the_report_says_how_to_get_the_comparison_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "optional_torch", lambda: None)
    assert main(["--quick", "--json", str(tmp_path / "r.json")], workloads=[numpy_workload()]) == 0
    out = capsys.readouterr().out
    assert "PyTorch is not installed" in out and "pip install torch" in out


def test_with_torch_there_is_no_install_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "optional_torch", lambda: SimpleNamespace())
    assert main(["--quick", "--json", str(tmp_path / "r.json")], workloads=[numpy_workload()]) == 0
    assert "PyTorch is not installed" not in capsys.readouterr().out


def test_bench_help_names_the_tinytorch_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: tinytorch bench")
