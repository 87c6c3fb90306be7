"""Pruning (module 16): zero the least useful weights, and keep them zero while training goes on.

A pruned layer keeps two things where it had one: ``weight_orig``, the trainable Parameter, and
``weight_mask``, a boolean buffer (True = keep). It computes with ``weight = weight_orig *
weight_mask`` (``torch.nn.utils.prune``'s reparametrisation). Every use of the weight, forward
and backward, passes through that product, so:

* the weight the layer computes with is exactly zero where the mask is, after any optimizer
  step (momentum, Adam's moments, weight decay cannot reach it: the product is zero whatever
  ``weight_orig`` holds there);
* the gradient reaching ``weight_orig`` is zero at pruned entries (d(w * m)/dw = m), so a fresh
  optimizer leaves those entries of ``weight_orig`` at zero too;
* the mask is a buffer, so ``state_dict``, ``save`` and ``load`` carry it.

The layer object stays the same (its class becomes ``PrunedLinear`` or ``PrunedConv2d``, a
subclass that only adds the masked ``weight``/``bias`` properties), so optimizers and tied
references that hold its Parameters keep working. ``remove_pruning`` folds the mask in.

Example:
    >>> from tinytorch.core.layers import Linear
    >>> layer = Linear(4, 3)
    >>> _ = magnitude_prune(layer, sparsity=0.5)
    >>> sorted(layer.state_dict())
    ['bias', 'weight_mask', 'weight_orig']
    >>> round(measure_sparsity(layer), 1)   # percent, as upstream
    50.0
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tinytorch.core.errors import ConfigError, ShapeError, explain
from tinytorch.core.layers import Linear, Module
from tinytorch.core.serialization import load_arrays
from tinytorch.core.spatial import Conv2d

Array = np.ndarray
_SCOPES = ("layer", "global")


def _masked(name: str) -> property:
    """A property that reads ``name`` as ``<name>_orig * <name>_mask`` once it is pruned."""

    def get(self: Module) -> Any:
        mask = self.__dict__.get(f"{name}_mask")
        if mask is None:
            return self.__dict__.get(name)
        return self.__dict__[f"{name}_orig"] * mask   # differentiable: grad reaches _orig

    def set_(self: Module, value: Any) -> None:
        if f"{name}_mask" in self.__dict__:
            raise ConfigError(explain(
                what=f"cannot assign {type(self).__name__}.{name}: it is pruned",
                why=f"a pruned layer computes {name} = {name}_orig * {name}_mask, so there is no "
                    f"{name} Parameter to replace",
                fix=f"write into {name}_orig.data, or call remove_pruning(layer) first",
            ))
        self.__dict__[name] = value

    return property(get, set_, doc=f"The {name} this layer computes with (masked when pruned).")


class PrunedLinear(Linear):
    """A ``Linear`` whose weight (and maybe bias) is ``*_orig * *_mask``; made by pruning."""

    weight = _masked("weight")
    bias = _masked("bias")


class PrunedConv2d(Conv2d):
    """A ``Conv2d`` whose weight (and maybe bias) is ``*_orig * *_mask``; made by pruning."""

    weight = _masked("weight")
    bias = _masked("bias")


_PRUNED = {Linear: PrunedLinear, Conv2d: PrunedConv2d}
_DENSE = {pruned: dense for dense, pruned in _PRUNED.items()}


def is_pruned(layer: Any) -> bool:
    """True when ``layer`` computes with a mask (see ``prune_with_mask``)."""
    return type(layer) in _DENSE


def prune_with_mask(layer: Module, name: str, mask: Any) -> Module:
    """Make ``layer.<name>`` equal ``<name>_orig * mask`` from now on (``custom_from_mask``).

    The primitive every pruner here uses. Pruning twice multiplies the masks, so a weight once
    pruned stays pruned. The pruned entries of ``<name>_orig`` are zeroed as well.

    Args:
        layer: a ``Linear`` or ``Conv2d`` (pruned or not).
        name: ``"weight"`` or ``"bias"``.
        mask: ones (keep) and zeros (prune), shaped like the parameter.

    Raises:
        ConfigError: another kind of layer, another name, or a layer without that parameter.
        ShapeError: the mask's shape differs from the parameter's.
    """
    _check_prunable(layer, name)
    mask = np.asarray(mask)
    target = getattr(layer, name)
    if mask.shape != target.shape:
        raise ShapeError(explain(
            what=f"a mask of shape {mask.shape} for {type(layer).__name__}.{name} of shape "
                 f"{target.shape}",
            why="the mask multiplies the parameter entry by entry",
            fix=f"build the mask with the parameter's shape {target.shape}",
        ))
    mask = mask != 0                     # bool: one byte per entry on disk, not four
    layer.__class__ = _PRUNED.get(type(layer), type(layer))
    state = layer.__dict__
    if f"{name}_mask" in state:
        mask = mask & state[f"{name}_mask"]
    else:  # rename the Parameter in place, so the attribute order (and the names) stay tidy
        items = [(f"{name}_orig" if key == name else key, value) for key, value in state.items()]
        state.clear()
        state.update(items)
    layer.register_buffer(f"{name}_mask", mask)
    state[f"{name}_orig"].data *= mask
    return layer


def _check_prunable(layer: Any, name: str) -> None:
    kind = type(layer).__name__
    if type(layer) not in _PRUNED and type(layer) not in _DENSE:
        raise ConfigError(explain(
            what=f"cannot prune a {kind}",
            why="pruning reparametrises the weight of Linear and Conv2d layers",
            fix="pass a Linear or Conv2d layer, or a model that contains them",
        ))
    if name not in ("weight", "bias") or getattr(layer, name) is None:
        raise ConfigError(explain(
            what=f"{kind} has no parameter {name!r} to prune",
            why="a layer's pruneable parameters are its 'weight' and (when it has one) 'bias'",
            fix="pass name='weight'",
        ))


def remove_pruning(model: Module) -> Module:
    """Make pruning permanent: each masked Parameter becomes ``orig * mask`` and the mask goes.

    The Parameter objects are kept (their data is updated in place), so an optimizer built
    before keeps training them; from then on nothing stops the zeros from changing.
    """
    for _, layer in _layers(model):
        if not is_pruned(layer):
            continue
        state = layer.__dict__
        names = state.get("_buffer_names", [])
        for name in [n for n in ("weight", "bias") if f"{n}_mask" in state]:
            state[f"{name}_orig"].data *= state.pop(f"{name}_mask")
            names.remove(f"{name}_mask")
            items = [(name if key == f"{name}_orig" else key, v) for key, v in state.items()]
            state.clear()
            state.update(items)
        layer.__class__ = _DENSE[type(layer)]
    return model


def _layers(model: Module) -> Iterator[tuple[str, Module]]:
    """The Linear and Conv2d layers (pruned or not) of ``model``, in ``named_modules`` order."""
    for name, module in model.named_modules():
        if type(module) in _PRUNED or type(module) in _DENSE:
            yield name, module


def _prunable_layers(model: Any, who: str) -> list[tuple[str, Module]]:
    layers = list(_layers(model)) if isinstance(model, Module) else []
    if not layers:
        raise ConfigError(explain(
            what=f"{who} found no Linear or Conv2d layer in a {type(model).__name__}",
            why="pruning masks the weights of Linear and Conv2d layers",
            fix="pass a model (a Module) that contains Linear or Conv2d layers",
        ))
    return layers


def _check_fraction(value: Any, name: str, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not (
            0.0 <= float(value) < 1.0):
        raise ConfigError(explain(
            what=f"{who}({name}={value!r}) is not a fraction in [0, 1)",
            why=f"{name} is the share of weights to zero; 1 would remove every weight",
            fix=f"pass a value such as 0.5 or 0.9 ({name}=0.5 zeroes half of the weights)",
        ))
    return float(value)


def effective_weights(model: Module) -> Iterator[tuple[str, Array]]:
    """(dotted name, array) of every matrix or kernel (ndim > 1) the model computes with.

    Pruned layers report ``weight`` as ``weight_orig * weight_mask``, named ``<layer>.weight``.
    """
    modules = dict(model.named_modules())
    for name, param in model.named_parameters():
        if param.data.ndim < 2:
            continue
        owner, _, attr = name.rpartition(".")
        if attr.endswith("_orig") and f"{attr[:-5]}_mask" in vars(modules[owner]):
            base = f"{owner}.{attr[:-5]}" if owner else attr[:-5]
            yield base, getattr(modules[owner], attr[:-5]).data
        else:
            yield name, param.data


def measure_sparsity(model_or_tensor: Any) -> float:
    """The percentage (0-100) of zeros: in a tensor or array, or in a model's weight matrices.

    For a model, biases and other 1-D parameters are left out (they are often zero by design)
    and pruned layers count the weight they compute with. The result is a percentage, as
    upstream's; ``Compressor.measure_sparsity`` gives the fraction.

    Example:
        >>> measure_sparsity(np.array([0.0, 1.0, 0.0, 2.0]))
        50.0
    """
    if isinstance(model_or_tensor, Module):
        arrays = [array for _, array in effective_weights(model_or_tensor)]
    else:
        arrays = [np.asarray(getattr(model_or_tensor, "data", model_or_tensor))]
    total = sum(array.size for array in arrays)
    zeros = sum(array.size - np.count_nonzero(array) for array in arrays)
    return float(100.0 * zeros / total) if total else 0.0


def _smallest_mask(magnitudes: Array, count: int) -> Array:
    """A 0/1 mask (float32) that zeroes exactly the ``count`` smallest entries (ties: first)."""
    mask = np.ones(magnitudes.size, dtype=np.float32)
    mask[np.argsort(magnitudes.ravel(), kind="stable")[:count]] = 0.0
    return mask.reshape(magnitudes.shape)


def magnitude_prune(model: Module, sparsity: float = 0.5, scope: str = "layer") -> Module:
    """Zero the weights of smallest magnitude in every Linear and Conv2d layer; masks persist.

    Args:
        model: a model (or a single layer); pruned in place and returned.
        sparsity: the fraction of weights to zero, in [0, 1).
        scope: ``"layer"`` zeroes that fraction in each layer; ``"global"`` ranks all the
            layers' weights together (one threshold), so layers with smaller weights lose more.

    Weights already pruned count as the smallest, so pruning again to a higher sparsity
    extends the masks and never revives a weight. Biases are not pruned.

    Raises:
        ConfigError: sparsity outside [0, 1), an unknown scope, or no layer to prune.
    """
    sparsity = _check_fraction(sparsity, "sparsity", "magnitude_prune")
    if scope not in _SCOPES:
        raise ConfigError(explain(
            what=f"magnitude_prune(scope={scope!r}) is not a known scope",
            why="'layer' prunes each layer to the sparsity, 'global' ranks all weights together",
            fix="pass scope='layer' or scope='global'",
        ))
    layers = [layer for _, layer in _prunable_layers(model, "magnitude_prune")]
    magnitudes = [np.abs(layer.weight.data) for layer in layers]
    if scope == "layer":
        masks = [_smallest_mask(m, round(sparsity * m.size)) for m in magnitudes]
    else:
        flat = np.concatenate([m.ravel() for m in magnitudes])
        joint = _smallest_mask(flat, round(sparsity * flat.size))
        ends = np.cumsum([m.size for m in magnitudes])[:-1]
        masks = [part.reshape(m.shape) for part, m in zip(np.split(joint, ends), magnitudes,
                                                            strict=True)]
    for layer, mask in zip(layers, masks, strict=True):
        prune_with_mask(layer, "weight", mask)
    return model


def structured_prune(model: Module, prune_ratio: float = 0.5,
                     include_head: bool = False) -> Module:
    """Zero whole output neurons (Linear) or output channels (Conv2d) of smallest L2 norm.

    In each layer, ``floor(prune_ratio * outputs)`` outputs are pruned: their weight column
    (Linear, weight ``(in, out)``) or kernel (Conv2d, weight ``(out, in, kh, kw)``) and their
    bias entry are masked, so the neuron outputs exactly zero and could be deleted. The last
    layer is the head (its outputs are the classes) and is left alone unless ``include_head``.

    Raises:
        ConfigError: prune_ratio outside [0, 1), or no layer to prune.
    """
    ratio = _check_fraction(prune_ratio, "prune_ratio", "structured_prune")
    layers = [layer for _, layer in _prunable_layers(model, "structured_prune")]
    if not include_head and len(layers) > 1:
        layers = layers[:-1]
    for layer in layers:
        weight = layer.weight.data
        out_axis = 1 if isinstance(layer, Linear) else 0
        other_axes = tuple(a for a in range(weight.ndim) if a != out_axis)
        norms = np.sqrt(np.square(weight).sum(axis=other_axes))       # (outputs,)
        keep = _smallest_mask(norms, int(ratio * norms.size))
        shape = [1] * weight.ndim
        shape[out_axis] = norms.size
        prune_with_mask(layer, "weight", np.broadcast_to(keep.reshape(shape), weight.shape))
        if layer.bias is not None:
            prune_with_mask(layer, "bias", keep)
    return model


def pruning_masks(model: Module) -> dict[str, Array]:
    """The masks of a pruned model by dotted name (``'0.weight_mask'``), for inspection."""
    return {name: np.asarray(value) for name, value in model.named_buffers()
            if name.endswith("_mask")}


def load_pruned(model: Module, path: Any) -> Module:
    """Load a file saved from a pruned model into a fresh model of the same architecture.

    Each layer that has a mask in the file is first given an all-ones mask (so the state dict
    keys match), then ``model.load`` copies every value in, the masks included.
    """
    arrays, _ = load_arrays(path)
    modules = dict(model.named_modules())
    for key in arrays:
        owner, _, attr = key.rpartition(".")
        if attr in ("weight_mask", "bias_mask") and owner in modules:
            target = getattr(modules[owner], attr[:-5])
            if target is not None and attr not in vars(modules[owner]):
                prune_with_mask(modules[owner], attr[:-5], np.ones(target.shape))
    model.load(path)
    return model


__all__ = ["PrunedConv2d", "PrunedLinear", "effective_weights", "is_pruned", "load_pruned",
           "magnitude_prune", "measure_sparsity", "prune_with_mask", "pruning_masks",
           "remove_pruning", "structured_prune"]
