"""The `tinytorch` command: listing, help texts, doctor, runs with JSON, and its error paths.

Milestone runs here use the two fastest milestones (01 and 02, well under a second each);
the heavier ones are exercised by tests/milestones/test_milestones_quick.py.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tinytorch import __version__, cli
from tinytorch.core.progress import Progress
from tinytorch.milestones import MILESTONES, UnknownMilestoneError, get_milestone, perceptron
from tinytorch.milestones.report import (
    Check,
    MilestoneResult,
    blas_threads,
    format_markdown,
    format_table,
)

REPO = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command in-process; return (exit status, stdout, stderr)."""
    try:
        status = cli.main(list(argv))
    except SystemExit as exc:  # argparse exits on --help and --version
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --------------------------------------------------------------------------- list, help, version


def test_list_shows_every_milestone(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "milestones", "list")
    assert status == 0
    for number, year, name in [("01", 1957, "perceptron"), ("02", 1969, "xor"),
                               ("03", 1986, "mlp"), ("04", 1998, "cnn"),
                               ("05", 2017, "transformer"), ("06", 2018, "mlperf")]:
        line = next(row for row in out.splitlines() if row.startswith(number))
        assert str(year) in line and name in line


@pytest.mark.parametrize("argv, expected", [
    ((), ["milestones", "bench", "doctor", "--version"]),
    (("milestones",), ["list", "run"]),
    (("milestones", "run"), ["ID|all", "--quick", "--seed", "--plot", "--json", "--table",
                             "--mnist", "--cifar10", "--blas-threads", "Exit status"]),
    (("milestones", "list"), ["year"]),
    (("doctor",), ["NumPy", "BLAS", "data sets"]),
])
def test_help_texts_name_every_option(capsys: pytest.CaptureFixture[str],
                                      argv: tuple[str, ...], expected: list[str]) -> None:
    status, out, _ = run_cli(capsys, *argv, "--help")
    assert status == 0
    assert out.startswith("usage: tinytorch")
    for word in expected:
        assert word in out, f"{word!r} missing from the help of {argv}"


def test_bench_help_comes_from_the_harness(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "bench", "--help")
    assert status == 0
    assert "tinytorch bench" in out and "--quick" in out and "--json" in out


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "--version")
    assert status == 0
    assert out.strip() == f"tinytorch {__version__}"


def test_no_command_prints_help_and_a_usage_status(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys)
    assert status == 2
    assert "usage: tinytorch" in out


# --------------------------------------------------------------------------- doctor


