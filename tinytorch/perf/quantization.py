"""Quantization (module 15): int8 weights that really take one byte each, and the proof in bytes.

Post-training quantization in the ``torch.ao.quantization`` manner, observe -> convert:

1. ``quantize_int8`` / ``dequantize_int8`` turn float data into ``np.int8`` codes and back
   (per-tensor affine, or per-channel symmetric with ``axis=``; ``quant_schemes``).
2. ``quantize_model(model, calibration_data)`` runs the calibration batches through the float
   model while observers record the input range of every ``Linear`` and ``Conv2d``, then
   replaces those layers, in place, by ``QuantizedLinear`` / ``QuantizedConv2d`` (``quant_layers``).
3. It returns a ``QuantizationReport``: per layer and in total, the bytes before and after,
   counted from the arrays' ``nbytes``, never assumed.

A quantized model is an ordinary Module: ``state_dict``, ``save`` and ``load`` keep the codes int8.
To reload one, build the float architecture, ``quantize_model`` it (no calibration needed), then
``load`` the file: the codes, scales and calibrated ranges all come from the file.

Example:
    >>> from tinytorch.core.layers import Linear, Sequential
    >>> from tinytorch.core.activations import ReLU
    >>> model = Sequential(Linear(64, 32), ReLU(), Linear(32, 10))
    >>> report = quantize_model(model, calibration_data=[np.ones((8, 64), np.float32)])
    >>> type(model.layers[0]).__name__, report.bytes_before, report.bytes_after
    ('QuantizedLinear', 9640, 2720)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.errors import ConfigError, explain
from tinytorch.core.layers import Linear, Module
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.quant_layers import (
    DEFAULT_PATH,
    PATHS,
    QuantizedConv2d,
    QuantizedLinear,
    check_path,
    iter_batches,
)
from tinytorch.perf.quant_schemes import (
    MinMaxObserver,
    PercentileObserver,
    affine_qparams,
    dequantize_int8,
    quantize_int8,
)

# Exactly these classes are replaced: a subclass may compute differently (a pruned layer's
# masked weight, say), and quantizing its raw weight would silently change what it computes.
_REPLACEMENTS: dict[type, type] = {Linear: QuantizedLinear, Conv2d: QuantizedConv2d}


def module_nbytes(module: Module) -> int:
    """Bytes a module really stores: ``nbytes`` of every parameter and buffer (each once)."""
    params = sum(p.data.nbytes for p in module.parameters())
    return params + sum(np.asarray(getattr(v, "data", v)).nbytes for _, v in module.named_buffers())


# --- The report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerQuantization:
    """What quantizing one layer did, in real bytes."""

    name: str
    kind: str               # "Linear" or "Conv2d"
    scheme: str
    bytes_before: int
    bytes_after: int
    weight_scale_range: tuple[float, float]
    input_scale: float | None  # None: not calibrated, the input is quantized per batch


@dataclass
class QuantizationReport:
    """Per-layer and whole-model bytes before and after ``quantize_model``.

    ``bytes_before``/``bytes_after`` count the whole model (layers left in float included);
    ``str(report)`` (or ``report.table()``) prints one row per layer and the total.
    """

    layers: list[LayerQuantization] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0
    path: str = DEFAULT_PATH

    @property
    def compression_ratio(self) -> float:
        """Whole-model bytes before over after."""
        return self.bytes_before / self.bytes_after if self.bytes_after else 1.0

    def table(self) -> str:
        """A plain-text table: layer, kind, bytes before/after, ratio, scales, input range."""
        rows = [("layer", "kind", "bytes fp32", "bytes int8", "ratio", "weight scales",
                 "input scale")]
        for layer in self.layers:
            lo, hi = layer.weight_scale_range
            rows.append((layer.name, layer.kind, f"{layer.bytes_before:,}",
                         f"{layer.bytes_after:,}", f"{layer.bytes_before / layer.bytes_after:.2f}x",
                         f"{lo:.2g}..{hi:.2g}",
                         "per batch" if layer.input_scale is None else f"{layer.input_scale:.3g}"))
        rows.append(("total (whole model)", "", f"{self.bytes_before:,}", f"{self.bytes_after:,}",
                     f"{self.compression_ratio:.2f}x", "", ""))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                 for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        scheme = self.layers[0].scheme if self.layers else "-"
        return "\n".join([*lines, f"scheme: {scheme}; inference path: {self.path}"])

    __str__ = table

    def to_dict(self) -> dict[str, float]:
        """Upstream's summary keys (``compression_ratio``, ``original_size_mb``, ...)."""
        return _size_summary(self.bytes_before, self.bytes_after)

    def __getitem__(self, key: str) -> float:
        return self.to_dict()[key]


