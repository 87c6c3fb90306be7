"""Mixed precision: float16 storage and arithmetic, float32 master weights, dynamic loss scaling.

float16 halves the bytes of every weight and activation, but it has 10 mantissa bits and a
range of about 6e-8 (smallest subnormal) to 65504. Two things go wrong if a model is simply
cast: small gradients round to zero (underflow), and small updates ``lr * grad`` vanish when
added to a float16 weight. The standard recipe (Micikevicius et al., 2018; PyTorch's
``torch.amp``) fixes both:

1. **Master weights.** The optimizer updates float32 copies of the weights; after each step
   they are rounded into the float16 model that runs forward and backward.
2. **Loss scaling.** The loss is multiplied by a large factor S before backward, which lifts
   the gradients out of the underflow range; they are divided by S (in float32) before the
   update. Too large an S overflows to inf instead: then the step is skipped.

``GradScaler`` chooses S dynamically, with PyTorch's rules:

- start at ``init_scale`` (2**16);
- after backward, unscale the gradients and check them: if any is inf or NaN, **skip the
  step** and multiply S by ``backoff_factor`` (0.5), resetting the count of clean steps;
- otherwise take the step and count it; after ``growth_interval`` (2000) clean steps in a row,
  multiply S by ``growth_factor`` (2.0) and restart the count.

So S settles just below the largest value that does not overflow, and probes upward now and
then. ``MixedPrecisionModel`` keeps the float16 working copy of a float32 model, and
``MixedPrecisionTrainer`` runs the whole step.

Example:
    >>> scaler = GradScaler(init_scale=8.0, growth_interval=2)
    >>> scaler.scale(Tensor(np.float32(1.5))).item()
    12.0
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinytorch.core.autograd import Function, Node
from tinytorch.core.errors import ConfigError, explain
from tinytorch.core.tensor import Tensor

Array = np.ndarray


class Cast(Function):
    """x converted to another float dtype; the gradient is converted back to x's dtype."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, dtype: Any) -> Array:
        ctx.source = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        return grad.astype(ctx.source)


def cast(x: Tensor, dtype: Any) -> Tensor:
    """A differentiable dtype conversion (the ``autocast`` boundary between float16 and 32).

    Example:
        >>> cast(Tensor([1.0]), np.float16).dtype
        dtype('float16')
    """
    return x if x.dtype == np.dtype(dtype) else Cast.apply(x, dtype=np.dtype(dtype))


# --- The dynamic loss scaler ---------------------------------------------------------------------


