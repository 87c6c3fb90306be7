"""Layers (module 03): Module, Linear, Dropout, Sequential, ModuleList, Flatten, Identity.

A ``Module`` finds its parameters and sub-modules by walking its attributes (plain lists,
tuples and dicts included), so composites never hand-write ``parameters()`` and nothing is
registered through ``__setattr__`` magic. Tied weights are counted once.

Example:
    >>> net = Sequential(Linear(4, 8), Linear(8, 2))
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from tinytorch.core import init, ops
from tinytorch.core.errors import SerializationError, ShapeError, explain
from tinytorch.core.rng import get_rng
from tinytorch.core.serialization import load_arrays, save_arrays
from tinytorch.core.tensor import Parameter, Tensor

_FILE_FORMAT = "tinytorch.module/1"


class Module:
    """Base class of every layer and model: parameter discovery, modes, state and files.

    Subclasses set parameters and sub-modules as attributes (directly or inside lists, tuples
    and dicts) and define ``forward``. Calling the module calls ``forward``.
    """

    training = True  # class-level default: works even if a subclass skips super().__init__()

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # --- discovery -------------------------------------------------------------------------

    def _members(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of the attributes that may hold parameters or modules."""
        return iter(vars(self).items())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their (possibly dotted, for containers) names."""
        seen: set[int] = set()
        for name, value in self._members():
            for sub_name, item in _walk(value, name):
                if isinstance(item, Module) and id(item) not in seen:
                    seen.add(id(item))
                    yield sub_name, item

    def children(self) -> Iterator[Module]:
        """Direct sub-modules."""
        return (module for _, module in self.named_children())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, each once, depth first."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child}" if name else child, sub)
                        for child, sub in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        return (module for _, module in self.named_modules())

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name, each once even when shared."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, value in module._members():
                for sub_name, item in _walk(value, name):
                    if isinstance(item, Parameter) and id(item) not in seen:
                        seen.add(id(item))
                        yield (f"{module_name}.{sub_name}" if module_name else sub_name), item

    def parameters(self, recurse: bool = True) -> list[Parameter]:
        """Every parameter, each once (a list, so it can be iterated more than once)."""
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def register_buffer(self, name: str, value: Any) -> None:
        """Store ``value`` as attribute ``name`` and include it in the state dict (not learned)."""
        setattr(self, name, value)
        names = self.__dict__.setdefault("_buffer_names", [])
        if name not in names:
            names.append(name)

    def named_buffers(self) -> Iterator[tuple[str, Any]]:
        """Every registered buffer with its dotted name."""
        for module_name, module in self.named_modules():
            for name in module.__dict__.get("_buffer_names", []):
                yield (f"{module_name}.{name}" if module_name else name), getattr(module, name)

    # --- modes and gradients ---------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Put this module and every descendant in training mode (or eval when False)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout off, batch norm uses running statistics."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient."""
        for p in self.parameters():
            p.grad = None

    def num_parameters(self) -> int:
        """The number of learnable scalars."""
        return sum(p.data.size for p in self.parameters())

    # --- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        for name, value in self.named_buffers():
            state[name] = np.array(getattr(value, "data", value), copy=True)
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values into the parameters and buffers; on any mismatch change nothing and raise.

        Raises:
            SerializationError: missing or unexpected keys (when strict), or a shape mismatch.
        """
        targets = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        expected = set(targets) | set(buffers)
        missing = sorted(expected - set(state))
        unexpected = sorted(set(state) - expected)
        if strict and (missing or unexpected):
            raise SerializationError(explain(
                what=f"state dict does not match {type(self).__name__}: "
                     f"missing keys {missing}, unexpected keys {unexpected}",
                why="strict loading needs exactly one value per parameter and buffer",
                fix="load into the same architecture it was saved from, or pass strict=False",
            ))
        arrays = {k: np.asarray(getattr(v, "data", v)) for k, v in state.items() if k in expected}
        for key, array in arrays.items():
            current = targets[key].data if key in targets else np.asarray(
                getattr(buffers[key], "data", buffers[key]))
            if array.shape != current.shape:
                raise SerializationError(explain(
                    what=f"{key!r} has shape {array.shape} in the state dict but "
                         f"{current.shape} in the model",
                    why="values are copied into existing parameters, which keep their shapes",
                    fix="build the model with the same sizes as the saved one",
                ))
        for key, array in arrays.items():  # all checks passed: now it is safe to write
            if key in targets:
                targets[key].data[...] = array
            else:
                self._set_buffer(key, array)

    def _set_buffer(self, dotted: str, array: np.ndarray) -> None:
        owner_name, _, attr = dotted.rpartition(".")
        owner = dict(self.named_modules())[owner_name]
        value = getattr(owner, attr)
        if isinstance(value, Tensor):
            value.data[...] = array
        else:
            setattr(owner, attr, array.copy())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state dict to ``path`` (.npz, no pickle, atomic)."""
        save_arrays(path, self.state_dict(),
                    {"format": _FILE_FORMAT, "class": type(self).__name__})

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> Module:
        """Read a file written by ``save``; on any error the module is left unchanged."""
        arrays, metadata = load_arrays(path)
        if metadata.get("format") != _FILE_FORMAT:
            raise SerializationError(explain(
                what=f"{str(path)!r} is not a tinytorch model file "
                     f"(format {metadata.get('format')!r})",
                why=f"Module.load reads files written by Module.save ({_FILE_FORMAT})",
                fix="point to a file saved with model.save(path)",
            ))
        self.load_state_dict(arrays, strict=strict)
        return self

    # --- printing --------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The layer's own settings, shown inside its repr."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


