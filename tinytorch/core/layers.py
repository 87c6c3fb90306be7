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
from tinytorch.core.dtypes import check_device, is_dtype, resolve_dtype
from tinytorch.core.errors import SerializationError, ShapeError, explain
from tinytorch.core.rng import get_rng
from tinytorch.core.serialization import load_arrays, save_arrays
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.core.tying import IN_OUT, OUT_IN, checked_matrix, layout_of, mark_layout

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

    def buffers(self) -> Iterator[Any]:
        """Every registered buffer (running statistics and the like)."""
        return (value for _, value in self.named_buffers())

    def apply(self, fn: Any) -> Module:
        """Call ``fn(module)`` on every descendant and then on this module; returns self.

        Example:
            >>> net = Sequential(Linear(2, 2), Linear(2, 1))
            >>> _ = net.apply(lambda m: m.bias.data.fill(0.5) if isinstance(m, Linear) else None)
            >>> net[1].bias.tolist()
            [0.5]
        """
        for child in self.children():  # children first, as PyTorch
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to("cpu")``, ``to(device)``, ``to(dtype)``: cast floating parameters and buffers.

        The parameters keep their identity (optimizers and tied layers still hold them); only
        their arrays change dtype. Every device is the CPU, so ``"cpu"`` changes nothing and
        any other device is refused. Returns self.

        Raises:
            ConfigError: a device other than the CPU.
        """
        dtype = _target_dtype(args, kwargs)
        if dtype is None:
            return self
        for p in self.parameters():
            if p.data.dtype.kind == "f" and p.data.dtype != dtype:
                p.data = p.data.astype(dtype)
                if p.grad is not None:
                    p.grad = p.grad.data.astype(dtype)
        for value in self.buffers():
            if isinstance(value, Tensor) and value.data.dtype.kind == "f" and (
                    value.data.dtype != dtype):
                value.data = value.data.astype(dtype)
        return self

    # --- modes and gradients ---------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Put this module and every descendant in training mode (or eval when False)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout off, batch norm uses running statistics."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (or fill it with zeros when ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data.fill(0)

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


def _target_dtype(args: tuple[Any, ...], kwargs: dict[str, Any]) -> np.dtype[Any] | None:
    """The floating dtype a ``Module.to(...)`` call asks for (None: only a device was named).

    Arguments are read as ``Tensor.to`` reads them: a dtype, a tensor (its dtype) or a device;
    a GPU device raises the ``ConfigError`` of ``tinytorch.device``.
    """
    wanted = None
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, bool) or arg is None:
            continue                                    # non_blocking=, copy=, device=None
        if isinstance(arg, Tensor):
            wanted = arg.data.dtype
        elif is_dtype(arg):
            wanted = resolve_dtype(arg)
        else:
            check_device(arg)
    return wanted if wanted is not None and wanted.kind == "f" else None


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
        self.weight = mark_layout(Parameter(init.lecun_normal(shape, fan_in=in_features)), IN_OUT)
        self.bias = Parameter(np.zeros(out_features, dtype=np.float32)) if bias else None

    # ``weight`` is a property that keeps its value in the instance dict under the same name, so
    # discovery still finds "weight" there; the setter checks an assignment on the spot.
    @property
    def weight(self) -> Parameter:
        """The (in_features, out_features) weight, or a tied (out, in) one used transposed."""
        return self.__dict__["weight"]  # type: ignore[no-any-return]

    @weight.setter
    def weight(self, value: Parameter) -> None:
        self.__dict__["weight"] = checked_matrix(value, IN_OUT, (self.in_features,
                                                                 self.out_features), "Linear")

    def matrix(self) -> Tensor:
        """W as ``x @ W`` needs it: (in, out), transposing a weight tied from an Embedding."""
        w: Tensor = self.weight
        return w.T if layout_of(w, IN_OUT) == OUT_IN else w

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
            return ops.Linear.apply(x, self.matrix())
        return ops.Linear.apply(x, self.matrix(), self.bias)  # the bias is added inside the GEMM

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


class ModuleDict(Module):
    """A dict of modules whose parameters are found, named by key (``'encoder.weight'``).

    Each entry is also a plain attribute, so ``heads["cls"]`` and ``heads.cls`` are the same
    module (PyTorch's habit, with no ``__getattr__`` behind it).

    Example:
        >>> heads = ModuleDict({"a": Linear(2, 1), "b": Linear(2, 3)})
        >>> [name for name, _ in heads.named_parameters()], heads.a is heads["a"]
        (['a.weight', 'a.bias', 'b.weight', 'b.bias'], True)
    """

    def __init__(self, modules: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._keys: list[str] = []
        for key, module in (modules or {}).items():
            self[key] = module

    def __setitem__(self, key: str, module: Any) -> None:
        if hasattr(type(self), key) or key in ("training", "_keys"):
            raise KeyError(explain(
                what=f"ModuleDict key {key!r} is the name of a ModuleDict attribute",
                why="entries are also attributes, so this key would hide that attribute",
                fix="choose another key",
            ))
        setattr(self, key, module)
        if key not in self._keys:
            self._keys.append(key)

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._keys))

    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return list(self._keys)

    def values(self) -> list[Any]:
        """The modules, in insertion order."""
        return [getattr(self, key) for key in self._keys]

    def items(self) -> list[tuple[str, Any]]:
        """(key, module) pairs, in insertion order."""
        return [(key, getattr(self, key)) for key in self._keys]


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

__all__ = ["Dense", "Dropout", "Flatten", "Identity", "Layer", "Linear", "Module", "ModuleDict",
           "ModuleList", "Sequential"]
