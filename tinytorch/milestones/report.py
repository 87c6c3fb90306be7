"""What every milestone shares: its result record, the banner, verdict, plots, table, training.

A milestone trains a model and then *checks* its numbers against stated targets; nothing
here decides that a run succeeded without measuring it. Output is plain ASCII unless it goes
to an interactive terminal (where ``tinytorch.core.progress.Progress`` draws a live bar), so
logs of a piped run read cleanly: a few progress lines, no carriage returns.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from tinytorch.core.progress import Progress


@dataclass(frozen=True)
class Check:
    """One measured number and the target it must meet.

    ``higher_is_better=False`` turns the target into an upper bound (a loss, or the accuracy a
    model is *expected to fail* to exceed, as the single-layer XOR network).
    """

    name: str
    metric: str
    value: float
    target: float
    higher_is_better: bool = True
    unit: str = "%"  # "%" shows a fraction as a percentage; "" shows the number as is

    @property
    def passed(self) -> bool:
        """True when the measured value meets the target (a NaN never does)."""
        if math.isnan(self.value):
            return False
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def show(self, number: float) -> str:
        """Format a value or target in this check's unit."""
        return f"{100.0 * number:.1f}%" if self.unit == "%" else f"{number:.3f}"

    def target_text(self) -> str:
        """The target with its direction, e.g. '>= 95.0%' or '<= 1.500'."""
        return f"{'>=' if self.higher_is_better else '<='} {self.show(self.target)}"


@dataclass
class MilestoneResult:
    """What a milestone run measured, and whether it met its targets.

    ``metric``, ``value`` and ``target`` repeat the headline check (the last one, which is the
    milestone's main claim); ``passed`` is True only when *every* check passed.
    """

    id: str
    name: str
    metric: str
    value: float
    target: float
    passed: bool
    seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    quick: bool = False
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_checks(cls, milestone_id: str, name: str, checks: Sequence[Check], seconds: float,
                    history: Mapping[str, list[float]], quick: bool, seed: int,
                    notes: Sequence[str] = ()) -> MilestoneResult:
        """Build the result from its checks; the last check is the headline."""
        head = checks[-1]
        return cls(id=milestone_id, name=name, metric=head.metric, value=head.value,
                   target=head.target, passed=all(c.passed for c in checks), seconds=seconds,
                   history={k: [float(v) for v in vs] for k, vs in history.items()},
                   checks=list(checks), quick=quick, seed=seed, notes=list(notes))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dictionary (each check carries its own ``passed``)."""
        data = asdict(self)
        for check_dict, check in zip(data["checks"], self.checks, strict=True):
            check_dict["passed"] = check.passed
            check_dict["target_text"] = check.target_text()
        return data


# --------------------------------------------------------------------------- printing


def say(out: TextIO, text: str = "") -> None:
    """Write one line and flush, so a piped log shows it at once."""
    out.write(text + "\n")
    out.flush()


def banner(out: TextIO, milestone_id: str, year: int, title: str, story: str,
           shows: str, quick: bool) -> None:
    """Print the milestone's heading, why it mattered, and what this run will show."""
    mode = "  [quick mode]" if quick else ""
    say(out, "=" * 78)
    say(out, f"Milestone {milestone_id} ({year}): {title}{mode}")
    say(out, "=" * 78)
    for label, text in (("Why it mattered", story), ("What you will see", shows)):
        say(out, f"{label}:")
        for line in _wrap(text, 74):
            say(out, f"  {line}")
    say(out)


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap (textwrap would do too; this keeps the output predictable)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def verdict(out: TextIO, result: MilestoneResult) -> None:
    """Print each check against its target and the overall verdict."""
    say(out)
    for check in result.checks:
        mark = "PASS" if check.passed else "MISS"
        say(out, f"  [{mark}] {check.name}: {check.metric} {check.show(check.value)} "
                 f"(target {check.target_text()})")
    for note in result.notes:
        say(out, f"  note: {note}")
    overall = "PASSED" if result.passed else "MISSED ITS TARGET"
    say(out, f"Milestone {result.id} {overall} in {result.seconds:.1f} s")
    say(out)


# --------------------------------------------------------------------------- timing


