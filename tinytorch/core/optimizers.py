"""Optimizers (module 07): SGD, Adam, AdamW and RMSprop, with PyTorch's exact update formulas.

An optimizer keeps the list of parameters it trains and, per parameter, the buffers its rule
needs (momentum, first and second moments). ``step()`` reads each ``p.grad`` and updates
``p.data`` in place: the array object never changes, so anything holding it (a view, a tied
weight) sees the new values. The arithmetic is written with ``out=`` into a scratch buffer
allocated once, so a step allocates no parameter-sized temporaries.

Hyper-parameters live in the parameter groups, as in PyTorch: ``optimizer.param_groups`` is a
list of dicts, each with its ``'params'`` and every hyper-parameter (a group given as
``{'params': [...], 'weight_decay': 0.0}`` takes the optimizer's defaults for the others).
``optimizer.param_groups[g]['lr'] = x`` changes group ``g`` only. Upstream code and schedules
write ``optimizer.lr = x``: that attribute reads group 0 and writing it sets every group, so
both habits steer the same numbers and can never disagree.

Example:
    >>> from tinytorch.core.tensor import Parameter
    >>> w = Parameter([1.0, 2.0])
    >>> w.grad = np.array([0.5, -0.5], dtype=np.float32)
    >>> SGD([w], lr=0.1).step()
    >>> w.data.tolist()
    [0.949999988079071, 2.049999952316284]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinytorch.core.errors import SerializationError, ShapeError, explain
from tinytorch.core.tensor import Tensor

Array = np.ndarray


class GroupHyperparameter:
    """An optimizer attribute backed by the parameter groups: reads group 0, writes all groups.

    ``optimizer.lr = 0.01`` (upstream's and our schedules' habit) then means "every group
    trains at 0.01", and ``optimizer.lr`` reads what ``param_groups[0]['lr']`` holds.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, optimizer: Any, owner: type | None = None) -> Any:
        if optimizer is None:
            return self
        return optimizer.param_groups[0][self.name]

    def __set__(self, optimizer: Any, value: Any) -> None:
        for group in optimizer.param_groups:
            group[self.name] = value