def _size_summary(before: int, after: int) -> dict[str, float]:
    saved = before - after
    return {
        "original_bytes": before, "quantized_bytes": after,
        "compression_ratio": before / after if after else 1.0,
        "original_size_mb": before / 2**20, "quantized_size_mb": after / 2**20,
        "memory_saved_mb": saved / 2**20,
        "memory_saved_percent": 100.0 * saved / before if before else 0.0,
    }


def _layer_entry(name: str, layer: Any) -> LayerQuantization:
    scales = layer.weight_scale.data
    return LayerQuantization(
        name=name or "(model)", kind=type(layer).__name__.removeprefix("Quantized"),
        scheme="weights int8 per-channel symmetric, inputs int8 per-tensor affine",
        bytes_before=layer.float_nbytes, bytes_after=layer.nbytes(),
        weight_scale_range=(float(scales.min()), float(scales.max())),
        input_scale=layer.input_scale)


# --- Replacing layers ----------------------------------------------------------------------------


def _targets(model: Module) -> dict[int, tuple[str, Module]]:
    """The layers to quantize, by identity (a layer shared by two parents is found once).

    Raises:
        ConfigError: ``model`` is itself such a layer (it has no parent to be replaced in), or
            holds none.
    """
    if type(model) in _REPLACEMENTS:
        raise ConfigError(explain(
            what=f"quantize_model got a bare {type(model).__name__}",
            why="layers are replaced inside their parent module, and a bare layer has none",
            fix=f"use Quantized{type(model).__name__}(layer), or wrap it: Sequential(layer)",
        ))
    targets: dict[int, tuple[str, Module]] = {}
    for name, module in model.named_modules():
        if type(module) in _REPLACEMENTS and id(module) not in targets:
            targets[id(module)] = (name, module)
    if not targets:
        raise ConfigError(explain(
            what=f"{type(model).__name__} holds no Linear or Conv2d layer to quantize",
            why="quantize_model replaces exactly those layers (subclasses are left alone)",
            fix="pass the model that contains the layers",
        ))
    return targets


def _swap(model: Module, swaps: Mapping[int, Module]) -> None:
    """Replace every reference to a key layer (attributes, lists, tuples, dicts) by its value."""

    def swapped(value: Any) -> Any:
        if id(value) in swaps:
            return swaps[id(value)]
        if isinstance(value, list):
            value[:] = [swapped(item) for item in value]  # in place: others may hold the list
        elif isinstance(value, tuple):
            return tuple(swapped(item) for item in value)
        elif isinstance(value, dict):
            value.update({key: swapped(item) for key, item in value.items()})
        return value

    for parent in list(model.modules()):
        for attr, value in list(vars(parent).items()):
            new = swapped(value)
            if new is not value:
                setattr(parent, attr, new)


class _Recorder(Module):
    """Stands in for a float layer during calibration: observes each input, then runs the layer."""

    def __init__(self, layer: Module, observer: Any) -> None:
        super().__init__()
        self.layer, self.observer = layer, observer

    def forward(self, x: Tensor) -> Tensor:
        self.observer.observe(x)
        out: Tensor = self.layer(x)
        return out


def _calibrate(model: Module, targets: dict[int, tuple[str, Module]], data: Any,
               observer: Callable[[], Any]) -> dict[int, Any]:
    """Run ``data`` through the float model in eval mode; return each target's filled observer."""
    recorders = {key: _Recorder(layer, observer()) for key, (_, layer) in targets.items()}
    was_training = model.training
    _swap(model, recorders)
    try:
        model.eval()
        with no_grad():
            for batch in iter_batches(data):
                model(batch if isinstance(batch, Tensor) else Tensor(batch))
    finally:
        _swap(model, {id(r): r.layer for r in recorders.values()})
        model.train(was_training)
    unseen = [targets[key][0] for key, r in recorders.items() if r.observer.count == 0]
    if unseen:
        raise ConfigError(explain(
            what=f"calibration data never reached the layer(s) {unseen}",
            why="each quantized layer's input range is measured on the inputs it receives",
            fix="pass at least one batch that the model's forward runs through every layer",
        ))
    return {key: r.observer for key, r in recorders.items()}


