"""Quantized layers: ``QuantizedLinear`` and ``QuantizedConv2d`` hold int8 weights, run inference.

Each layer stores its weight as ``np.int8`` codes with one symmetric scale per output channel
(``q_weight``, ``weight_scale``), a float32 bias, and the per-tensor affine parameters of its
input (``activation_scale``, ``activation_zero_point``; a scale of 0 means "not calibrated").
All of them are buffers, so ``state_dict``, ``save`` and ``load`` keep the codes as int8.

Two ways to compute the same product, chosen by ``path``:

- ``"dequantized"`` (the default): turn the codes back into float32 weights, one scale per
  output channel, and run the float32 GEMM (BLAS). Activations stay float32.
- ``"integer"``: quantize the input to int8 with its calibrated (or, before calibration, the
  batch's own) scale and zero point, multiply int8 x int8 with int32 accumulation, subtract the
  zero-point term ``zp * sum_k w[k, c]``, and rescale once by ``s_x * s_w[c]`` to float32.

Why the dequantized path is the default: NumPy has no int8 GEMM kernel. Its integer matmul is
a generic loop: measured on a 784 -> 256 layer (``benchmarks/workloads_quantization.py``), the
integer path is about 1.5x slower than the dequantized path at batch 1 and 65-70x slower at
batch 128, while the dequantized path costs one cast of the weight on top of the float GEMM
(1.3-2x the float ``Linear``). On hardware with int8 instructions the balance flips; the
integer path is here to show (and test) exactly what such hardware computes.

Neither path is for training: the layers hold no Parameters, and the integer path returns a
result with no gradient.

Example:
    >>> from tinytorch.core.layers import Linear
    >>> layer = QuantizedLinear(Linear(4, 2))
    >>> layer.q_weight.data.dtype, layer.q_weight.data.nbytes
    (dtype('int8'), 8)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from tinytorch.core.errors import ConfigError, ShapeError, explain
from tinytorch.core.layers import Linear, Module
from tinytorch.core.spatial import Conv2d, conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.windows import CHWN, pad, unfold, window_geometry
from tinytorch.perf.quant_schemes import (
    MinMaxObserver,
    affine_qparams,
    channel_view,
    float_array,
    quantize_affine,
    quantize_symmetric,
    symmetric_scales,
)

PATHS = ("dequantized", "integer")
DEFAULT_PATH = "dequantized"  # measured faster on NumPy; see the module docstring


def iter_batches(samples: Any) -> Iterator[Any]:
    """Batches from one batch or an iterable of them; an ``(inputs, labels)`` pair gives inputs."""
    if isinstance(samples, (Tensor, np.ndarray)):
        yield samples
        return
    for batch in samples:
        yield batch[0] if isinstance(batch, tuple) else batch


def check_path(path: str) -> str:
    """``path`` itself when it names an inference path, else a ConfigError."""
    if path not in PATHS:
        raise ConfigError(explain(
            what=f"unknown quantized inference path {path!r}",
            why=f"a quantized layer computes either on dequantized weights or on integer codes: "
                f"{', '.join(PATHS)}",
            fix=f"pass path='{DEFAULT_PATH}' (the default) or path='integer'",
        ))
    return path


class _QuantizedLayer(Module):
    """What both quantized layers share: codes, scales, bias, input range, calibration, bytes."""

    channel_axis = 0  # the weight axis that indexes output channels
    q_weight: Tensor  # buffers, set through register_buffer
    weight_scale: Tensor
    activation_scale: Tensor
    activation_zero_point: Tensor

    def __init__(self, weight: Any, bias: Any, path: str) -> None:
        super().__init__()
        w = float_array(weight, type(self).__name__)
        scales = symmetric_scales(w, self.channel_axis)
        self.register_buffer("q_weight", Tensor(quantize_symmetric(w, scales, self.channel_axis),
                                                dtype=np.int8))
        self.register_buffer("weight_scale", Tensor(scales))
        self.bias: Tensor | None = None
        if bias is not None:
            self.register_buffer("bias", Tensor(float_array(bias, type(self).__name__).copy()))
        self.register_buffer("activation_scale", Tensor(np.zeros((), np.float32)))
        self.register_buffer("activation_zero_point", Tensor(np.zeros((), np.int32),
                                                             dtype=np.int32))
        self.float_nbytes = w.nbytes + (0 if self.bias is None else self.bias.data.nbytes)
        self.path = check_path(path)

    # --- the input's quantization parameters ----------------------------------------------

    @property
    def calibrated(self) -> bool:
        """True once ``calibrate`` (or a loaded state) fixed the input's scale."""
        return bool(self.activation_scale.data > 0)

    @property
    def input_scale(self) -> float | None:
        """The input's scale, or None before calibration (upstream's attribute)."""
        return float(self.activation_scale.data) if self.calibrated else None

    @property
    def input_zero_point(self) -> int | None:
        """The input's zero point, or None before calibration."""
        return int(self.activation_zero_point.data) if self.calibrated else None

    @property
    def weight_zero_point(self) -> np.ndarray:
        """Per-channel zero points: all 0 in the symmetric scheme (so not stored)."""
        return np.zeros(self.weight_scale.shape, np.int32)

    def set_input_qparams(self, scale: float, zero_point: int) -> None:
        """Fix the input's per-tensor affine parameters (what ``calibrate`` does)."""
        self.activation_scale.data[...] = scale
        self.activation_zero_point.data[...] = zero_point

    def calibrate(self, samples: Iterable[Any] | Any, observer: Any = None) -> _QuantizedLayer:
        """Observe sample inputs to this layer and fix the input's scale and zero point.

        Args:
            samples: one input batch or an iterable of them (Tensors or arrays).
            observer: a fresh observer (default ``MinMaxObserver()``), e.g. a
                ``PercentileObserver`` to let rare outliers saturate.

        Raises:
            ShapeError: a sample does not have the shape this layer takes.
            ConfigError: no samples were given.
        """
        observer = MinMaxObserver() if observer is None else observer
        seen = 0
        for sample in iter_batches(samples):
            x = float_array(sample, f"{type(self).__name__}.calibrate")
            self._check_input(x.shape)
            observer.observe(x)
            seen += 1
        if not seen:
            raise ConfigError(explain(
                what=f"{type(self).__name__}.calibrate got no samples",
                why="the input range is measured on sample inputs",
                fix="pass a batch, or a list of batches, of typical inputs to this layer",
            ))
        self.set_input_qparams(*observer.calculate_qparams())
        return self

    def _input_qparams(self, x: np.ndarray) -> tuple[float, int]:
        """Calibrated parameters, or else the batch's own range (dynamic quantization)."""
        if self.calibrated:
            return float(self.activation_scale.data), int(self.activation_zero_point.data)
        return affine_qparams(x.min(initial=0.0), x.max(initial=0.0))

    # --- computing ------------------------------------------------------------------------

    def dequantized_weight(self) -> np.ndarray:
        """The float32 weight the codes stand for: ``q_weight * weight_scale`` per channel."""
        scales = channel_view(self.weight_scale.data, self.channel_axis, self.q_weight.ndim)
        return np.asarray(np.multiply(self.q_weight.data, scales, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x.shape)
        if check_path(self.path) == "integer":
            return Tensor._from_op(self._integer_forward(float_array(x, type(self).__name__)),
                                   None)
        return self._dequantized_forward(x)

    def _check_input(self, shape: tuple[int, ...]) -> None:
        raise NotImplementedError

    def _dequantized_forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _integer_forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _rescale(self, acc: np.ndarray, input_scale: float, shape: tuple[int, ...]) -> np.ndarray:
        """float32 ``acc * s_x * s_w[c] + b[c]``, ``acc`` viewed as ``shape``."""
        out = acc.astype(np.float32).reshape(shape)
        ndim = out.ndim
        out *= channel_view(self.weight_scale.data * np.float32(input_scale), self.channel_axis,
                            ndim)
        if self.bias is not None:
            out += channel_view(self.bias.data, self.channel_axis, ndim)
        return out

    # --- bytes ----------------------------------------------------------------------------

    def nbytes(self) -> int:
        """Bytes this layer really stores: the sum of its arrays' ``nbytes``."""
        return sum(np.asarray(getattr(v, "data", v)).nbytes for _, v in self.named_buffers())

    def memory_usage(self) -> dict[str, float]:
        """Upstream's summary: bytes of the float layer, of this one, and their ratio."""
        quantized = self.nbytes()
        return {"original_bytes": self.float_nbytes, "quantized_bytes": quantized,
                "compression_ratio": self.float_nbytes / quantized}


class QuantizedLinear(_QuantizedLayer):
    """A ``Linear`` with int8 weight codes: ``y = x @ dequantize(q_weight) + b``.

    Args:
        linear: the float layer to quantize (left unchanged).
        path: ``"dequantized"`` (default) or ``"integer"``; see the module docstring.

    Shapes:
        x: (..., in_features) -> (..., out_features); ``q_weight`` is (in_features, out_features)
        as in ``Linear``, ``weight_scale`` (out_features,).
    """

    channel_axis = 1  # Linear stores W as (in_features, out_features)

    def __init__(self, linear: Linear, path: str = DEFAULT_PATH) -> None:
        self.in_features, self.out_features = linear.in_features, linear.out_features
        super().__init__(linear.weight, linear.bias, path)

    def _check_input(self, shape: tuple[int, ...]) -> None:
        if tuple(shape[-1:]) != (self.in_features,):
            raise ShapeError(explain(
                what=f"QuantizedLinear({self.in_features}, {self.out_features}) got input of "
                     f"shape {tuple(shape)}",
                why=f"the last dimension must equal in_features={self.in_features}",
                fix="pass inputs shaped like those of the float layer it replaced",
            ))

    def _dequantized_forward(self, x: Tensor) -> Tensor:
        out = x @ Tensor._from_op(self.dequantized_weight(), None)
        return out + self.bias if self.bias is not None else out

    def _integer_forward(self, x: np.ndarray) -> np.ndarray:
        scale, zero_point = self._input_qparams(x)
        xq = quantize_affine(x.reshape(-1, self.in_features), scale, zero_point)  # (B, in)
        w = self.q_weight.data                                                     # (in, out)
        acc = np.matmul(xq, w, dtype=np.int32)                                     # (B, out)
        acc -= np.int32(zero_point) * w.sum(axis=0, dtype=np.int32)  # (xq - zp) @ w
        return self._rescale(acc, scale, acc.shape).reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, path={self.path!r}, calibrated={self.calibrated}")


class QuantizedConv2d(_QuantizedLayer):
    """A ``Conv2d`` with int8 filter codes, one scale per output channel.

    Args:
        conv: the float layer to quantize (left unchanged); stride, padding, dilation and groups
            are copied from it.
        path: ``"dequantized"`` (default) or ``"integer"``.

    Shapes:
        x: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo); ``q_weight`` is
        (out_channels, in_channels / groups, kh, kw), ``weight_scale`` (out_channels,).
    """

    channel_axis = 0

    def __init__(self, conv: Conv2d, path: str = DEFAULT_PATH) -> None:
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride, self.padding = conv.kernel_size, conv.stride, conv.padding
        self.dilation, self.groups = conv.dilation, conv.groups
        super().__init__(conv.weight, conv.bias, path)

    def _check_input(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 4 or shape[1] != self.in_channels:
            raise ShapeError(explain(
                what=f"QuantizedConv2d(in_channels={self.in_channels}) got input of shape "
                     f"{tuple(shape)}",
                why=f"it takes NCHW batches with {self.in_channels} channels on axis 1",
                fix="pass inputs shaped like those of the float layer it replaced",
            ))

    def _dequantized_forward(self, x: Tensor) -> Tensor:
        weight = Tensor._from_op(self.dequantized_weight(), None)
        return conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def _integer_forward(self, x: np.ndarray) -> np.ndarray:
        scale, zero_point = self._input_qparams(x)
        geom = window_geometry(x.shape, self.kernel_size, self.stride, self.padding,
                               self.dilation, "QuantizedConv2d")
        (ho, wo), n, groups = geom.out_hw, x.shape[0], self.groups
        # Pad with the zero point's code: it stands for real 0, like the float conv's padding.
        xq = pad(quantize_affine(x, scale, zero_point), geom, zero_point, layout=CHWN)
        cols = unfold(xq, geom).reshape(groups, -1, ho * wo * n)          # (G, K, M) int8
        w = self.q_weight.data.reshape(groups, self.out_channels // groups, -1)  # (G, O/G, K)
        acc = np.matmul(w, cols, dtype=np.int32)                          # (G, O/G, M)
        acc -= np.int32(zero_point) * w.sum(axis=2, dtype=np.int32)[..., None]
        out = self._rescale(acc, scale, (self.out_channels, ho, wo, n))   # (O, Ho, Wo, N)
        return np.asarray(out.transpose(3, 0, 1, 2))  # the NCHW view, as Conv2d returns

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, path={self.path!r}, "
                f"calibrated={self.calibrated}")


__all__ = ["DEFAULT_PATH", "PATHS", "QuantizedConv2d", "QuantizedLinear"]