def test_doctor_reports_versions_blas_extras_and_data(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    import numpy as np

    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    status, out, _ = run_cli(capsys, "doctor")
    assert status == 0
    rows = dict(line.split(None, 1) for line in out.splitlines() if " " in line)
    assert rows["numpy"].strip() == np.__version__
    assert rows["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    assert rows["blas"].strip()
    for extra in ("torch", "matplotlib", "tqdm"):
        assert extra in rows["extras"]
    assert str(tmp_path) in rows["data"] and "TINYTORCH_DATA" in rows["data"]
    assert rows["digits"].startswith("ok (1438 train / 359 test images)")
    assert rows["corpus"].startswith("ok (")
    assert rows["mnist"].startswith("not found") and rows["cifar10"].startswith("not found")
    assert out.isascii()


# --------------------------------------------------------------------------- runs


def test_run_writes_json_and_markdown_table(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    json_path = tmp_path / "out" / "results.json"
    status, out, _ = run_cli(capsys, "milestones", "run", "01", "--quick", "--seed", "3",
                             "--json", str(json_path))
    assert status == 0
    report = json.loads(json_path.read_text())
    assert report["quick"] is True and report["seed"] == 3 and report["passed"] is True
    assert report["blas_threads"] == 1  # a number; threadpoolctl is in the test extras
    assert report["blas_threads_note"] == "BLAS threads: 1"
    [result] = report["results"]
    assert result["id"] == "01" and result["name"] == "perceptron"
    assert result["metric"] == "test accuracy" and result["target"] == perceptron.QUICK_TARGET
    assert result["value"] >= perceptron.QUICK_TARGET and result["passed"] is True
    assert len(result["history"]["test_acc"]) == len(result["history"]["train_loss"]) > 1
    markdown = json_path.with_suffix(".md").read_text()
    assert markdown.splitlines()[0] == "| milestone | metric | value | target | verdict | seconds |"
    assert "| 01 perceptron | perceptron: test accuracy |" in markdown and "| PASS |" in markdown
    # the terminal table ends the run
    assert "milestone" in out and "1 of 1 milestones met their targets" in out


def test_run_by_name_with_table_option(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    table = tmp_path / "table.md"
    status, out, _ = run_cli(capsys, "milestones", "run", "xor", "--quick", "--table", str(table))
    assert status == 0
    rows = table.read_text().splitlines()[2:]
    assert len(rows) == 3  # one row per check: the failing single layer, then the hidden layer
    assert "single layer (expected to fail)" in rows[0] and "<= 75.0%" in rows[0]
    assert all("| PASS |" in row for row in rows)


def test_a_missed_target_is_reported_and_exits_1(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(perceptron, "QUICK_TARGET", 1.01)  # unreachable on purpose
    status, out, _ = run_cli(capsys, "milestones", "run", "1", "--quick")
    assert status == 1
    assert "[MISS] perceptron: test accuracy" in out
    assert "Milestone 01 MISSED ITS TARGET" in out
    assert "0 of 1 milestones met their targets" in out and "missed: 01" in out


@pytest.mark.parametrize("bad", ["9", "07", "lenet", "all-of-them"])
def test_a_bad_milestone_id_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str],
                                                   bad: str) -> None:
    status, out, err = run_cli(capsys, "milestones", "run", bad)
    assert status == 2
    assert f"there is no milestone {bad!r}" in err
    assert "why: the milestones are 01 (perceptron)" in err
    assert "fix: run `tinytorch milestones list`" in err
    assert "Traceback" not in err and out == ""


def test_missing_mnist_gives_the_three_part_error(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "empty"))
    status, out, err = run_cli(capsys, "milestones", "run", "03", "--mnist")
    assert status == 2
    lines = err.splitlines()
    assert lines[0].startswith("tinytorch: error: MNIST files missing: train-images-idx3-ubyte")
    assert str(tmp_path / "empty") in lines[0]
    assert lines[1].startswith("  why: ") and lines[2].startswith("  fix: ")
    assert "TINYTORCH_DATA" in lines[2]
    assert "Traceback" not in err
    assert "Milestone 03" not in out  # it fails before training anything


def test_missing_cifar10_gives_the_three_part_error(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    status, _, err = run_cli(capsys, "milestones", "run", "all", "--quick", "--cifar10")
    assert status == 2
    assert "CIFAR-10 files missing" in err and "\n  why: " in err and "\n  fix: " in err


def test_bench_hands_its_arguments_to_the_harness(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.harness

    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(list(argv))
        return 3

    monkeypatch.setattr(benchmarks.harness, "main", fake_main)
    status, _, _ = run_cli(capsys, "bench", "--quick", "--json", "x.json", "--only", "gemm")
    assert status == 3
    assert seen == [["--quick", "--json", "x.json", "--only", "gemm"]]


def test_piped_run_is_plain_ascii_without_carriage_returns(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tinytorch.cli", "milestones", "run", "01", "--quick"],
        capture_output=True, cwd=REPO, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    assert completed.stdout.isascii() and b"\r" not in completed.stdout
    text = completed.stdout.decode()
    progress = [line for line in text.splitlines() if line.startswith("train [")]
    assert 1 <= len(progress) <= 10 and progress[-1].split()[2] == "100%"


# --------------------------------------------------------------------------- registry and report


def test_registry_finds_milestones_by_number_or_name() -> None:
    assert get_milestone("2").name == get_milestone("02").name == get_milestone("XOR").name == "xor"
    assert get_milestone(5).year == 2017
    assert [m.id for m in MILESTONES] == ["01", "02", "03", "04", "05", "06"]
    with pytest.raises(UnknownMilestoneError, match="there is no milestone '42'"):
        get_milestone("42")


def test_check_directions_and_nan() -> None:
    assert Check("a", "acc", 0.95, 0.95).passed
    assert not Check("a", "acc", 0.949, 0.95).passed
    assert Check("b", "loss", 1.2, 1.5, higher_is_better=False, unit="").passed
    assert not Check("b", "loss", 1.6, 1.5, higher_is_better=False, unit="").passed
    assert not Check("c", "acc", math.nan, 0.0).passed
    assert not Check("c", "loss", math.nan, 9.0, higher_is_better=False).passed
    assert Check("a", "acc", 0.5, 0.75, higher_is_better=False).target_text() == "<= 75.0%"
    assert Check("b", "loss", 1.0, 1.5, unit="").target_text() == ">= 1.500"


def test_result_passes_only_when_every_check_passes() -> None:
    good, bad = Check("x", "acc", 1.0, 0.9), Check("y", "acc", 0.1, 0.9)
    result = MilestoneResult.from_checks("09", "demo", [good, bad], 1.25, {"loss": [2, 1]},
                                         quick=True, seed=0)
    assert not result.passed
    assert (result.metric, result.value, result.target) == ("acc", 0.1, 0.9)
    assert result.to_dict()["checks"][0]["passed"] is True
    assert result.to_dict()["history"] == {"loss": [2.0, 1.0]}


def test_tables_have_one_row_per_check() -> None:
    result = MilestoneResult.from_checks(
        "02", "xor", [Check("single", "acc", 0.5, 0.75, higher_is_better=False),
                      Check("hidden", "acc", 1.0, 1.0)], 0.42, {}, quick=False, seed=0)
    text = format_table([result]).splitlines()
    assert text[0].split() == ["milestone", "metric", "value", "target", "verdict", "seconds"]
    assert text[2].startswith("02 xor") and text[2].rstrip().endswith("0.4")
    assert "PASS" in text[3] and not text[3].startswith("02")
    markdown = format_markdown([result]).splitlines()
    assert markdown[2] == "| 02 xor | single: acc | 50.0% | <= 75.0% | PASS | 0.4 |"
    assert markdown[3] == "|  | hidden: acc | 100.0% | >= 100.0% | PASS |  |"


def test_plain_progress_prints_at_most_the_asked_lines() -> None:
    buffer = io.StringIO()
    with Progress(1000, "train", buffer, lines=10) as bar:
        for step in range(1000):
            bar.update(1, loss=1.0 / (step + 1), test_acc=0.5)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in buffer.getvalue()
    assert lines[0].startswith("train [##------------------]  10%  100/1000  loss 0.0100")
    assert lines[-1].endswith("1000/1000  loss 0.0010  test_acc 50.0%")


class _FakeTerminal(io.StringIO):
    """A text stream that claims to be an interactive terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_uses_tqdm_on_a_terminal_unless_plain_is_forced(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.delenv("TINYTORCH_PLAIN", raising=False)
    terminal = _FakeTerminal()
    with Progress(5, "train", terminal) as bar:
        assert bar._bar is not None  # tqdm draws this one
        for _ in range(5):
            bar.update(1, loss=0.5)
    assert "5/5" in terminal.getvalue() and "loss 0.5000" in terminal.getvalue()

    monkeypatch.setenv("TINYTORCH_PLAIN", "1")
    forced = _FakeTerminal()
    with Progress(5, "train", forced, lines=1) as bar:
        assert bar._bar is None
        for _ in range(5):
            bar.update(1)
    assert forced.getvalue() == "train [####################] 100%  5/5\n"


def test_blas_threads_are_limited_inside_the_block_and_restored_after() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_counts() -> list[int]:
        return [p["num_threads"] for p in threadpoolctl.threadpool_info()
                if p["user_api"] == "blas"]

    before = blas_counts()
    with blas_threads(1) as note:
        assert note == "BLAS threads: 1"
        assert blas_counts() and all(n == 1 for n in blas_counts())
    assert blas_counts() == before
    with blas_threads(0) as note:
        assert note == "BLAS threads: library default" and blas_counts() == before
