"""INT8 codes for float arrays: the two schemes, and the observers that pick their ranges.

A quantized value is an integer code ``q`` standing for the real number
``(q - zero_point) * scale``. Two ways of choosing ``scale`` and ``zero_point`` are used (as
in ``torch.ao.quantization``):

- **Per-tensor affine** (activations): one scale and one zero point for the whole array. The
  range ``[lo, hi]`` is widened to contain 0, then spread over the 256 codes -128..127:
  ``scale = (hi - lo) / 255`` and ``zero_point = round(-128 - lo / scale)``. Real 0 is then a
  code exactly, so zero padding and ReLU zeros cost no error.
- **Per-channel symmetric** (weights): one scale per output channel, ``max|w| / 127``, and zero
  point 0, codes in -127..127. A channel of small weights is not crushed by a large one elsewhere,
  and a zero point of 0 keeps the integer product simple.

Rounding to the nearest code makes every value in range come back within half a step:
``|x - dequantize(quantize(x))| <= scale / 2``.

Observers watch calibration batches and turn what they saw into a per-tensor affine range:
``MinMaxObserver`` keeps the extremes, ``PercentileObserver`` ignores rare outliers.

Example:
    >>> observer = MinMaxObserver()
    >>> observer.observe(np.array([-1.0, 0.5, 3.0], dtype=np.float32))
    >>> scale, zero_point = observer.calculate_qparams()
    >>> round(scale * 255, 6), zero_point
    (4.0, -64)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.errors import ConfigError, DTypeError, ShapeError, explain
from tinytorch.core.tensor import Tensor

QMIN, QMAX = -128, 127          # the int8 codes of the per-tensor affine scheme
SYMMETRIC_QMAX = 127            # per-channel symmetric codes lie in -127..127
# Smallest scale handed out: an all-zero range would otherwise divide by zero. Any positive
# scale represents zeros exactly, and the half-step bound holds for the scale returned.
MIN_SCALE = float(np.finfo(np.float32).eps)


def float_array(values: Any, what: str) -> np.ndarray:
    """The float32 array behind a Tensor or array-like, refusing integer, bool and non-finite data.

    Raises:
        DTypeError: the data is not floating point (integer codes are already quantized).
        ValueError: the data holds NaN or infinity, which have no int8 code.
    """
    array = np.asarray(getattr(values, "data", values))
    if array.dtype.kind != "f":
        raise DTypeError(explain(
            what=f"{what} got data of dtype {array.dtype}",
            why="only floating-point values are quantized; integers have no scale to recover",
            fix="pass float32 data, e.g. x.astype(np.float32)",
        ))
    if not np.isfinite(array).all():
        raise ValueError(explain(
            what=f"{what} got data containing NaN or infinity",
            why="int8 codes cover a finite range; a non-finite value has no code",
            fix="find where the NaN/inf comes from (e.g. a diverged model) before quantizing",
        ))
    return array.astype(np.float32, copy=False)


def affine_qparams(lo: float, hi: float) -> tuple[float, int]:
    """Per-tensor affine ``(scale, zero_point)`` mapping ``[lo, hi]`` (widened to hold 0) onto int8.

    Example:
        >>> affine_qparams(0.0, 2.55)[1]  # all non-negative: real 0 is the lowest code
        -128
    """
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    # rounded to float32 once, so the scale a layer stores is the scale its codes were made with
    scale = float(np.float32(max((hi - lo) / (QMAX - QMIN), MIN_SCALE)))
    zero_point = int(np.clip(round(QMIN - lo / scale), QMIN, QMAX))
    return scale, zero_point


def quantize_affine(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 codes ``clip(round(x / scale) + zero_point, -128, 127)``; values beyond saturate."""
    codes = np.rint(x / np.float32(scale))
    codes += np.float32(zero_point)
    return np.asarray(np.clip(codes, QMIN, QMAX, out=codes), dtype=np.int8)


