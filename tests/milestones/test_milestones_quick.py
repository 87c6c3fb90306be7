"""Every milestone, in quick mode, really trains and meets its stated quick threshold.

Each test runs the milestone exactly as `tinytorch milestones run ID --quick` does, then checks
the measured numbers against the module's own quick targets (so a target cannot be loosened
in one place and forgotten in the other) and that the printed log is clean: plain ASCII, no
carriage returns, a verdict line. `pytest tests/milestones -k quick` selects them all.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinytorch.data import write_idx
from tinytorch.milestones import cnn, mlp, perceptron, run_milestone, transformer, xor
from tinytorch.milestones.report import MilestoneResult, blas_threads


def run_quick(key: str, **options: object) -> tuple[MilestoneResult, str]:
    """Run a milestone as `tinytorch milestones run KEY --quick` does; return result and log."""
    log = io.StringIO()
    with blas_threads(1):  # the command's default
        result = run_milestone(key, quick=True, seed=0, out=log, **options)
    text = log.getvalue()
    assert text.isascii() and "\r" not in text
    assert f"Milestone {result.id} PASSED" in text
    assert "Why it mattered:" in text
    return result, text


def assert_plot_written_or_skip_said(png: Path, text: str) -> None:
    """A PNG where matplotlib (the viz extra) is installed; without it, the log says so."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not png.exists() and "skipped" in text and "matplotlib" in text
        return
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_perceptron_quick_reaches_its_accuracy(tmp_path: Path) -> None:
    result, text = run_quick("01", plot_dir=tmp_path)
    assert result.passed and result.quick
    assert result.value >= perceptron.QUICK_TARGET == result.target
    assert result.history["test_acc"][-1] == result.value
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert "learned boundary:" in text
    assert_plot_written_or_skip_said(tmp_path / "01_perceptron.png", text)


def test_xor_quick_single_layer_fails_and_hidden_layer_solves_it() -> None:
    result, text = run_quick("xor")
    single, truth, noisy = result.checks
    assert single.value <= xor.SINGLE_LAYER_BOUND and not single.higher_is_better
    assert truth.value == 1.0 and noisy.value >= xor.QUICK_TARGET
    assert result.passed
    assert "0 xor 0 -> 0  0 xor 1 -> 1  1 xor 0 -> 1  1 xor 1 -> 0   (100% right)" in text


def test_mlp_quick_reads_digits() -> None:
    result, text = run_quick("03")
    assert result.passed and result.value >= mlp.QUICK_TARGET == result.target
    assert result.history["test_acc"][0] < result.value  # it learned during the run
    assert "shipped digits, 1438 training and 359 test images" in text


def test_cnn_quick_reads_digit_images_and_its_filters_move() -> None:
    result, text = run_quick("04")
    assert result.passed and result.value >= cnn.QUICK_TARGET == result.target
    moved = next(line for line in text.splitlines() if line.startswith("first conv layer"))
    assert int(moved.split("changed by ")[1].split("%")[0]) >= 5


def test_transformer_quick_reverses_and_tinygpt_loss_falls() -> None:
    result, text = run_quick("05")
    reversal, language = result.checks
    assert reversal.value >= transformer.REVERSAL_QUICK_TARGET
    assert language.value <= transformer.VAL_LOSS_QUICK_BOUND and not language.higher_is_better
    assert result.history["gpt_val_loss"][-1] == language.value
    assert language.value < np.log(70)  # far below a uniform guess over the characters
    assert "letter frequencies alone 3.2" in text  # and below a model of letter counts
    assert result.passed
    assert text.count("[held-out] Q: ") == 3 and text.count("[seen] Q: ") == 2
    assert text.count("(reference: ") == 5


def _write_fake_mnist(folder: Path, rng: np.random.Generator) -> None:
    """Tiny MNIST-format files: class k lights up row band k, so the data are learnable."""
    folder.mkdir(parents=True)
    for prefix, count in (("train", 400), ("t10k", 100)):
        labels = rng.integers(0, 10, size=count).astype(np.uint8)
        images = rng.integers(0, 60, size=(count, 28, 28)).astype(np.uint8)
        for index, label in enumerate(labels):
            images[index, 2 + 2 * label:4 + 2 * label, 4:24] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)