def quantize_model(model: Module, calibration_data: Any = None, *, path: str = DEFAULT_PATH,
                   observer: Callable[[], Any] = MinMaxObserver) -> QuantizationReport:
    """Replace every ``Linear`` and ``Conv2d`` in ``model``, in place, by its int8 counterpart.

    Layers are found with ``named_modules`` wherever they sit (inside ``Sequential``, plain
    lists, tuples, dicts or attributes); a layer shared by two parents stays shared.

    Args:
        model: a Module holding the layers (a bare ``Linear`` has no parent to replace it in;
            use ``QuantizedLinear(layer)``).
        calibration_data: a batch, or an iterable of batches (``(inputs, labels)`` pairs use
            their inputs), run through the float model to fix every layer's input range. None:
            inputs are quantized with each batch's own range (dynamic quantization).
        path: the inference path of the new layers, ``"dequantized"`` (default) or ``"integer"``.
        observer: makes one fresh observer per layer, e.g. ``lambda: PercentileObserver(99.9)``.

    Returns:
        The report: real bytes before and after, per layer and for the whole model.

    Raises:
        ConfigError: ``model`` is itself a layer to replace, has none, the path is unknown, or the
            calibration data misses a layer.
    """
    targets = _targets(model)
    bytes_before = module_nbytes(model)
    observers = {} if calibration_data is None else _calibrate(
        model, targets, calibration_data, observer)
    swaps: dict[int, QuantizedLinear | QuantizedConv2d] = {}
    for key, (_, layer) in targets.items():
        swaps[key] = _REPLACEMENTS[type(layer)](layer, path=path)
        if key in observers:
            swaps[key].set_input_qparams(*observers[key].calculate_qparams())
    _swap(model, swaps)
    layers = [_layer_entry(name, swaps[key]) for key, (name, _) in targets.items()]
    return QuantizationReport(layers, bytes_before, module_nbytes(model), path)


def compare_model_sizes(original: Module, quantized: Module) -> dict[str, float]:
    """Real bytes of two models (``nbytes`` of every parameter and buffer) and their ratio.

    ``quantize_model`` works in place, so keep a copy (``copy.deepcopy``) to compare against.
    Returns ``original_bytes``, ``quantized_bytes``, ``compression_ratio``, sizes in MB and the
    saving in MB and percent.
    """
    return _size_summary(module_nbytes(original), module_nbytes(quantized))


def set_inference_path(model: Module, path: str) -> None:
    """Switch every quantized layer in ``model`` to ``path``: ``"dequantized"`` or ``"integer"``."""
    check_path(path)
    for module in model.modules():
        if isinstance(module, (QuantizedLinear, QuantizedConv2d)):
            module.path = path


class Quantizer:
    """The upstream-style face of this module: one class with the whole workflow."""

    quantize_tensor = staticmethod(quantize_int8)
    dequantize_tensor = staticmethod(dequantize_int8)

    @staticmethod
    def quantize_model(model: Module, calibration_data: Iterable[Any] | None = None,
                       **options: Any) -> QuantizationReport:
        """``quantize_model`` (in place); the report also answers upstream's dict keys."""
        return quantize_model(model, calibration_data, **options)

    @staticmethod
    def compare_models(original: Module, quantized: Any) -> dict[str, float]:
        """Sizes of ``original`` and of a quantized model (or a report of one)."""
        if isinstance(quantized, QuantizationReport):
            return _size_summary(module_nbytes(original), quantized.bytes_after)
        return compare_model_sizes(original, quantized)


# --- Upstream-compatible names -------------------------------------------------------------------
analyze_model_sizes = compare_model_sizes

__all__ = [
    "DEFAULT_PATH", "PATHS", "LayerQuantization", "MinMaxObserver", "PercentileObserver",
    "QuantizationReport", "QuantizedConv2d", "QuantizedLinear", "Quantizer", "affine_qparams",
    "analyze_model_sizes", "compare_model_sizes", "dequantize_int8", "module_nbytes",
    "quantize_int8", "quantize_model", "set_inference_path",
]