class GradScaler:
    """Dynamic loss scaling: scale the loss, unscale the gradients, skip steps that overflow.

    Args:
        init_scale: the first scale S.
        growth_factor: S is multiplied by it after ``growth_interval`` clean steps in a row.
        backoff_factor: S is multiplied by it after a step whose gradients overflowed.
        growth_interval: clean steps between two growths.
        enabled: when False every method is a pass-through (S = 1, nothing skipped), so the
            same training loop runs in float32.

    Attributes:
        steps_skipped: how many steps were skipped because of inf/NaN gradients.

    Example:
        >>> scaler = GradScaler(init_scale=4.0, growth_interval=1)
        >>> scaler.update(found_inf=False); scaler.get_scale()
        8.0
        >>> scaler.update(found_inf=True); scaler.get_scale()
        4.0
    """

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        if not (init_scale > 0 and growth_factor > 1 and 0 < backoff_factor < 1
                and growth_interval >= 1):
            raise ConfigError(explain(
                what=f"GradScaler(init_scale={init_scale}, growth_factor={growth_factor}, "
                     f"backoff_factor={backoff_factor}, growth_interval={growth_interval})",
                why="the scale must be positive, grow by a factor > 1, shrink by a factor in "
                    "(0, 1), and grow after at least one clean step",
                fix="use the defaults (2**16, 2.0, 0.5, 2000) or values in those ranges",
            ))
        self.enabled = enabled
        self._scale = float(init_scale) if enabled else 1.0
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._found_inf: bool | None = None       # set by unscale_, consumed by update
        self.steps_skipped = 0

    def get_scale(self) -> float:
        """The current scale S."""
        return self._scale

    def scale(self, loss: Tensor) -> Tensor:
        """loss * S, to call ``backward`` on."""
        return loss * self._scale if self.enabled else loss

    def unscale_(self, optimizer: Any) -> bool:
        """Divide the gradients of the optimizer's parameters by S in place; True on overflow.

        The gradients should be float32 (the masters'): dividing in float16 would underflow
        the very values the scale protected.
        """
        found = False
        inverse = 1.0 / self._scale
        for p in optimizer.params:
            if p.grad is None:
                continue
            grad = p.grad.data
            found = found or not bool(np.isfinite(grad).all())
            if self.enabled:
                grad *= grad.dtype.type(inverse)
        self._found_inf = found
        return found

    def step(self, optimizer: Any) -> bool:
        """Unscale (unless done already), then ``optimizer.step()`` only if nothing overflowed.

        Returns:
            True when the step was taken, False when it was skipped.
        """
        if not self.enabled:
            optimizer.step()
            return True
        if self._found_inf is None:
            self.unscale_(optimizer)
        if self._found_inf:
            self.steps_skipped += 1
            return False
        optimizer.step()
        return True

    def update(self, found_inf: bool | None = None) -> None:
        """Adjust S: back off after an overflow, grow after ``growth_interval`` clean steps."""
        found = self._found_inf if found_inf is None else found_inf
        self._found_inf = None
        if not self.enabled or found is None:
            return
        if found:
            self._scale *= self.backoff_factor
            self._growth_tracker = 0
            return
        self._growth_tracker += 1
        if self._growth_tracker == self.growth_interval:
            self._scale *= self.growth_factor
            self._growth_tracker = 0

    def state_dict(self) -> dict[str, float | int]:
        """The scale and the clean-step count, to resume training exactly."""
        return {"scale": self._scale, "growth_tracker": self._growth_tracker,
                "steps_skipped": self.steps_skipped}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        """Restore what ``state_dict`` returned."""
        self._scale = float(state["scale"])
        self._growth_tracker = int(state["growth_tracker"])
        self.steps_skipped = int(state["steps_skipped"])


# --- float16 working copy, float32 masters -------------------------------------------------------