def _write_fake_cifar10(folder: Path, rng: np.random.Generator, per_batch: int = 60) -> None:
    """CIFAR-10 python batches in the real layout; class k is tinted by one colour pattern."""
    folder.mkdir(parents=True)
    tints = rng.integers(0, 256, size=(10, 3), dtype=np.uint8)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        labels = rng.integers(0, 10, size=per_batch)
        images = rng.integers(0, 80, size=(per_batch, 3, 32, 32)).astype(np.uint8)
        images[:, :, 8:24, 8:24] = tints[labels][:, :, None, None]
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in labels],
                 b"data": images.reshape(per_batch, 3072),
                 b"filenames": [f"{name}_{i}.png".encode() for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


@pytest.mark.parametrize(
    ("write", "folder", "number", "dataset", "name", "target", "line"),
    [(_write_fake_mnist, "mnist", "03", "mnist", "MLP on MNIST", mlp.MNIST_QUICK_TARGET,
      "data: MNIST, 400 training and 100 test images of 28x28"),
     (_write_fake_cifar10, "cifar-10-batches-py", "04", "cifar10", "CNN on CIFAR-10",
      cnn.CIFAR_QUICK_TARGET, "data: CIFAR-10, 300 training and 60 test images of 3x32x32")],
    ids=["mlp-mnist", "cnn-cifar10"])
def test_quick_judges_on_the_extra_files_when_asked(
        write: Callable[[Path, np.random.Generator], None], folder: str, number: str,
        dataset: str, name: str, target: float, line: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator) -> None:
    write(tmp_path / folder, rng)
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    result, text = run_quick(number, dataset=dataset)
    [check] = result.checks
    assert check.name == name and check.target == target
    assert line in text
    assert result.passed and check.value >= target


def test_full_runs_add_mnist_and_cifar10_as_extras_but_judge_on_digits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator) -> None:
    # The training itself is replaced (a full run is minutes); what is tested is the choice of
    # data sets, the verdict and the notes.
    _write_fake_mnist(tmp_path / "mnist", rng)
    _write_fake_cifar10(tmp_path / "cifar-10-batches-py", rng)
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    calls: list[str] = []

    def fake(name: str, accuracy: float) -> Callable[..., tuple[float, dict[str, list[float]]]]:
        def train(quick: bool, out: io.StringIO) -> tuple[float, dict[str, list[float]]]:
            calls.append(f"{name} quick={quick}")
            return accuracy, {"test_acc": [accuracy]}
        return train

    monkeypatch.setattr(mlp, "train_digits", fake("digits-mlp", 0.97))
    monkeypatch.setattr(mlp, "train_mnist", fake("mnist", 0.10))  # a poor extra run...
    monkeypatch.setattr(cnn, "train_digits", fake("digits-cnn", 0.97))
    monkeypatch.setattr(cnn, "train_cifar10", fake("cifar10", 0.50))
    mlp_result = mlp.run(quick=False, out=io.StringIO())
    cnn_result = cnn.run(quick=False, out=io.StringIO())
    assert calls == ["digits-mlp quick=False", "mnist quick=False",
                     "digits-cnn quick=False", "cifar10 quick=False"]
    assert mlp_result.passed  # ...does not decide the verdict, which uses the digits
    assert [c.name for c in mlp_result.checks] == ["MLP on digits"]
    assert mlp_result.notes == ["extra MNIST run: test accuracy 10.0% (reference >= 97%; "
                                "the verdict uses digits)"]
    assert mlp_result.history["mnist_test_acc"] == [0.10]
    assert cnn_result.notes[0].startswith("extra CIFAR-10 run: test accuracy 50.0%")
    # quick mode never adds the extras
    calls.clear()
    mlp.run(quick=True, out=io.StringIO())
    assert calls == ["digits-mlp quick=True"]


def test_mlperf_shrinks_the_classifiers_and_caches_the_gpt_in_its_short_run(tmp_path: Path) -> None:
    from tinytorch.milestones import mlperf

    result, text = run_quick("06", plot_dir=tmp_path)
    checks = {(c.name, c.metric): c for c in result.checks}
    for name in ("digits-mlp", "digits-cnn"):
        size = checks[(f"{name} pruned+int8", "times fewer real bytes")]
        drop = checks[(f"{name} pruned+int8", "accuracy drop (points)")]
        assert size.value >= mlperf.SIZE_TARGET == size.target
        assert drop.value <= mlperf.QUICK_MAX_ACCURACY_DROP == drop.target
    assert checks[("TinyGPT KV cache", "cached greedy text identical")].value == 1.0
    speedup = checks[("TinyGPT KV cache", "generation speed-up (x)")]
    assert speedup.value >= mlperf.CACHE_QUICK_TARGET == speedup.target
    assert "| digits-mlp | open | pruned+int8 |" in text and "| quantize |" in text
    assert_plot_written_or_skip_said(tmp_path / "06_mlperf_pareto.png", text)
