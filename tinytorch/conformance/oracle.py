"""The reference a check compares a student's numbers with: PyTorch, or plain NumPy.

A check writes its reference computation once, against a small backend ``xp`` (``xp.relu``,
``xp.sum``, ``xp.conv2d``, ... and the ``@ + - * /`` operators of the backend's arrays). The oracle
evaluates it in float64 and returns the value and the gradients of every input:

- ``torch``: PyTorch tensors and its autograd, an implementation that shares no code with ours;
- ``numeric``: NumPy arrays and central finite differences, for machines without PyTorch.

Both also give the reference optimizer updates (``torch.optim``, or the published formulas).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Array = np.ndarray


class NumpyBackend:
    """The reference ops on float64 NumPy arrays."""

    name = "numeric"
    relu = staticmethod(lambda x: np.maximum(x, 0.0))
    tanh, exp, log = staticmethod(np.tanh), staticmethod(np.exp), staticmethod(np.log)
    where = staticmethod(np.where)

    @staticmethod
    def sigmoid(x: Array) -> Array:
        return 1.0 / (1.0 + np.exp(-x))

    @staticmethod
    def sum(x: Array, axis: Any = None, keepdims: bool = False) -> Array:
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def mean(x: Array, axis: Any = None, keepdims: bool = False) -> Array:
        return np.mean(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def max(x: Array, axis: int) -> Array:
        return np.max(x, axis=axis)

    @staticmethod
    def T(x: Array) -> Array:  # noqa: N802 (the math name)
        return np.swapaxes(x, -1, -2)

    @staticmethod
    def log_softmax(x: Array, axis: int = -1) -> Array:
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    @classmethod
    def softmax(cls, x: Array, axis: int = -1) -> Array:
        return np.exp(cls.log_softmax(x, axis))

    @staticmethod
    def conv2d(x: Array, w: Array, b: Array | None, stride: int = 1, padding: int = 0) -> Array:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))
        out = np.einsum("nchwij,ocij->nohw", windows[:, :, ::stride, ::stride], w)
        return out if b is None else out + b.reshape(1, -1, 1, 1)

    @staticmethod
    def max_pool2d(x: Array, k: int) -> Array:
        n, c, h, w = x.shape
        return x[:, :, :h // k * k, :w // k * k].reshape(n, c, h // k, k, w // k, k).max(
            axis=(3, 5))


class TorchBackend:
    """The same ops in PyTorch (float64), differentiated by its autograd."""

    name = "torch"

    def __init__(self) -> None:
        import torch
        import torch.nn.functional as F  # noqa: N812

        self.torch, self.F = torch, F
        self.relu, self.tanh, self.exp, self.log = torch.relu, torch.tanh, torch.exp, torch.log
        self.sigmoid, self.where = torch.sigmoid, torch.where

    def sum(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return x.sum() if axis is None else x.sum(dim=axis, keepdim=keepdims)

    def mean(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return x.mean() if axis is None else x.mean(dim=axis, keepdim=keepdims)

    def max(self, x: Any, axis: int) -> Any:
        return x.max(dim=axis).values

    def T(self, x: Any) -> Any:  # noqa: N802
        return x.transpose(-1, -2)

    def log_softmax(self, x: Any, axis: int = -1) -> Any:
        return self.F.log_softmax(x, dim=axis)

    def softmax(self, x: Any, axis: int = -1) -> Any:
        return self.F.softmax(x, dim=axis)

    def conv2d(self, x: Any, w: Any, b: Any, stride: int = 1, padding: int = 0) -> Any:
        return self.F.conv2d(x, w, b, stride=stride, padding=padding)

    def max_pool2d(self, x: Any, k: int) -> Any:
        return self.F.max_pool2d(x, k)


class Oracle:
    """Reference values, gradients and optimizer updates from one backend."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._torch: TorchBackend | None = None

    @property
    def backend(self) -> Any:
        if self.kind == "numeric":
            return NumpyBackend
        if self._torch is None:
            self._torch = TorchBackend()
        return self._torch

    def value(self, fn: Callable[..., Any], *arrays: Any) -> Array:
        """``fn(xp, *arrays)`` evaluated in float64 (no gradients)."""
        if self.kind == "numeric":
            return np.asarray(fn(NumpyBackend, *_float64(arrays)))
        torch = self.backend.torch
        out = fn(self.backend, *(torch.tensor(a) for a in _float64(arrays)))
        return out.detach().numpy()

    def gradients(self, fn: Callable[..., Any], *arrays: Any) -> list[Array]:
        """The gradient of the scalar ``fn(xp, *arrays)`` with respect to each input."""
        inputs = _float64(arrays)
        if self.kind == "numeric":
            return [_central_difference(fn, inputs, i) for i in range(len(inputs))]
        torch = self.backend.torch
        leaves = [torch.tensor(a, requires_grad=True) for a in inputs]
        fn(self.backend, *leaves).backward()
        return [leaf.grad.numpy() for leaf in leaves]

    def sgd(self, param: Array, grads: Sequence[Array], lr: float, momentum: float) -> Array:
        """The parameter after one SGD step per gradient in ``grads``."""
        if self.kind == "torch":
            return self._torch_steps("SGD", param, grads, lr=lr, momentum=momentum)
        p, velocity = param.astype(np.float64), None
        for g in grads:
            velocity = g if velocity is None else momentum * velocity + g
            p = p - lr * (velocity if momentum else g)
        return p

    def adam(self, param: Array, grads: Sequence[Array], lr: float,
             betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> Array:
        """The parameter after one Adam step (with bias correction) per gradient."""
        if self.kind == "torch":
            return self._torch_steps("Adam", param, grads, lr=lr, betas=betas, eps=eps)
        p, m, v = param.astype(np.float64), 0.0, 0.0
        for t, g in enumerate(grads, start=1):
            m = betas[0] * m + (1 - betas[0]) * g
            v = betas[1] * v + (1 - betas[1]) * g * g
            m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        return p

    def _torch_steps(self, name: str, param: Array, grads: Sequence[Array],
                     **hyper: Any) -> Array:
        torch = self.backend.torch
        p = torch.tensor(param.astype(np.float64), requires_grad=True)
        optimizer = getattr(torch.optim, name)([p], **hyper)
        for g in grads:
            p.grad = torch.tensor(np.asarray(g, dtype=np.float64))
            optimizer.step()
        return p.detach().numpy()


def _float64(arrays: Sequence[Any]) -> list[Array]:
    return [np.array(a, dtype=np.float64) for a in arrays]


def _central_difference(fn: Callable[..., Any], inputs: list[Array], index: int,
                        eps: float = 1e-6) -> Array:
    """d fn / d inputs[index] by central differences, one element at a time (float64)."""
    x = inputs[index]
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + eps
        up = float(fn(NumpyBackend, *inputs))
        x[i] = saved - eps
        down = float(fn(NumpyBackend, *inputs))
        x[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


def make_oracle(kind: str) -> Oracle:
    """``"torch"``, ``"numeric"``, or ``"auto"`` (torch when it can be imported)."""
    if kind == "auto":
        try:
            import torch  # noqa: F401
        except ImportError:
            return Oracle("numeric")
        return Oracle("torch")
    return Oracle(kind)