class MixedPrecisionModel:
    """A float16 copy of a float32 model for forward and backward; the model keeps the masters.

    The original ``model`` stays float32 and is what the optimizer updates (build it on
    ``model.parameters()`` as usual) and what you save. ``half`` is a deep copy whose floating
    parameters and buffers are float16. Calling this object casts a floating input to float16,
    runs ``half`` and casts the output back to float32, so that the loss (softmax, log) is
    computed in float32, as ``torch.autocast`` does.

    Example:
        >>> from tinytorch.core.layers import Linear
        >>> mp = MixedPrecisionModel(Linear(3, 2))
        >>> mp.half.weight.dtype, mp(np.ones((1, 3))).dtype
        (dtype('float16'), dtype('float32'))
    """

    def __init__(self, model: Any, dtype: Any = np.float16) -> None:
        self.model, self.dtype = model, np.dtype(dtype)
        self.half = copy.deepcopy(model)
        self._pairs = list(zip(model.parameters(), self.half.parameters(), strict=True))
        for _, low in self._pairs:
            low.data = low.data.astype(self.dtype)
        self._cast_buffers(self.half, self.dtype)

    @staticmethod
    def _float_buffers(module: Any) -> list[Tensor]:
        return [value for _, value in module.named_buffers()
                if isinstance(value, Tensor) and value.dtype.kind == "f"]

    def _cast_buffers(self, module: Any, dtype: np.dtype[Any]) -> None:
        for buffer in self._float_buffers(module):
            buffer.data = buffer.data.astype(dtype)

    def __call__(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.dtype.kind == "f":
            x = cast(x, self.dtype)
        return cast(self.half(x), np.float32)

    def parameters(self) -> list[Any]:
        """The float32 master parameters (what the optimizer should update)."""
        return [master for master, _ in self._pairs]

    def train(self, mode: bool = True) -> MixedPrecisionModel:
        """Set training mode on both copies."""
        self.model.train(mode)
        self.half.train(mode)
        return self

    def eval(self) -> MixedPrecisionModel:
        """Set evaluation mode on both copies."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget the gradients of both copies."""
        for master, low in self._pairs:
            master.grad = low.grad = None

    def gradients_to_masters(self) -> None:
        """Copy the float16 gradients into the masters' ``.grad`` as float32."""
        for master, low in self._pairs:
            master.grad = None if low.grad is None else low.grad.data.astype(np.float32)
            low.grad = None

    def masters_to_half(self) -> None:
        """Round the updated float32 masters into the float16 copy (and buffers back up)."""
        for master, low in self._pairs:
            np.copyto(low.data, master.data, casting="same_kind")
        for high, low in zip(self._float_buffers(self.model), self._float_buffers(self.half),
                             strict=True):
            np.copyto(high.data, low.data)       # running statistics, back to float32

    def memory_bytes(self) -> dict[str, int]:
        """Bytes of the float32 masters and of the float16 working weights."""
        return {"master_bytes": sum(m.data.nbytes for m, _ in self._pairs),
                "half_bytes": sum(h.data.nbytes for _, h in self._pairs)}


class MixedPrecisionTrainer:
    """One training step in mixed precision: float16 forward/backward, scaled loss, float32 update.

    Args:
        model: the float32 model (its parameters are the masters).
        optimizer: built on ``model.parameters()``.
        loss_fn: ``loss_fn(output, target) -> scalar Tensor``, run in float32.
        scaler: the ``GradScaler`` (default: a new one with PyTorch's defaults).
        half: False runs the same loop in float32 (no copy, no scaling): the baseline.
    """

    def __init__(self, model: Any, optimizer: Any, loss_fn: Any,
                 scaler: GradScaler | None = None, half: bool = True) -> None:
        self.net = MixedPrecisionModel(model) if half else None
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scaler = scaler if scaler is not None else GradScaler(enabled=half)

    def __call__(self, x: Any) -> Tensor:
        """The forward pass used for training (float16 copy, or the model itself)."""
        return self.net(x) if self.net is not None else self.model(x)

    def train_step(self, x: Any, target: Any) -> tuple[float, bool]:
        """Forward, scaled backward, unscale, overflow check, step, scale update.

        Returns:
            (the unscaled loss, whether the optimizer step was taken).
        """
        self.optimizer.zero_grad()
        if self.net is not None:
            self.net.zero_grad()
        loss = self.loss_fn(self(x), target)
        # float16 overflow is expected here: the scaler detects it and skips the step
        with np.errstate(over="ignore", invalid="ignore"):
            self.scaler.scale(loss).backward()
        if self.net is not None:
            self.net.gradients_to_masters()
        with np.errstate(over="ignore", invalid="ignore"):
            stepped = self.scaler.step(self.optimizer)
        self.scaler.update()
        if stepped and self.net is not None:
            self.net.masters_to_half()
        return float(loss.item()), stepped

    def fit_epoch(self, batches: Iterable[tuple[Any, Any]]) -> dict[str, float]:
        """``train_step`` over every (x, target) batch; returns mean loss and steps skipped."""
        losses, skipped = [], 0
        for x, target in batches:
            loss, stepped = self.train_step(x, target)
            losses.append(loss)
            skipped += not stepped
        return {"loss": float(np.mean(losses)) if losses else float("nan"),
                "skipped": float(skipped)}


__all__ = ["Cast", "GradScaler", "MixedPrecisionModel", "MixedPrecisionTrainer", "cast"]