class Timer:
    """Wall-clock seconds since construction (``time.perf_counter``)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Seconds elapsed so far."""
        return time.perf_counter() - self.start


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield index arrays that cover ``range(n)`` in a fresh random order, ``batch_size`` each."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


# --------------------------------------------------------------------------- plots


def save_curves(history: Mapping[str, Sequence[float]], plot_dir: str | os.PathLike[str] | None,
                filename: str, title: str, out: TextIO, x_label: str = "epoch") -> Path | None:
    """Save the loss and accuracy curves as a PNG when matplotlib is installed; say what happened.

    Keys containing ``acc`` go to the right-hand (accuracy) panel, the rest to the loss panel.
    Returns the written path, or None (no ``plot_dir``, or no matplotlib: a note is printed).
    """
    if plot_dir is None:
        return None
    curves = {name: list(values) for name, values in history.items() if len(values) > 0}
    try:
        # The object API with an explicit Agg canvas: no pyplot global state, no GUI backend.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        say(out, f"  plot skipped: matplotlib is not installed (pip install matplotlib), "
                 f"so {filename} was not written")
        return None
    panels = [[n for n in curves if "acc" not in n], [n for n in curves if "acc" in n]]
    panels = [names for names in panels if names]
    figure = Figure(figsize=(5.0 * max(len(panels), 1), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    for index, names in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        same_length = len({len(curves[name]) for name in names}) == 1
        for name in names:
            values = curves[name]
            # curves sampled at different rates (per step, per evaluation) share one axis:
            # the fraction of training done
            xs = (np.arange(1, len(values) + 1) if same_length
                  else np.linspace(1.0 / len(values), 1.0, len(values)))
            axes.plot(xs, values, label=name)
        axes.set_xlabel(x_label if same_length else "fraction of training")
        axes.set_ylabel("accuracy" if "acc" in names[0] else "loss")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    path = Path(plot_dir)
    path.mkdir(parents=True, exist_ok=True)
    target = path / filename
    figure.savefig(target, dpi=100)
    say(out, f"  curves saved to {target}")
    return target


# --------------------------------------------------------------------------- results table


def table_rows(results: Sequence[MilestoneResult]) -> list[list[str]]:
    """One row per check: milestone, metric, value, target, verdict, seconds."""
    rows = []
    for result in results:
        for index, check in enumerate(result.checks):
            label = f"{result.id} {result.name}" if index == 0 else ""
            seconds = f"{result.seconds:.1f}" if index == 0 else ""
            rows.append([label, f"{check.name}: {check.metric}", check.show(check.value),
                         check.target_text(), "PASS" if check.passed else "MISS", seconds])
    return rows


HEADER = ["milestone", "metric", "value", "target", "verdict", "seconds"]


def format_table(results: Sequence[MilestoneResult]) -> str:
    """The results as a plain-text table for the terminal."""
    rows = [HEADER, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(results: Sequence[MilestoneResult]) -> str:
    """The results as a GitHub markdown table (for the README)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] * len(HEADER)) + "|"]
    for row in table_rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- optional data sets


def dataset_present(name: str, root: str | os.PathLike[str] | None = None) -> bool:
    """True when every file of ``name`` ('mnist' or 'cifar10') is in the data folder.

    Only looks; loading (and its clear error when a file is damaged) is the loader's job.
    """
    from tinytorch.data import cifar, mnist
    from tinytorch.data.paths import data_root, find_file

    base = data_root(root)
    if name == "mnist":
        folders = [base / "mnist", base / "MNIST" / "raw", base]
        return all(find_file(f, folders, allow_gz=True) for f in mnist.MNIST_FILES)
    if name == "cifar10":
        folders = [base / cifar.BATCH_FOLDER, base]
        return all(find_file(f, folders) for f in cifar.CIFAR10_FILES)
    raise ValueError(f"unknown optional data set {name!r}; expected 'mnist' or 'cifar10'")


# --------------------------------------------------------------------------- training loop


@dataclass
class Split:
    """Training and test arrays of one data set (inputs float32, targets as the loss wants)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def cosine(max_lr: float, epochs: int, min_fraction: float = 0.02, warmup: int = 0) -> Any:
    """A per-epoch (or per-step) learning rate: a linear warmup, then a half cosine down.

    Ending small makes the last epoch's weights, the ones that are judged, settle instead of
    bouncing between good and slightly worse solutions; the warmup keeps Adam's first,
    poorly estimated steps small.
    """

    def rate(epoch: int) -> float:
        progress = epoch / max(epochs - 1, 1)
        fraction = min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
        return max_lr * fraction * min(1.0, (epoch + 1) / (warmup + 1))

    return rate


def evaluate(model: Any, loss_fn: Any, x: np.ndarray, y: np.ndarray,
             predict: Any, batch_size: int = 1024) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(x, y)``, in eval mode and without a graph.

    ``predict`` turns a batch of model outputs (an array) into predicted labels comparable
    with ``y``.
    """
    from tinytorch.core.autograd import no_grad
    from tinytorch.core.tensor import Tensor

    was_training = getattr(model, "training", True)
    model.eval()
    total_loss, correct = 0.0, 0
    with no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            output = model(Tensor._from_op(xb, None))
            total_loss += float(loss_fn(output, Tensor._from_op(yb, None)).item()) * len(xb)
            correct += int((predict(output.data) == yb).sum())
    model.train(was_training)
    return total_loss / len(x), correct / len(x)


def fit(model: Any, loss_fn: Any, optimizer: Any, data: Split, epochs: int, batch_size: int,
        predict: Any, out: TextIO, desc: str = "train", schedule: Any = None,
        augment: Any = None) -> dict[str, list[float]]:
    """Train with shuffled minibatches, evaluating after every epoch; return the history.

    ``schedule(epoch)``, when given, returns the learning rate for that epoch (0-based).
    ``augment(x_batch, rng)``, when given, returns a randomly altered copy of a training batch.
    The history holds ``train_loss``, ``test_loss``, ``train_acc`` and ``test_acc`` per epoch.
    """
    from tinytorch.core.rng import get_rng
    from tinytorch.core.tensor import Tensor

    history: dict[str, list[float]] = {"train_loss": [], "test_loss": [],
                                       "train_acc": [], "test_acc": []}
    rng = get_rng()
    _, start_acc = evaluate(model, loss_fn, data.x_test, data.y_test, predict)
    say(out, f"before training: test accuracy {100.0 * start_acc:.1f}%")
    with Progress(epochs, desc, out, unit="epoch") as bar:
        for epoch in range(epochs):
            if schedule is not None:
                optimizer.lr = schedule(epoch)
            model.train()
            seen, loss_sum, correct = 0, 0.0, 0
            for index in minibatches(len(data.x_train), batch_size, rng):
                xb, yb = data.x_train[index], data.y_train[index]
                if augment is not None:
                    xb = augment(xb, rng)
                output = model(Tensor._from_op(xb, None))
                loss = loss_fn(output, Tensor._from_op(yb, None))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.item()) * len(index)
                correct += int((predict(output.data) == yb).sum())
                seen += len(index)
            test_loss, test_acc = evaluate(model, loss_fn, data.x_test, data.y_test, predict)
            history["train_loss"].append(loss_sum / seen)
            history["train_acc"].append(correct / seen)
            history["test_loss"].append(test_loss)
            history["test_acc"].append(test_acc)
            bar.update(1, loss=loss_sum / seen, test_acc=test_acc)
    return history


# --------------------------------------------------------------------------- a whole run


class MilestoneRun:
    """What every milestone's ``run()`` does first and last, around its own training.

    Creating one starts the clock, prints the banner and seeds the global RNG, so the data,
    the initial weights and the shuffling all follow ``seed``. ``finish`` turns the measured
    checks into the result, saves the curves (when there is a ``plot_dir``) and prints the
    verdict.

    Args:
        milestone_id, name, year, title: the milestone's number, short name, year and title.
        story, shows: why it mattered, and what this run will show (for the banner).
        quick: whether this is a quick run.
        seed: the seed of the global RNG.
        plot_dir: save the curves there as PNG (None: no plot).
        out: where to print; ``sys.stdout`` at call time when None.
    """

    def __init__(self, milestone_id: str, name: str, year: int, title: str, story: str,
                 shows: str, *, quick: bool, seed: int,
                 plot_dir: str | os.PathLike[str] | None, out: TextIO | None) -> None:
        from tinytorch.core.rng import manual_seed

        self.id, self.name, self.title = milestone_id, name, title
        self.quick, self.seed, self.plot_dir = quick, seed, plot_dir
        self.out = out if out is not None else sys.stdout
        self.timer = Timer()
        banner(self.out, milestone_id, year, title, story, shows, quick)
        manual_seed(seed)

    def finish(self, checks: Sequence[Check], history: Mapping[str, list[float]],
               notes: Sequence[str] = (), x_label: str = "epoch") -> MilestoneResult:
        """Judge the checks (the last one is the headline), save the curves, print the verdict."""
        result = MilestoneResult.from_checks(self.id, self.name, checks, self.timer.seconds,
                                             history, self.quick, self.seed, notes)
        save_curves(history, self.plot_dir, f"{self.id}_{self.name}.png",
                    f"Milestone {self.id}: {self.title}", self.out, x_label=x_label)
        verdict(self.out, result)
        return result


# Trains one model on one data set: (quick, out) -> (test accuracy, history).
TrainFn = Callable[[bool, TextIO], tuple[float, dict[str, list[float]]]]


def check_dataset(dataset: str, extra: str) -> None:
    """Refuse any data set but ``"digits"`` and the milestone's optional ``extra`` one."""
    if dataset not in ("digits", extra):
        raise ValueError(f"dataset must be 'digits' or {extra!r}, not {dataset!r}")


def train_digits_or_extra(session: MilestoneRun, model: str, dataset: str, *,
                          train_digits: TrainFn, target: float, extra: str, extra_label: str,
                          train_extra: TrainFn, extra_target: float
                          ) -> tuple[list[Check], dict[str, list[float]], list[str]]:
    """Train on the shipped digits or on an optional data set; return (checks, history, notes).

    With ``dataset == extra`` the verdict uses the optional data set (its files must be in the
    data folder). Otherwise it uses the shipped digits, and a full run also trains on ``extra``
    when its files are present: that accuracy becomes a note and its curves join the history
    under ``{extra}_`` keys, but it never decides the verdict.

    Args:
        session: the run (its ``quick`` and ``out``).
        model: the model's name in the checks, e.g. "MLP".
        dataset: ``"digits"`` or ``extra``.
        train_digits, train_extra: train on each data set.
        target, extra_target: the test accuracy each must reach in this (quick or full) mode.
        extra, extra_label: the optional data set's key ("mnist") and printed name ("MNIST").
    """
    quick, out = session.quick, session.out
    if dataset == extra:
        accuracy, history = train_extra(quick, out)
        judged = Check(f"{model} on {extra_label}", "test accuracy", accuracy, extra_target)
        return [judged], history, []
    accuracy, history = train_digits(quick, out)
    checks = [Check(f"{model} on digits", "test accuracy", accuracy, target)]
    notes: list[str] = []
    if not quick and dataset_present(extra):
        say(out, f"extra: {extra_label} files found in the data folder, training on them too")
        extra_accuracy, extra_history = train_extra(quick, out)
        history.update({f"{extra}_{k}": v for k, v in extra_history.items()})
        notes.append(f"extra {extra_label} run: test accuracy {100.0 * extra_accuracy:.1f}% "
                     f"(reference >= {100.0 * extra_target:.0f}%; the verdict uses digits)")
    elif not quick:
        notes.append(f"{extra_label} not found in the data folder, so only the shipped digits ran")
    return checks, history, notes


# --------------------------------------------------------------------------- BLAS threads


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[str]:
    """Limit BLAS to ``count`` threads inside the block (``count <= 0``: leave it alone).

    The milestones multiply small matrices: one BLAS thread is about as fast as two on an idle
    machine, and much faster on a busy one, where a second thread waits for a core at every
    call. Needs threadpoolctl; yields a note saying what was done.
    """
    if count <= 0:
        yield "BLAS threads: library default"
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield (f"BLAS threads: library default (install threadpoolctl to limit them to "
               f"{count})")
        return
    with threadpool_limits(limits=count, user_api="blas"):
        yield f"BLAS threads: {count}"
