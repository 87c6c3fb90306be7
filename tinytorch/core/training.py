"""Training (module 08): the Trainer loop, learning-rate schedules, gradient clipping, checkpoints.

``Trainer`` runs the loop every model needs: forward, loss, backward, (clip), optimizer step,
epoch after epoch, with evaluation, a progress bar and a history of the numbers. Its
checkpoints hold everything a run depends on (weights, optimizer moments, schedule, epoch,
history and the global RNG state), so a run stopped and resumed from a checkpoint computes
exactly what the uninterrupted run would have.

A schedule (``tinytorch.core.schedulers``, re-exported here as the course imports it) maps an
epoch number to a learning rate. The Trainer writes the schedule's rates for epoch ``e`` into
the optimizer at the start of every epoch, so epoch ``e`` always trains with the schedule's
value for ``e``, whether the run was resumed or not. ``MSELoss`` and ``CrossEntropyLoss`` are
importable from here too, as course code does.

Example:
    >>> schedule = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=10)
    >>> [round(schedule.get_lr(e), 4) for e in (0, 5, 10)]
    [0.1, 0.055, 0.01]
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sized
from typing import Any

import numpy as np

from tinytorch.core.autograd import detect_anomaly, no_grad
from tinytorch.core.errors import SerializationError, explain
from tinytorch.core.layers import Module
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.progress import Progress
from tinytorch.core.rng import get_rng_state, set_rng_state
from tinytorch.core.schedulers import (
    CosineAnnealingLR,
    CosineSchedule,
    LambdaLR,
    LinearWarmup,
    LRScheduler,
    OneCycleLR,
    StepLR,
    set_group_rates,
)
from tinytorch.core.serialization import load_arrays, save_arrays
from tinytorch.core.tensor import Tensor

_CHECKPOINT_FORMAT = "tinytorch.checkpoint/1"
_HISTORY_KEYS = ("train_loss", "val_loss", "val_accuracy", "lr")
_HISTORY_ALIASES = {"eval_loss": "val_loss", "learning_rates": "lr"}  # upstream's key names


# --- Gradient clipping -------------------------------------------------------------------------


def clip_grad_norm(parameters: Iterable[Any] | Tensor, max_norm: float = 1.0,
                   norm_type: float = 2.0) -> float:
    """Scale all gradients together so their joint norm is at most ``max_norm``; in place.

    The norm is taken over every gradient as if they were one long vector. When it exceeds
    ``max_norm`` each gradient is multiplied by ``max_norm / (norm + 1e-6)``, the same rule as
    ``torch.nn.utils.clip_grad_norm_``. Parameters without a gradient are skipped.

    Args:
        parameters: the parameters (an iterable or a single Tensor).
        max_norm: the largest joint norm allowed.
        norm_type: the p of the p-norm (``float('inf')`` for the largest absolute value).

    Returns:
        The joint norm *before* clipping, as a Python float.

    Example:
        >>> from tinytorch.core.tensor import Parameter
        >>> w = Parameter([0.0, 0.0]); w.grad = np.array([3.0, 4.0], dtype=np.float32)
        >>> clip_grad_norm([w], max_norm=1.0)
        5.0
        >>> [round(g, 4) for g in w.grad.tolist()]
        [0.6, 0.8]
    """
    if not max_norm > 0 or not norm_type > 0:
        raise ValueError(explain(
            what=f"clip_grad_norm got max_norm={max_norm}, norm_type={norm_type}",
            why="a norm limit and the order of a norm must be positive",
            fix="pass max_norm such as 1.0 and norm_type 2.0 (or float('inf'))",
        ))
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [np.asarray(getattr(p.grad, "data", p.grad)) for p in params
             if getattr(p, "grad", None) is not None]
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) for g in grads)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
    else:
        total = sum(float(np.sum(np.abs(g) ** norm_type)) for g in grads) ** (1.0 / norm_type)
    coefficient = max_norm / (total + 1e-6)
    if coefficient < 1.0:
        for g in grads:
            g *= coefficient
    return total


# --- The Trainer ---------------------------------------------------------------------------------


def _as_input(x: Any) -> Any:
    """Wrap array batches in Tensors (integers keep their dtype); leave Tensors as they are."""
    if isinstance(x, Tensor) or not isinstance(x, (np.ndarray, list)):
        return x
    array = np.asarray(x)
    return Tensor._from_op(array if array.dtype != np.float64 else array.astype(np.float32),
                           None)


def _hits(outputs: np.ndarray, targets: Any) -> tuple[int, int] | None:
    """(correct, counted) for class-index or one-hot targets; None when accuracy is undefined."""
    target = np.asarray(getattr(targets, "data", targets))
    if outputs.ndim == 0 or outputs.shape[-1] < 2:
        return None
    if target.shape == outputs.shape[:-1] and target.dtype.kind in "iuf":
        predicted = outputs.argmax(axis=-1)
        return int(np.sum(predicted == target)), int(target.size)
    one_hot = (target.shape == outputs.shape and np.all((target == 0) | (target == 1))
               and np.all(target.sum(axis=-1) == 1))
    if one_hot:
        predicted = outputs.argmax(axis=-1)
        return int(np.sum(predicted == target.argmax(axis=-1))), int(predicted.size)
    return None


def _new_history() -> dict[str, list[float]]:
    history: dict[str, list[float]] = {key: [] for key in _HISTORY_KEYS}
    for alias, key in _HISTORY_ALIASES.items():
        history[alias] = history[key]  # the same list under upstream's name
    return history


class Trainer:
    """Train and evaluate a model: epochs of forward, loss, backward, clip and optimizer step.

    Args:
        model: a Module, any callable, or a plain object that only defines ``forward()``,
            mapping a batch to outputs (its parameters are the optimizer's).
        optimizer: updates the parameters (``step``, ``zero_grad``, ``lr``, ``state_dict``).
        loss_fn: ``loss_fn(outputs, targets)`` -> scalar Tensor; cross-entropy when None.
        scheduler: optional; sets ``optimizer.lr = scheduler.get_lr(epoch)`` every epoch.
        grad_clip_norm: when set, gradients are clipped to this joint L2 norm before each step.
        detect_anomaly: run forward and backward in ``autograd.detect_anomaly()``, which stops
            at the first op producing NaN or Inf and names it (slower; for debugging).

    Attributes:
        epoch: completed training epochs.  step: optimizer steps taken.
        history: lists ``train_loss``, ``val_loss``, ``val_accuracy``, ``lr`` (one entry per
            epoch; upstream's ``eval_loss`` and ``learning_rates`` name the same lists).
    """

    def __init__(self, model: Any, optimizer: Any, loss_fn: Callable[[Any, Any], Tensor] | None
                 = None, scheduler: Any = None, grad_clip_norm: float | None = None,
                 detect_anomaly: bool = False) -> None:
        if grad_clip_norm is not None and not grad_clip_norm > 0:
            raise ValueError(explain(
                what=f"Trainer got grad_clip_norm={grad_clip_norm}",
                why="gradients are scaled down to this norm, so it must be positive",
                fix="pass a value such as 1.0, or None to disable clipping",
            ))
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn if loss_fn is not None else CrossEntropyLoss()
        self.scheduler = scheduler
        self.grad_clip_norm = grad_clip_norm
        self.detect_anomaly = detect_anomaly
        self.epoch = 0
        self.step = 0
        self.training_mode = True
        self.history = _new_history()

    # --- one epoch -------------------------------------------------------------------------

    def train_epoch(self, dataloader: Iterable[Any], accumulation_steps: int = 1, *,
                    progress: str | None = None) -> float:
        """Train for one pass over ``dataloader``; returns the mean of the batch losses.

        With ``accumulation_steps = k`` the optimizer steps once every k batches on the
        *average* of their gradients (each loss is scaled by 1/k), so k batches of size B
        update like one batch of size kB. A final group of r < k batches is averaged over r.

        Args:
            dataloader: an iterable of ``(inputs, targets)`` batches.
            accumulation_steps: batches per optimizer step.
            progress: a label to show a progress bar with (None: no bar).

        Raises:
            ValueError: accumulation_steps < 1, or the dataloader yields no batch.
        """
        if int(accumulation_steps) != accumulation_steps or accumulation_steps < 1:
            raise ValueError(explain(
                what=f"train_epoch got accumulation_steps={accumulation_steps}",
                why="it is the number of batches whose gradients make one step",
                fix="pass a positive integer (1 steps after every batch)",
            ))
        k = int(accumulation_steps)
        self._set_mode(True)
        set_epoch = getattr(dataloader, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(self.epoch)  # seeded shuffling follows the trainer's epoch
        lr = self._apply_schedule()
        total, batches, pending = 0.0, 0, 0
        self.optimizer.zero_grad()
        with self._progress_bar(dataloader, progress) as bar, self._anomaly_mode():
            for inputs, targets in dataloader:
                loss = self._forward_loss(inputs, targets)
                value = float(loss.item())
                if k == 1:
                    loss.backward()
                else:  # seeding backward with 1/k scales every gradient by 1/k: an average
                    loss.backward(np.full(loss.shape, 1.0 / k, dtype=loss.dtype))
                total, batches, pending = total + value, batches + 1, pending + 1
                if bar is not None:
                    bar.update(loss=value)
                if pending == k:
                    self._optimizer_step()
                    pending = 0
            if pending:
                self._scale_gradients(k / pending)  # the last group had only `pending` batches
                self._optimizer_step()
        if batches == 0:
            raise ValueError(explain(
                what="train_epoch got a dataloader that yielded no batches",
                why="an epoch needs at least one batch to compute a loss",
                fix="check the dataset size, and drop_last with a batch_size larger than it",
            ))
        mean_loss = total / batches
        self.history["train_loss"].append(mean_loss)
        self.history["lr"].append(lr)
        self.epoch += 1
        return mean_loss

    def evaluate(self, data: Iterable[Any]) -> tuple[float, float]:
        """Loss and accuracy over ``data`` in eval mode, without building any graph.

        ``data`` is any iterable of ``(inputs, targets)`` batches (a DataLoader, a list, a
        generator). The loss is the mean over samples (batches weighted by their size).
        Accuracy compares the argmax over the last axis of the outputs with class-index (or
        one-hot) targets; for other targets, such as regression values, it is ``nan``. The
        previous train/eval mode of every sub-module is restored afterwards. The results are
        appended to ``history['val_loss']`` and ``history['val_accuracy']``.
        """
        modes = self._modes()
        self._set_mode(False)
        total = 0.0
        samples = correct = counted = 0
        accuracy_defined = True
        try:
            with no_grad():
                for inputs, targets in data:
                    outputs = self._run_model(inputs)
                    loss = self.loss_fn(outputs, targets)
                    size = outputs.shape[0] if outputs.ndim else 1
                    total += float(loss.item()) * size
                    samples += size
                    hits = _hits(np.asarray(outputs.data), targets)
                    if hits is None:
                        accuracy_defined = False
                    else:
                        correct, counted = correct + hits[0], counted + hits[1]
        finally:
            self._restore_modes(modes)
        if samples == 0:
            raise ValueError(explain(
                what="evaluate got data that yielded no batches",
                why="a mean loss over zero samples is undefined",
                fix="pass a non-empty DataLoader or list of (inputs, targets) batches",
            ))
        loss_value = total / samples
        accuracy = correct / counted if accuracy_defined and counted else float("nan")
        self.history["val_loss"].append(loss_value)
        self.history["val_accuracy"].append(accuracy)
        return loss_value, accuracy

    def fit(self, train_loader: Iterable[Any], val_loader: Iterable[Any] | None = None,
            epochs: int = 10, verbose: bool = True,
            accumulation_steps: int = 1) -> dict[str, list[float]]:
        """Run ``epochs`` more epochs (evaluating after each when ``val_loader`` is given).

        With ``verbose`` a progress bar runs during each epoch (in a terminal or notebook) and
        one summary line per epoch is printed. Returns ``history``.
        """
        last = self.epoch + int(epochs)
        for _ in range(int(epochs)):
            started = time.perf_counter()
            label = f"epoch {self.epoch + 1}/{last}"
            train_loss = self.train_epoch(train_loader, accumulation_steps,
                                          progress=label if verbose else None)
            line = f"{label}  train loss {train_loss:.4f}"
            if val_loader is not None:
                val_loss, val_accuracy = self.evaluate(val_loader)
                line += f"  val loss {val_loss:.4f}"
                if not math.isnan(val_accuracy):
                    line += f"  val acc {val_accuracy:.2%}"
            line += f"  lr {self.history['lr'][-1]:.4g}  ({time.perf_counter() - started:.1f}s)"
            if verbose:
                print(line, flush=True)
        return self.history

    # --- pieces of the loop ----------------------------------------------------------------

    def _forward_loss(self, inputs: Any, targets: Any) -> Tensor:
        outputs = self._run_model(inputs)
        loss: Tensor = self.loss_fn(outputs, targets)
        return loss

    def _run_model(self, inputs: Any) -> Any:
        """Call the model, or its ``forward`` when it is a plain object that only defines that."""
        run = self.model if callable(self.model) else self.model.forward
        return run(_as_input(inputs))

    def _optimizer_step(self) -> None:
        if self.grad_clip_norm is not None:
            clip_grad_norm(self._parameters(), self.grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.step += 1

    def _parameters(self) -> list[Any]:
        params = getattr(self.optimizer, "params", None)
        return list(params) if params is not None else list(self.model.parameters())

    def _scale_gradients(self, factor: float) -> None:
        for p in self._parameters():
            if p.grad is not None:
                p.grad.data *= factor

    def _apply_schedule(self) -> float:
        if self.scheduler is not None:
            rates = getattr(self.scheduler, "get_lrs", None)
            set_group_rates(self.optimizer, rates(self.epoch) if callable(rates)
                            else [self.scheduler.get_lr(self.epoch)])
            self.scheduler.epoch = self.epoch
        return float(self.optimizer.lr)

    def _progress_bar(self, dataloader: Iterable[Any], label: str | None
                      ) -> contextlib.AbstractContextManager[Progress | None]:
        if label is None:
            return contextlib.nullcontext()
        total = len(dataloader) if isinstance(dataloader, Sized) else None
        # lines=0: in a log file only fit's per-epoch summary lines appear, never a bar
        return Progress(total, label, sys.stdout, unit="batch", lines=0, leave=False)

    def _anomaly_mode(self) -> contextlib.AbstractContextManager[None]:
        return detect_anomaly() if self.detect_anomaly else contextlib.nullcontext()

    def _modes(self) -> list[tuple[Any, bool]]:
        if isinstance(self.model, Module):
            return [(m, m.training) for m in self.model.modules()]
        return [(self.model, getattr(self.model, "training", True))]

    def _restore_modes(self, modes: list[tuple[Any, bool]]) -> None:
        for module, mode in modes:
            module.training = mode
        self.training_mode = bool(modes[0][1])

    def _set_mode(self, training: bool) -> None:
        if isinstance(self.model, Module):
            self.model.train(training)
        else:
            self.model.training = training
        self.training_mode = training

    # --- checkpoints -----------------------------------------------------------------------

    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write model, optimizer, schedule, epoch, history and RNG state to ``path``.

        One ``.npz`` file (arrays) with JSON metadata: no pickle, written atomically.
        """
        optimizer_state = dict(self.optimizer.state_dict())
        buffers = optimizer_state.pop("buffers", {})
        arrays = {f"model/{k}": v for k, v in _model_state(self.model, self._parameters()).items()}
        arrays.update({f"optimizer/{k}": v for k, v in buffers.items()})
        metadata = {
            "format": _CHECKPOINT_FORMAT,
            "model_class": type(self.model).__name__,
            "epoch": self.epoch,
            "step": self.step,
            "history": {key: list(self.history[key]) for key in _HISTORY_KEYS},
            "optimizer": optimizer_state,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": get_rng_state(),
        }
        save_arrays(path, arrays, metadata)

    def load_checkpoint(self, path: str | os.PathLike[str]) -> Trainer:
        """Restore everything ``save_checkpoint`` wrote, so training resumes exactly.

        Raises:
            SerializationError: the file is missing, corrupt, not a checkpoint, or does not
                match this model, optimizer or schedule. Nothing is changed in that case.
        """
        arrays, meta = load_arrays(path)
        if meta.get("format") != _CHECKPOINT_FORMAT:
            raise SerializationError(explain(
                what=f"{str(path)!r} is not a tinytorch checkpoint (format "
                     f"{meta.get('format')!r})",
                why=f"load_checkpoint reads files written by save_checkpoint "
                    f"({_CHECKPOINT_FORMAT})",
                fix="point to a file saved with trainer.save_checkpoint(path)",
            ))
        model_backup = _model_state(self.model, self._parameters())
        optimizer_backup = self.optimizer.state_dict()
        scheduler_backup = None if self.scheduler is None else self.scheduler.state_dict()
        try:
            _load_model_state(self.model, {k[len("model/"):]: v for k, v in arrays.items()
                                           if k.startswith("model/")}, self._parameters())
            optimizer_state = dict(meta["optimizer"])
            optimizer_state["buffers"] = {k[len("optimizer/"):]: v for k, v in arrays.items()
                                          if k.startswith("optimizer/")}
            self.optimizer.load_state_dict(optimizer_state)
            if (meta["scheduler"] is None) != (self.scheduler is None):
                raise SerializationError(explain(
                    what="the checkpoint and this trainer disagree on having a schedule",
                    why="resuming must continue the same learning-rate schedule",
                    fix="build the trainer with the same scheduler as the saved run",
                ))
            if self.scheduler is not None:
                self.scheduler.load_state_dict(meta["scheduler"])
            history = {key: [float(v) for v in meta["history"][key]] for key in _HISTORY_KEYS}
            epoch, step, rng = int(meta["epoch"]), int(meta["step"]), dict(meta["rng"])
        except Exception as exc:
            _load_model_state(self.model, model_backup, self._parameters())
            self.optimizer.load_state_dict(optimizer_backup)
            if self.scheduler is not None and scheduler_backup is not None:
                self.scheduler.load_state_dict(scheduler_backup)
            if isinstance(exc, SerializationError):
                raise
            raise SerializationError(explain(
                what=f"the checkpoint {str(path)!r} is incomplete or malformed "
                     f"({type(exc).__name__}: {exc})",
                why="a checkpoint must hold the model, optimizer, history, epoch and RNG state",
                fix="save the checkpoint again with trainer.save_checkpoint(path)",
            )) from exc
        set_rng_state(rng)
        for key in _HISTORY_KEYS:
            self.history[key][:] = history[key]  # in place: the upstream aliases stay linked
        self.epoch, self.step = epoch, step
        return self


def _model_state(model: Any, params: list[Any]) -> dict[str, np.ndarray]:
    """The model's state dict; a model without one is saved as its parameters by position."""
    if callable(getattr(model, "state_dict", None)):
        return dict(model.state_dict())
    return {str(i): p.data.copy() for i, p in enumerate(params)}


def _load_model_state(model: Any, state: dict[str, np.ndarray], params: list[Any]) -> None:
    if callable(getattr(model, "load_state_dict", None)):
        model.load_state_dict(state)
        return
    if sorted(state) != sorted(str(i) for i in range(len(params))) or any(
            state[str(i)].shape != p.data.shape for i, p in enumerate(params)):
        raise SerializationError(explain(
            what=f"the checkpoint holds {len(state)} parameters, the model has {len(params)} "
                 "(or their shapes differ)",
            why="parameters are matched by position",
            fix="build the same model as in the saved run",
        ))
    for i, p in enumerate(params):
        p.data[...] = state[str(i)]


__all__ = ["CosineAnnealingLR", "CosineSchedule", "CrossEntropyLoss", "LRScheduler", "LambdaLR",
           "LinearWarmup", "MSELoss", "OneCycleLR", "StepLR", "Trainer", "clip_grad_norm"]