class Optimizer:
    """Base class: parameter bookkeeping, groups, ``zero_grad``, state save and restore.

    Subclasses list their per-parameter buffers in ``buffer_names``, their hyper-parameters in
    ``hyperparameter_names`` (each becomes a ``GroupHyperparameter`` attribute), and implement
    ``_update(index, param, grad, hyper)``.

    Args:
        params: parameters (a list or a generator), or a list of group dicts each with a
            ``'params'`` entry and optional hyper-parameter overrides. Tensors that do not
            require grad are accepted and never updated (PyTorch's way to freeze a layer).
        defaults: every hyper-parameter's default, kept as ``defaults``.

    Raises:
        ValueError: no parameters, a duplicated parameter, or an unknown group key.
        TypeError: an entry is not a Tensor.
    """

    buffer_names: tuple[str, ...] = ()
    hyperparameter_names: tuple[str, ...] = ("lr",)
    lr = GroupHyperparameter("lr")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.hyperparameter_names:
            setattr(cls, name, GroupHyperparameter(name))

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups = _make_groups(params, self.defaults)
        self.params: list[Tensor] = [p for group in self.param_groups for p in group["params"]]
        self.parameters = self.params  # upstream's name for the same list
        _check_params(self.params, type(self).__name__)
        self._owner = [gi for gi, group in enumerate(self.param_groups) for _ in group["params"]]
        self.step_counts = [0] * len(self.params)
        self.state: dict[str, list[Array | None]] = {
            name: [None] * len(self.params) for name in self.buffer_names}
        self._scratch: list[Array] = []  # flat work buffers, allocated on first use

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Train more parameters from now on, with their own hyper-parameters (PyTorch's way
        to unfreeze a layer during fine-tuning); unnamed settings take ``defaults``.

        Raises:
            ValueError: an unknown key, or a parameter that this optimizer already trains.
        """
        (new,) = _make_groups([group], self.defaults)
        _check_params(self.params + new["params"], type(self).__name__)
        self.param_groups.append(new)
        self.params.extend(new["params"])  # in place: .parameters is the same list
        self._owner.extend([len(self.param_groups) - 1] * len(new["params"]))
        self.step_counts.extend([0] * len(new["params"]))
        for buffers in self.state.values():
            buffers.extend([None] * len(new["params"]))
        self._scratch.clear()  # the largest parameter may have grown

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}"
                             for name in self.hyperparameter_names)
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every gradient (``None``), or fill them with zeros when ``set_to_none=False``."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data.fill(0)

    def hyperparameters(self, group: int = 0) -> dict[str, Any]:
        """The hyper-parameters in force for parameter group ``group``."""
        return {name: self.param_groups[group][name] for name in self.hyperparameter_names}

    def step(self) -> None:
        """Update every parameter that has a gradient, in place; skip those whose grad is None
        and those that do not require grad (frozen)."""
        hypers = [self.hyperparameters(g) for g in range(len(self.param_groups))]
        for index, p in enumerate(self.params):
            if p.grad is None or not p.requires_grad:
                continue
            grad = _grad_array(p)
            self.step_counts[index] += 1
            self._update(index, p.data, grad, hypers[self._owner[index]])

    def _update(self, index: int, param: Array, grad: Array, hyper: dict[str, Any]) -> None:
        raise NotImplementedError

    def _work(self, param: Array, slot: int = 0) -> Array:
        """Scratch array number ``slot`` shaped like ``param``, shared by all parameters.

        One flat buffer per slot, as large as the largest parameter, is allocated once: the
        update arithmetic writes its intermediates there instead of into fresh temporaries.
        """
        while len(self._scratch) <= slot:
            largest = max(p.data.size for p in self.params)
            dtype = np.result_type(*[p.data.dtype for p in self.params])
            self._scratch.append(np.empty(largest, dtype=dtype))
        flat = self._scratch[slot]
        if flat.dtype != param.dtype:  # mixed-precision parameter lists: a one-off temporary
            return np.empty_like(param)
        return flat[:param.size].reshape(param.shape)

    def _decayed(self, param: Array, grad: Array, decay: float) -> Array:
        """grad + decay * param, written into scratch slot 1 (L2 weight decay)."""
        if not decay:
            return grad
        out = self._work(param, 1)
        np.multiply(param, decay, out=out)
        out += grad
        return out

    def _buffer(self, name: str, index: int, param: Array) -> Array:
        """The named per-parameter buffer, created as zeros on first use."""
        buffers = self.state[name]
        if buffers[index] is None:
            buffers[index] = np.zeros_like(param)
        return buffers[index]  # type: ignore[return-value]

    # --- saving and restoring ------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters, groups and step counts (JSON-able) and buffers (copied arrays).

        Buffers are keyed ``"<buffer name>.<parameter position>"`` under ``"buffers"``;
        everything else in the dict is plain JSON data.
        """
        groups = [{k: _jsonable(v) for k, v in group.items() if k != "params"}
                  for group in self.param_groups]
        return {
            "optimizer": type(self).__name__,
            "hyperparameters": {name: _jsonable(getattr(self, name))
                                for name in self.hyperparameter_names},
            "param_groups": groups,
            "group_sizes": [len(group["params"]) for group in self.param_groups],
            "step_counts": list(self.step_counts),
            "buffers": {f"{name}.{i}": buffer.copy()
                        for name, buffers in self.state.items()
                        for i, buffer in enumerate(buffers) if buffer is not None},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned; on any mismatch raise and change nothing.

        Raises:
            SerializationError: another optimizer type, another number or grouping of
                parameters, an unknown buffer, or a buffer whose shape differs.
        """
        self._check_state(state)
        for group, saved in zip(self.param_groups, state["param_groups"], strict=True):
            # a group saved before groups held every hyper-parameter takes the saved attributes
            values = {**state["hyperparameters"], **saved}
            group.update({k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
        self.step_counts = [int(n) for n in state["step_counts"]]
        self.state = {name: [None] * len(self.params) for name in self.buffer_names}
        for key, array in state["buffers"].items():
            name, _, position = key.rpartition(".")
            index = int(position)
            self.state[name][index] = np.array(array, dtype=self.params[index].data.dtype)

    def _check_state(self, state: dict[str, Any]) -> None:
        kind = type(self).__name__
        problems = []
        if state.get("optimizer") != kind:
            problems.append(f"it was saved from {state.get('optimizer')!r}, not {kind!r}")
        sizes = [len(group["params"]) for group in self.param_groups]
        if state.get("group_sizes") != sizes or len(state.get("step_counts", ())) != len(
                self.params):
            problems.append(f"it holds parameter groups of sizes {state.get('group_sizes')}, "
                            f"this optimizer has {sizes}")
        for key, array in dict(state.get("buffers", {})).items():
            name, _, position = key.rpartition(".")
            if name not in self.buffer_names or not position.isdigit() or int(position) >= len(
                    self.params):
                problems.append(f"unexpected buffer {key!r}")
            elif np.shape(array) != self.params[int(position)].shape:
                problems.append(f"buffer {key!r} has shape {np.shape(array)}, parameter "
                                f"{position} has shape {self.params[int(position)].shape}")
        missing = [n for n in self.hyperparameter_names if n not in state.get(
            "hyperparameters", {})]
        if missing:
            problems.append(f"hyper-parameters {missing} are missing")
        if problems:
            raise SerializationError(explain(
                what=f"cannot load this optimizer state into {kind}: " + "; ".join(problems[:5]),
                why="optimizer state is matched to parameters by position, so the optimizer "
                    "type and the parameter list must be the same as when it was saved",
                fix="build the model and the optimizer exactly as for the saved run",
            ))


def _make_groups(params: Iterable[Any], defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """PyTorch's group list: each group holds its params and every hyper-parameter."""
    items: list[Any] = list(params) if not isinstance(params, Tensor) else [params]
    if not (items and all(isinstance(item, dict) for item in items)):
        return [{"params": items, **defaults}]
    groups = []
    for item in items:
        unknown = sorted(set(item) - set(defaults) - {"params"})
        if "params" not in item or unknown:
            raise ValueError(explain(
                what=f"a parameter group has keys {sorted(item)}",
                why=f"a group needs 'params' and may override only {sorted(defaults)}",
                fix="write groups as {'params': [...], 'lr': 0.01}",
            ))
        members = item["params"]
        members = [members] if isinstance(members, Tensor) else list(members)
        groups.append({"params": members, **defaults, **{k: v for k, v in item.items()
                                                          if k != "params"}})
    return groups


def _check_params(params: list[Any], kind: str) -> None:
    if not params:
        raise ValueError(explain(
            what=f"{kind} was given an empty list of parameters",
            why="an optimizer needs at least one parameter to update",
            fix="pass model.parameters(); check that the model has layers with weights "
                "(a generator that was already consumed is also empty)",
        ))
    seen: set[int] = set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(explain(
                what=f"{kind} parameter {i} is a {type(p).__name__}, not a Tensor",
                why="an optimizer updates the .data of Tensors using their .grad",
                fix="pass model.parameters() or a list of Parameters",
            ))
        if id(p) in seen:
            raise ValueError(explain(
                what=f"{kind} parameter {i} (shape {p.shape}) appears twice",
                why="each step would update it twice",
                fix="pass each parameter once (model.parameters() already removes duplicates)",
            ))
        seen.add(id(p))


def _grad_array(p: Tensor) -> Array:
    grad = p.grad.data if isinstance(p.grad, Tensor) else np.asarray(p.grad)
    if grad.shape != p.data.shape:
        raise ShapeError(explain(
            what=f"a parameter of shape {p.data.shape} has a gradient of shape {grad.shape}",
            why="the update subtracts the gradient elementwise, so the shapes must match",
            fix="assign .grad an array shaped like the parameter",
        ))
    return grad


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    With g = grad + weight_decay * p, and a buffer b that starts as the first g:
    b = momentum * b + (1 - dampening) * g; the step uses g + momentum * b (Nesterov) or b;
    then p = p - lr * step. Exactly ``torch.optim.SGD``.
    """

    buffer_names = ("momentum_buffer",)
    hyperparameter_names = ("lr", "momentum", "weight_decay", "nesterov", "dampening")

    def __init__(self, params: Iterable[Any], lr: float = 0.01, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False,
                 dampening: float = 0.0) -> None:
        _check_hyper(lr=lr, momentum=momentum, weight_decay=weight_decay, dampening=dampening)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(explain(
                what=f"SGD(nesterov=True) with momentum={momentum}, dampening={dampening}",
                why="Nesterov momentum looks ahead along a momentum buffer that is not damped",
                fix="pass momentum > 0 (e.g. 0.9) and dampening=0",
            ))
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      nesterov=nesterov, dampening=dampening))

    def _update(self, index: int, param: Array, grad: Array, hyper: dict[str, Any]) -> None:
        lr, momentum = float(hyper["lr"]), float(hyper["momentum"])
        decay = float(hyper["weight_decay"])
        grad = self._decayed(param, grad, decay)              # g = grad + wd * p
        work = self._work(param)
        if momentum:
            fresh = self.state["momentum_buffer"][index] is None
            buf = self._buffer("momentum_buffer", index, param)
            if fresh:
                np.copyto(buf, grad)
            else:
                buf *= momentum
                buf += grad if hyper["dampening"] == 0 else grad * (1 - hyper["dampening"])
            if hyper["nesterov"]:
                np.multiply(buf, momentum, out=work)
                work += grad                                   # g + momentum * b
                grad = work
            else:
                grad = buf
        np.multiply(grad, -lr, out=work)
        param += work


class Adam(Optimizer):
    """Adam: per-parameter steps scaled by running moments of the gradient (``torch.optim.Adam``).

    With g = grad + weight_decay * p (classic L2 decay): m = b1 m + (1 - b1) g,
    v = b2 v + (1 - b2) g^2, then p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    """

    buffer_names = ("exp_avg", "exp_avg_sq")
    hyperparameter_names = ("lr", "betas", "eps", "weight_decay")
    decoupled = False  # AdamW decays the weights directly instead of adding to the gradient

    def __init__(self, params: Iterable[Any], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        _check_hyper(lr=lr, eps=eps, weight_decay=weight_decay)
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(explain(
                what=f"{type(self).__name__} got betas={betas}",
                why="each beta is a decay rate of a running average, in [0, 1)",
                fix="pass two values such as (0.9, 0.999)",
            ))
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    def _update(self, index: int, param: Array, grad: Array, hyper: dict[str, Any]) -> None:
        lr, eps, decay = float(hyper["lr"]), float(hyper["eps"]), float(hyper["weight_decay"])
        beta1, beta2 = (float(b) for b in hyper["betas"])
        step = self.step_counts[index]
        work = self._work(param)
        if decay and self.decoupled:
            param *= 1.0 - lr * decay                          # AdamW: shrink the weights
        else:
            grad = self._decayed(param, grad, decay)          # Adam: L2 term in the gradient
        m = self._buffer("exp_avg", index, param)
        v = self._buffer("exp_avg_sq", index, param)
        np.subtract(grad, m, out=work)
        work *= 1.0 - beta1
        m += work                                              # m = lerp(m, g, 1 - b1)
        v *= beta2
        np.multiply(grad, grad, out=work)
        work *= 1.0 - beta2
        v += work                                              # v = b2 v + (1 - b2) g^2
        np.sqrt(v, out=work)
        work /= math.sqrt(1.0 - beta2 ** step)
        work += eps                                            # denominator
        np.divide(m, work, out=work)
        work *= -lr / (1.0 - beta1 ** step)
        param += work


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square of it (``torch.optim.RMSprop``).

    With g = grad + weight_decay * p: s = alpha s + (1 - alpha) g^2; with ``centered`` the
    running mean a of g is subtracted (s - a^2); d = sqrt(s) + eps. Without momentum
    p -= lr g / d; with it b = momentum b + g / d and p -= lr b.
    """

    buffer_names = ("square_avg", "momentum_buffer", "grad_avg")
    hyperparameter_names = ("lr", "alpha", "eps", "momentum", "weight_decay", "centered")

    def __init__(self, params: Iterable[Any], lr: float = 0.01, alpha: float = 0.99,
                 eps: float = 1e-8, momentum: float = 0.0, weight_decay: float = 0.0,
                 centered: bool = False) -> None:
        _check_hyper(lr=lr, alpha=alpha, eps=eps, momentum=momentum, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum,
                                      weight_decay=weight_decay, centered=centered))

    def _update(self, index: int, param: Array, grad: Array, hyper: dict[str, Any]) -> None:
        lr, alpha, eps = float(hyper["lr"]), float(hyper["alpha"]), float(hyper["eps"])
        momentum, decay = float(hyper["momentum"]), float(hyper["weight_decay"])
        grad = self._decayed(param, grad, decay)
        work = self._work(param)
        square = self._buffer("square_avg", index, param)
        square *= alpha
        np.multiply(grad, grad, out=work)
        work *= 1.0 - alpha
        square += work                                         # s = alpha s + (1 - alpha) g^2
        if hyper["centered"]:
            mean = self._buffer("grad_avg", index, param)
            np.subtract(grad, mean, out=work)
            work *= 1.0 - alpha
            mean += work                                       # a = lerp(a, g, 1 - alpha)
            np.multiply(mean, mean, out=work)
            np.subtract(square, work, out=work)
            np.sqrt(work, out=work)
        else:
            np.sqrt(square, out=work)
        work += eps                                            # d = sqrt(s) + eps
        np.divide(grad, work, out=work)                        # g / d
        if momentum:
            buf = self._buffer("momentum_buffer", index, param)
            buf *= momentum
            buf += work
            np.multiply(buf, -lr, out=work)
        else:
            work *= -lr
        param += work


def _check_hyper(**values: float) -> None:
    for name, value in values.items():
        upper_ok = name not in ("alpha", "momentum", "dampening") or value <= 1.0
        if not (isinstance(value, (int, float, np.floating)) and value >= 0 and upper_ok):
            raise ValueError(explain(
                what=f"optimizer got {name}={value!r}",
                why=f"{name} must be a non-negative number"
                    + (" no larger than 1" if name in ("alpha", "momentum", "dampening") else ""),
                fix=f"pass a value such as {_TYPICAL.get(name, 0.0)}",
            ))


_TYPICAL = {"lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "eps": 1e-8, "alpha": 0.99,
            "dampening": 0.0}

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop"]