def _walk(value: Any, name: str) -> Iterator[tuple[str, Any]]:
    """Yield the parameters and modules in ``value``, looking inside lists, tuples and dicts."""
    if isinstance(value, (Parameter, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{name}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{name}.{key}")


class Linear(Module):
    """y = x @ W + b, with W of shape (in_features, out_features) as upstream.

    Shapes:
        x: (..., in_features) -> y: (..., out_features)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        shape = (in_features, out_features)
        self.weight = Parameter(init.lecun_normal(shape, fan_in=in_features))
        self.bias = Parameter(np.zeros(out_features, dtype=np.float32)) if bias else None

    @property
    def weights(self) -> Parameter:
        """Upstream's name for ``weight`` (a property, so it is not counted twice)."""
        return self.weight

    @weights.setter
    def weights(self, value: Parameter) -> None:
        self.weight = value

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1:] != (self.in_features,):
            raise ShapeError(explain(
                what=f"Linear({self.in_features}, {self.out_features}) got input of shape "
                     f"{x.shape}",
                why=f"the last dimension must equal in_features={self.in_features}",
                fix="flatten the input first, or build the layer with the right in_features",
            ))
        if self.bias is None:
            return ops.Linear.apply(x, self.weight)
        return ops.Linear.apply(x, self.weight, self.bias)   # the bias is added inside the GEMM op

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Dropout(Module):
    """Zero each element with probability ``p`` in training, scaling the rest by 1 / (1 - p)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(explain(
                what=f"Dropout(p={p}) is not a probability",
                why="p is the chance of zeroing an element, so it lies in [0, 1]",
                fix="pass a value such as 0.1 or 0.5",
            ))
        self.p = p

    def forward(self, x: Tensor, training: bool | None = None) -> Tensor:
        active = self.training if training is None else training
        if not active or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        keep = get_rng().random(x.shape, dtype=np.float32) >= self.p
        return x * (keep * np.float32(1.0 / (1.0 - self.p)))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Merge the axes from ``start_dim`` on into one (the batch axis 0 is kept by default)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)


class Identity(Module):
    """Return the input unchanged (a placeholder layer)."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class ModuleList(Module):
    """A list of modules whose parameters are found, named by position ('0', '1', ...)."""

    def __init__(self, modules: Iterable[Any] = ()) -> None:
        super().__init__()
        self.items = list(modules)

    def _members(self) -> Iterator[tuple[str, Any]]:
        yield from ((str(i), m) for i, m in enumerate(self.items))
        yield from ((k, v) for k, v in vars(self).items() if k != "items")

    def append(self, module: Any) -> ModuleList:
        """Add a module at the end."""
        self.items.append(module)
        return self

    def __getitem__(self, index: int) -> Any:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)


class Sequential(ModuleList):
    """Apply layers in order: ``Sequential(a, b, c)`` or ``Sequential([a, b, c])``."""

    def __init__(self, *layers: Any) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        super().__init__(layers)

    @property
    def layers(self) -> list[Any]:
        """Upstream's name for the list of layers."""
        return self.items

    def forward(self, x: Any) -> Any:
        for layer in self.items:
            x = layer(x)
        return x

    def __repr__(self) -> str:
        if not self.items:
            return "Sequential()"
        body = "\n".join(f"  ({i}): " + repr(m).replace("\n", "\n  ")
                         for i, m in enumerate(self.items))
        return f"Sequential(\n{body}\n)"


# --- Upstream-compatible names -------------------------------------------------------------------
Layer = Module
Dense = Linear

__all__ = ["Dense", "Dropout", "Flatten", "Identity", "Layer", "Linear", "Module", "ModuleList",
           "Sequential"]