def symmetric_scales(x: np.ndarray, axis: int) -> np.ndarray:
    """Per-channel symmetric scales along ``axis``: ``max|x| / 127`` of each slice (float32)."""
    others = tuple(a for a in range(x.ndim) if a != axis)
    amax = np.abs(x).max(axis=others) if x.size else np.zeros(x.shape[axis], np.float32)
    return np.asarray(np.maximum(amax / np.float32(SYMMETRIC_QMAX), np.float32(MIN_SCALE)),
                      dtype=np.float32)


def quantize_symmetric(x: np.ndarray, scales: np.ndarray, axis: int) -> np.ndarray:
    """int8 codes ``clip(round(x / scale_c), -127, 127)``, one scale per slice along ``axis``."""
    codes = np.rint(x / channel_view(scales, axis, x.ndim))
    return np.asarray(np.clip(codes, -SYMMETRIC_QMAX, SYMMETRIC_QMAX, out=codes), dtype=np.int8)


def channel_view(scales: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """``scales`` shaped to broadcast along ``axis`` of an ``ndim``-D array."""
    shape = [1] * ndim
    shape[axis] = -1
    return scales.reshape(shape)


def check_axis(axis: int, ndim: int, what: str) -> int:
    """``axis`` as a non-negative index into ``ndim`` axes, or a ShapeError."""
    if not -ndim <= axis < ndim:
        raise ShapeError(explain(
            what=f"{what}: axis={axis} for data with {ndim} dimensions",
            why="per-channel quantization keeps one scale per slice along an existing axis",
            fix=f"pass an axis in [{-ndim}, {ndim - 1}] (the output-channel axis)",
        ))
    return axis % ndim


# --- Tensors in, codes out ----------------------------------------------------------------------


def quantize_int8(t: Any, axis: int | None = None) -> tuple[Tensor, Any, Any]:
    """Quantize float data to int8 codes: ``(q, scale, zero_point)``.

    Args:
        t: a float Tensor or array.
        axis: None for one per-tensor affine scale (``scale`` a float, ``zero_point`` an int);
            an axis for per-channel symmetric scales along it (``scale`` a float32 array with
            one entry per channel, ``zero_point`` an int32 array of zeros).

    Returns:
        ``q`` is a Tensor whose ``.data`` is an ``np.int8`` array of ``t``'s shape (one byte per
        value), and ``dequantize_int8(q, scale, zero_point, axis)`` recovers every value to within
        ``scale / 2``.

    Raises:
        DTypeError: ``t`` is not floating point.
        ValueError: ``t`` holds NaN or infinity.
        ShapeError: ``axis`` is not an axis of ``t``.

    Example:
        >>> q, scale, zero_point = quantize_int8(Tensor([-1.0, 0.0, 3.0]))
        >>> q.data.dtype, q.data.tolist(), zero_point
        (dtype('int8'), [-128, -64, 127], -64)
    """
    x = float_array(t, "quantize_int8")
    if axis is None:
        scale, zero_point = affine_qparams(x.min(initial=0.0), x.max(initial=0.0))
        return Tensor(quantize_affine(x, scale, zero_point), dtype=np.int8), scale, zero_point
    axis = check_axis(axis, x.ndim, "quantize_int8")
    scales = symmetric_scales(x, axis)
    codes = quantize_symmetric(x, scales, axis)
    return Tensor(codes, dtype=np.int8), scales, np.zeros(scales.shape, np.int32)


def dequantize_int8(q: Any, scale: Any, zero_point: Any, axis: int | None = None) -> Tensor:
    """The float32 values ``(q - zero_point) * scale`` that int8 codes stand for.

    Args:
        q: int8 codes (a Tensor or array), as returned by ``quantize_int8``.
        scale, zero_point: numbers (per-tensor) or one entry per channel (per-channel).
        axis: the channel axis when ``scale`` has one entry per channel.

    Raises:
        DTypeError: ``q`` is not an integer array.
        ShapeError: per-channel parameters without a matching ``axis``.

    Example:
        >>> dequantize_int8(Tensor([-128, 127], dtype=np.int8), 0.5, -128).tolist()
        [0.0, 127.5]
    """
    codes = np.asarray(getattr(q, "data", q))
    if codes.dtype.kind not in "iu":
        raise DTypeError(explain(
            what=f"dequantize_int8 got codes of dtype {codes.dtype}",
            why="it turns integer codes back into floats; float input is not quantized yet",
            fix="pass the q returned by quantize_int8 (an int8 Tensor)",
        ))
    scale = np.asarray(scale, dtype=np.float32)
    offset = np.asarray(zero_point, dtype=np.float32)
    if scale.ndim:
        channels = None if axis is None else codes.shape[check_axis(axis, codes.ndim,
                                                                     "dequantize_int8")]
        if axis is None or scale.shape != (channels,):
            raise ShapeError(explain(
                what=f"dequantize_int8 got {scale.shape} scales for codes of shape {codes.shape} "
                     f"with axis={axis}",
                why="per-channel scales need the axis they run along, one scale per channel",
                fix="pass the same axis given to quantize_int8",
            ))
        scale = channel_view(scale, axis, codes.ndim)
        offset = channel_view(offset, axis, codes.ndim)
    return Tensor((codes.astype(np.float32) - offset) * scale)


# --- Observers -----------------------------------------------------------------------------------


class MinMaxObserver:
    """Track the smallest and largest value seen; its range is exactly what calibration covered.

    Every calibration value then lies inside the range, so none saturates, but one outlier
    widens the step for all the others.
    """

    def __init__(self) -> None:
        self.min_val = float("inf")
        self.max_val = float("-inf")
        self.count = 0

    def observe(self, x: Any) -> None:
        """Fold one batch of values into the running range."""
        array = float_array(x, type(self).__name__)
        if array.size:
            self._update(array)
            self.count += array.size

    __call__ = observe

    def _update(self, array: np.ndarray) -> None:
        self.min_val = min(self.min_val, float(array.min()))
        self.max_val = max(self.max_val, float(array.max()))

    def calculate_qparams(self) -> tuple[float, int]:
        """``(scale, zero_point)`` of the per-tensor affine scheme for the observed range.

        Raises:
            ConfigError: nothing has been observed yet.
        """
        if self.count == 0:
            raise ConfigError(explain(
                what=f"{type(self).__name__} has not observed any values",
                why="quantization parameters are computed from the values seen in calibration",
                fix="call observe(batch) on calibration data first",
            ))
        return affine_qparams(self.min_val, self.max_val)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(min={self.min_val:.4g}, max={self.max_val:.4g})"


class PercentileObserver(MinMaxObserver):
    """Range from the ``100 - p``th to the ``p``th percentile: rare outliers saturate, others gain.

    Each batch contributes its own two percentiles; the range is their average weighted by batch
    size (exact for a single batch, a consistent estimate over many, in constant memory).

    Args:
        percentile: the upper percentile kept, in (50, 100]; 100 is the min/max range.
    """

    def __init__(self, percentile: float = 99.99) -> None:
        if not 50.0 < percentile <= 100.0:
            raise ConfigError(explain(
                what=f"PercentileObserver(percentile={percentile})",
                why="the range runs from the (100 - p)th to the pth percentile, p in (50, 100]",
                fix="pass e.g. percentile=99.9",
            ))
        super().__init__()
        self.percentile = percentile
        self._lo_sum = self._hi_sum = 0.0

    def _update(self, array: np.ndarray) -> None:
        lo, hi = np.percentile(array, [100.0 - self.percentile, self.percentile])
        self._lo_sum += float(lo) * array.size
        self._hi_sum += float(hi) * array.size
        total = self.count + array.size
        self.min_val, self.max_val = self._lo_sum / total, self._hi_sum / total


__all__ = ["MinMaxObserver", "PercentileObserver", "affine_qparams", "dequantize_int8",
           "quantize_int8"]
