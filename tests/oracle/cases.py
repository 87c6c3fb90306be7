"""The op table: every Tensor operation, each with the inputs it is checked on.

One ``OpCase`` says how to call an op on tinytorch tensors (``fn``) and, where PyTorch spells it
differently, on torch tensors (``torch_fn``). Three suites read this single table:

- ``tests/oracle/test_oracle_ops.py``: forward values, dtype and every input's gradient against
  PyTorch, in float32 and float64;
- ``tests/unit/test_gradcheck_ops.py``: float64 central differences (``gradcheck``) for each
  case whose function is smooth at its inputs, and dtype preservation without torch.

Inputs are drawn from a named *domain* per operand, so each op is checked where it is defined
(``log`` on positive numbers, ``abs`` away from its kink at 0) or, on purpose, where it is
delicate (``ties`` for max/min, whose gradient PyTorch splits evenly between equal elements).
Shapes are small, and square where a transposed gradient would still have the right shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core import ops
from tinytorch.core.tensor import Tensor, cat, concat, maximum, minimum, stack, where

Shape = tuple[int, ...]

# Named input domains: a draw in float64 from a seeded generator, cast to the test's dtype.
DOMAINS: dict[str, Callable[[np.random.Generator, Shape], np.ndarray]] = {
    "any": lambda rng, s: rng.uniform(-2.0, 2.0, s),
    "pos": lambda rng, s: rng.uniform(0.5, 2.0, s),
    # Kinks (abs, relu) and poles (1/x) sit at 0: stay at least 0.25 away from it.
    "nonzero": lambda rng, s: rng.uniform(0.25, 2.0, s) * rng.choice([-1.0, 1.0], s),
    "wide": lambda rng, s: rng.uniform(-30.0, 30.0, s),
    # Few distinct integers, so equal elements (ties) are everywhere.
    "ties": lambda rng, s: rng.integers(-1, 2, s).astype(np.float64),
}


def _torch() -> Any:
    # Imported on use, so the gradcheck suite can read this table without torch installed.
    import torch

    return torch


@dataclass(frozen=True)
class OpCase:
    """One op on one set of input shapes.

    Attributes:
        name: unique id, used as the pytest parameter id.
        fn: maps tinytorch tensors to a tensor; also used on torch tensors when ``torch_fn``
            is None (the spelling is the same in both libraries).
        shapes: one shape per tensor input.
        torch_fn: the same computation spelled for torch tensors.
        domains: one ``DOMAINS`` key per input, or a single key for all of them.
        smooth: False when the inputs sit on a kink or a tie on purpose, or the values are
            too large for central differences; such cases skip gradcheck, not the oracle.
        atol, rtol: tolerances replacing the oracle's defaults (None keeps the default).
    """

    name: str
    fn: Callable[..., Any]
    shapes: tuple[Shape, ...]
    torch_fn: Callable[..., Any] | None = None
    domains: str | tuple[str, ...] = "any"
    smooth: bool = True
    atol: float | None = None
    rtol: float | None = None

    def inputs(self, dtype: Any, seed: int = 0) -> list[np.ndarray]:
        """Fresh input arrays of ``dtype``, the same values for every dtype and call."""
        rng = np.random.default_rng(seed)
        domains = self.domains
        if isinstance(domains, str):
            domains = (domains,) * len(self.shapes)
        return [DOMAINS[d](rng, s).astype(dtype) for s, d in zip(self.shapes, domains, strict=True)]


def _mask(shape: Shape, seed: int = 7) -> np.ndarray:
    """A fixed boolean mask with both values present."""
    mask = np.random.default_rng(seed).random(shape) > 0.5
    mask.flat[0], mask.flat[-1] = True, False
    return mask


def _as_torch(array: np.ndarray) -> Any:
    return _torch().from_numpy(np.ascontiguousarray(array))


# --- elementwise arithmetic ----------------------------------------------------------------------

# Operand shape pairs covering both broadcasting regimes: new leading axes, size-1 axes, and both.
BROADCAST_PAIRS: dict[str, tuple[Shape, Shape]] = {
    "same": ((3, 4), (3, 4)),
    "square": ((3, 3), (3, 3)),
    "0d_left": ((), (3, 4)),
    "0d_right": ((2, 3), ()),
    "lead_right": ((2, 3, 4), (4,)),
    "lead_left": ((3, 4), (2, 3, 4)),
    "ones_right": ((3, 4), (3, 1)),
    "ones_left": ((1, 4), (3, 4)),
    "ones_both": ((3, 1), (1, 4)),
    "ones_square_col": ((3, 3), (3, 1)),
    "ones_square_row": ((1, 3), (3, 3)),
    "lead_and_ones": ((2, 1, 4), (3, 1)),
    "lead_and_ones_4d": ((5, 1, 3, 1), (2, 1, 4)),
}


def _where_fn(a_shape: Shape, b_shape: Shape) -> tuple[Callable[..., Any], Callable[..., Any]]:
    cond = _mask(np.broadcast_shapes(a_shape, b_shape))
    return (lambda a, b: where(cond, a, b),
            lambda a, b: _torch().where(_as_torch(cond), a, b))


def _binary_cases() -> Iterable[OpCase]:
    """Every binary op on every broadcast pair."""
    for label, (sa, sb) in BROADCAST_PAIRS.items():
        shapes = (sa, sb)
        yield OpCase(f"add_{label}", lambda a, b: a + b, shapes)
        yield OpCase(f"sub_{label}", lambda a, b: a - b, shapes)
        yield OpCase(f"mul_{label}", lambda a, b: a * b, shapes)
        yield OpCase(f"div_{label}", lambda a, b: a / b, shapes, domains=("any", "nonzero"))
        yield OpCase(f"pow_tensor_{label}", lambda a, b: a ** b, shapes, domains=("pos", "any"))
        yield OpCase(f"maximum_{label}", maximum, shapes,
                     torch_fn=lambda a, b: _torch().maximum(a, b))
        yield OpCase(f"minimum_{label}", minimum, shapes,
                     torch_fn=lambda a, b: _torch().minimum(a, b))
        ours, theirs = _where_fn(sa, sb)
        yield OpCase(f"where_{label}", ours, shapes, torch_fn=theirs)


_CONST = np.random.default_rng(3).uniform(0.5, 2.0, (3, 4)).astype(np.float32)
# float64 values that float32 cannot hold exactly: a float64 computation must not round them.
_CONST64 = np.random.default_rng(4).uniform(0.5, 2.0, (3, 4))


def _in_place_add(a: Any, b: Any) -> Any:
    out = a * 1
    out += b
    return out


def _in_place_sub(a: Any, b: Any) -> Any:
    out = a * 1
    out -= b
    return out


def _in_place_mul(a: Any, b: Any) -> Any:
    out = a * 1
    out *= b
    return out


def _in_place_div(a: Any, b: Any) -> Any:
    out = a * 1
    out /= b
    return out


def _scalar_cases() -> Iterable[OpCase]:
    """Python numbers (float and int) on either side, NumPy arrays on the left, += and co."""
    x = ((3, 4),)
    yield from (
        OpCase("add_float_right", lambda a: a + 2.5, x),
        OpCase("add_float_left", lambda a: 2.5 + a, x),
        OpCase("add_int_right", lambda a: a + 3, x),
        OpCase("add_int_left", lambda a: 3 + a, x),
        OpCase("sub_float_right", lambda a: a - 1.5, x),
        OpCase("sub_float_left", lambda a: 1.5 - a, x),
        OpCase("sub_int_left", lambda a: 2 - a, x),
        OpCase("mul_float_right", lambda a: a * 0.5, x),
        OpCase("mul_float_left", lambda a: -1.5 * a, x),
        OpCase("mul_int_left", lambda a: 3 * a, x),
        OpCase("div_float_right", lambda a: a / 4.0, x),
        OpCase("div_float_left", lambda a: 2.0 / a, x, domains="nonzero"),
        OpCase("div_int_right", lambda a: a / 3, x),
        OpCase("div_int_left", lambda a: 3 / a, x, domains="nonzero"),
        OpCase("add_ndarray_left", lambda a: _CONST + a, x,
               torch_fn=lambda a: _as_torch(_CONST) + a),
        OpCase("mul_ndarray_left", lambda a: _CONST * a, x,
               torch_fn=lambda a: _as_torch(_CONST) * a),
        OpCase("div_ndarray_right", lambda a: a / _CONST, x,
               torch_fn=lambda a: a / _as_torch(_CONST)),
        OpCase("iadd", _in_place_add, ((3, 4), (4,))),
        OpCase("isub", _in_place_sub, ((3, 4), (3, 1))),
        OpCase("imul", _in_place_mul, ((3, 4), (3, 4))),
        OpCase("idiv", _in_place_div, ((3, 4), ()), domains=("any", "nonzero")),
        OpCase("neg", lambda a: -a, ((2, 3, 4),)),
        OpCase("pos", lambda a: +a, ((3, 4),)),
        OpCase("clone", lambda a: a.clone(), ((3, 4),)),
    )


def _power_cases() -> Iterable[OpCase]:
    """Constant exponents, tensor exponents (positive bases) and a constant base."""
    x = ((3, 4),)
    yield from (
        OpCase("pow_2", lambda a: a ** 2, x),
        OpCase("pow_2_float", lambda a: a ** 2.0, x),
        OpCase("pow_3", lambda a: a ** 3, x),
        OpCase("pow_1", lambda a: a ** 1, x),
        OpCase("pow_0", lambda a: a ** 0, x, domains="nonzero"),
        OpCase("pow_half", lambda a: a ** 0.5, x, domains="pos"),
        OpCase("pow_minus_1", lambda a: a ** -1, x, domains="nonzero"),
        OpCase("pow_minus_1_5", lambda a: a ** -1.5, x, domains="pos"),
        OpCase("rpow_float_base", lambda a: 2.0 ** a, x),
        OpCase("rpow_small_base", lambda a: 0.5 ** a, x),
        OpCase("rpow_int_base", lambda a: 3 ** a, x),
    )


def _unary_cases() -> Iterable[OpCase]:
    """Elementwise functions and activations, on a matrix and a 3-D tensor."""
    for label, shape in (("2d", (3, 4)), ("3d", (2, 3, 4))):
        x = (shape,)
        yield from (
            OpCase(f"exp_{label}", lambda a: a.exp(), x),
            OpCase(f"log_{label}", lambda a: a.log(), x, domains="pos"),
            OpCase(f"sqrt_{label}", lambda a: a.sqrt(), x, domains="pos"),
            OpCase(f"abs_{label}", lambda a: a.abs(), x, domains="nonzero"),
            OpCase(f"tanh_{label}", lambda a: a.tanh(), x),
            OpCase(f"sigmoid_{label}", lambda a: a.sigmoid(), x),
            OpCase(f"relu_{label}", lambda a: a.relu(), x, domains="nonzero"),
            OpCase(f"clip_both_{label}", lambda a: a.clip(-0.5, 0.75), x),
        )
    x = ((3, 4),)
    yield from (
        OpCase("tanh_wide", lambda a: a.tanh(), x, domains="wide"),
        OpCase("sigmoid_wide", lambda a: a.sigmoid(), x, domains="wide"),
        OpCase("clip_min_only", lambda a: a.clip(-0.5), x, torch_fn=lambda a: a.clip(min=-0.5)),
        OpCase("clip_max_only", lambda a: a.clip(max_val=0.5), x,
               torch_fn=lambda a: a.clip(max=0.5)),
        OpCase("clip_keywords", lambda a: a.clip(min_val=-1.0, max_val=1.0), x,
               torch_fn=lambda a: a.clip(min=-1.0, max=1.0)),
        OpCase("clamp_alias", lambda a: a.clamp(-1.0, 0.25), x),
        OpCase("leaky_relu", lambda a: ops.LeakyRelu.apply(a, negative_slope=0.1), x,
               torch_fn=lambda a: _torch().nn.functional.leaky_relu(a, 0.1), domains="nonzero"),
        OpCase("silu", lambda a: ops.Silu.apply(a), x,
               torch_fn=lambda a: _torch().nn.functional.silu(a)),
        OpCase("gelu_tanh", lambda a: ops.Gelu.apply(a), x,
               torch_fn=lambda a: _torch().nn.functional.gelu(a, approximate="tanh")),
        # Our exact GELU uses a polynomial erf (|error| < 1.5e-7), hence the looser tolerance.
        OpCase("gelu_erf", lambda a: ops.Gelu.apply(a, approximate="none"), x,
               torch_fn=lambda a: _torch().nn.functional.gelu(a), atol=1e-6, rtol=1e-5),
        OpCase("gelu_sigmoid", lambda a: ops.Gelu.apply(a, approximate="sigmoid"), x,
               torch_fn=lambda a: a * _torch().sigmoid(1.702 * a)),
    )


def _softmax_cases() -> Iterable[OpCase]:
    """softmax and log_softmax along every axis, positive and negative, and the default."""
    x = ((2, 3, 4),)
    for dim in (0, 1, 2, -1, -2, -3):
        yield OpCase(f"softmax_dim{dim}", lambda a, d=dim: a.softmax(dim=d), x)
        yield OpCase(f"log_softmax_dim{dim}", lambda a, d=dim: a.log_softmax(dim=d), x)
    yield OpCase("softmax_default", lambda a: a.softmax(), x, torch_fn=lambda a: a.softmax(-1))
    yield OpCase("log_softmax_default", lambda a: a.log_softmax(), x,
                 torch_fn=lambda a: a.log_softmax(-1))
    yield OpCase("softmax_square", lambda a: a.softmax(dim=0), ((3, 3),))
    yield OpCase("softmax_wide", lambda a: a.softmax(dim=-1), ((3, 4),), domains="wide")
    yield OpCase("log_softmax_wide", lambda a: a.log_softmax(dim=0), ((3, 4),), domains="wide")


def _selection_cases() -> Iterable[OpCase]:
    """masked_fill and where with constants; maximum/minimum with ties and with a number."""
    full, row, col = _mask((3, 4)), _mask((1, 4), seed=1), _mask((3, 1), seed=2)
    yield from (
        OpCase("masked_fill", lambda a: a.masked_fill(full, -1.5), ((3, 4),),
               torch_fn=lambda a: a.masked_fill(_as_torch(full), -1.5)),
        OpCase("masked_fill_tensor_mask", lambda a: a.masked_fill(Tensor(full), -100.0),
               ((3, 4),), torch_fn=lambda a: a.masked_fill(_as_torch(full), -100.0)),
        # -1e9 as attention masks use; too large for gradcheck's central differences.
        OpCase("masked_fill_huge", lambda a: a.masked_fill(full, -1e9), ((3, 4),), smooth=False,
               torch_fn=lambda a: a.masked_fill(_as_torch(full), -1e9)),
        OpCase("masked_fill_row_mask", lambda a: a.masked_fill(row, 0.0), ((3, 4),),
               torch_fn=lambda a: a.masked_fill(_as_torch(row), 0.0)),
        OpCase("masked_fill_col_mask_3d", lambda a: a.masked_fill(col, 2.0), ((2, 3, 4),),
               torch_fn=lambda a: a.masked_fill(_as_torch(col), 2.0)),
        OpCase("where_scalar_right", lambda a: where(full, a, 0.0), ((3, 4),),
               torch_fn=lambda a: _torch().where(_as_torch(full), a, 0.0)),
        OpCase("where_scalar_left", lambda a: where(full, 1.0, a), ((3, 4),),
               torch_fn=lambda a: _torch().where(_as_torch(full), 1.0, a)),
        OpCase("where_tensor_condition", lambda a, b: where(Tensor(full), a, b), ((3, 4), (4,)),
               torch_fn=lambda a, b: _torch().where(_as_torch(full), a, b)),
        OpCase("maximum_ties", maximum, ((3, 4), (3, 4)), domains="ties", smooth=False,
               torch_fn=lambda a, b: _torch().maximum(a, b)),
        OpCase("minimum_ties", minimum, ((3, 4), (3, 4)), domains="ties", smooth=False,
               torch_fn=lambda a, b: _torch().minimum(a, b)),
        OpCase("maximum_ties_broadcast", maximum, ((3, 1), (3, 4)), domains="ties",
               smooth=False, torch_fn=lambda a, b: _torch().maximum(a, b)),
        OpCase("maximum_number", lambda a: maximum(a, 0.0), ((3, 4),), domains="nonzero",
               torch_fn=lambda a: _torch().maximum(a, a.new_zeros(()))),
        OpCase("minimum_number_left", lambda a: minimum(0.5, a), ((3, 4),), domains="nonzero",
               torch_fn=lambda a: _torch().minimum(a.new_full((), 0.5), a)),
    )


# --- matrix product ------------------------------------------------------------------------------

MATMUL_SHAPES: dict[str, tuple[Shape, Shape]] = {
    "1d_1d": ((4,), (4,)),
    "1d_2d": ((4,), (4, 3)),
    "2d_1d": ((3, 4), (4,)),
    "2d_2d": ((3, 4), (4, 5)),
    "square": ((3, 3), (3, 3)),
    "3d_3d": ((2, 3, 4), (2, 4, 5)),
    "3d_2d": ((2, 3, 4), (4, 5)),
    "2d_3d": ((3, 4), (2, 4, 5)),
    "1d_3d": ((4,), (2, 4, 3)),
    "3d_1d": ((2, 3, 4), (4,)),
    "batch1_3d": ((1, 3, 4), (2, 4, 5)),
    "4d_batch_broadcast": ((2, 1, 3, 4), (5, 4, 2)),
}


def _matmul_cases() -> Iterable[OpCase]:
    for label, shapes in MATMUL_SHAPES.items():
        yield OpCase(f"matmul_{label}", lambda a, b: a @ b, shapes)
    yield OpCase("matmul_method", lambda a, b: a.matmul(b), ((3, 4), (4, 2)))


# --- reductions ----------------------------------------------------------------------------------

AXES_3D: tuple[Any, ...] = (None, 0, 1, 2, -1, -2, -3, (0, 1), (1, 2), (0, 2), (0, -1), (-1, -2),
                            (0, 1, 2))
# On the cube, where a misplaced gradient keeps its shape, every distinct reduction once.
AXES_CUBE: tuple[Any, ...] = (None, 0, 1, 2, (0, 1), (1, 2), (0, 2))
REDUCTIONS = ("sum", "mean", "max", "min", "var", "std")


def _torch_reduction(name: str, axis: Any, keepdims: bool, ndim: int) -> Callable[..., Any]:
    """The torch spelling of ``x.name(axis=axis, keepdims=keepdims)``."""
    dim = tuple(range(ndim)) if axis is None else axis

    def fn(x: Any) -> Any:
        torch = _torch()
        if name in ("max", "min"):  # amax/amin split ties evenly, as tinytorch does
            return getattr(torch, "a" + name)(x, dim=dim, keepdim=keepdims)
        if name in ("var", "std"):
            return getattr(torch, name)(x, dim=dim, keepdim=keepdims, correction=0)
        return getattr(torch, name)(x, dim=dim, keepdim=keepdims)

    return fn


def _reduction_case(name: str, shape: Shape, axis: Any, keepdims: bool, label: str,
                    domains: str = "any") -> OpCase:
    return OpCase(
        f"{name}_{label}_axis{axis}_keep{int(keepdims)}".replace(" ", ""),
        lambda x: getattr(x, name)(axis=axis, keepdims=keepdims),
        (shape,),
        torch_fn=_torch_reduction(name, axis, keepdims, len(shape)),
        domains=domains,
        smooth=domains != "ties",
    )


def _reduction_cases() -> Iterable[OpCase]:
    """Every reduction x every axis spelling x keepdims on a 3-D box; a cube and a square."""
    for name in REDUCTIONS:
        for keepdims in (False, True):
            for axis in AXES_3D:
                yield _reduction_case(name, (2, 3, 4), axis, keepdims, "234")
            for axis in AXES_CUBE:
                yield _reduction_case(name, (3, 3, 3), axis, keepdims, "cube")
            for axis in (None, 0, 1, -1):
                yield _reduction_case(name, (3, 3), axis, keepdims, "square")
    for name in ("max", "min"):  # ties: the gradient is shared evenly between equal extremes
        for keepdims in (False, True):
            for axis in (None, 0, 1, 2, (0, 2), -1):
                yield _reduction_case(name, (3, 3, 3), axis, keepdims, "ties", domains="ties")
    x = ((2, 3, 4),)
    yield from (
        OpCase("sum_dim_keyword", lambda a: a.sum(dim=1), x, torch_fn=lambda a: a.sum(dim=1)),
        OpCase("sum_positional", lambda a: a.sum(1, True), x),
        OpCase("mean_dim_tuple", lambda a: a.mean(dim=(0, 2)), x,
               torch_fn=lambda a: a.mean(dim=(0, 2))),
        OpCase("sum_axis_list", lambda a: a.sum(axis=[0, 2]), x,
               torch_fn=lambda a: a.sum(dim=[0, 2])),
        OpCase("max_axis_keyword", lambda a: a.max(axis=-1), x,
               torch_fn=lambda a: a.amax(dim=-1)),
        # dim= (or a positional dim) returns PyTorch's (values, indices); values carry the grad.
        OpCase("max_dim_keyword_values", lambda a: a.max(dim=-1).values, x),
        OpCase("min_positional_dim_values", lambda a: a.min(1)[0], x),
        OpCase("var_unbiased", lambda a: a.var(axis=1, correction=1), x,
               torch_fn=lambda a: a.var(dim=1, correction=1)),
        OpCase("std_unbiased_all", lambda a: a.std(correction=1), x,
               torch_fn=lambda a: a.std(correction=1)),
        OpCase("var_dim_keyword", lambda a: a.var(dim=-1, keepdims=True), x,
               torch_fn=lambda a: a.var(dim=-1, keepdim=True, correction=0)),
    )


# --- shape ---------------------------------------------------------------------------------------


def _shape_cases() -> Iterable[OpCase]:
    x3 = ((2, 3, 4),)
    yield from (
        OpCase("reshape_2d", lambda a: a.reshape(4, 6), x3),
        OpCase("reshape_minus1", lambda a: a.reshape(-1), x3),
        OpCase("reshape_inferred_last", lambda a: a.reshape(6, -1), x3),
        OpCase("reshape_inferred_middle", lambda a: a.reshape(2, -1, 2), x3),
        OpCase("reshape_tuple", lambda a: a.reshape((3, 8)), x3),
        OpCase("reshape_same_shape", lambda a: a.reshape(2, 3, 4), x3),
        OpCase("reshape_square", lambda a: a.reshape(3, 3), ((9,),)),
        OpCase("view", lambda a: a.view(4, 6), x3),
        OpCase("view_minus1", lambda a: a.view(-1, 4), x3),
        OpCase("transpose_default", lambda a: a.transpose(), x3,
               torch_fn=lambda a: a.transpose(-2, -1)),
        OpCase("transpose_0_2", lambda a: a.transpose(0, 2), x3),
        OpCase("transpose_negative", lambda a: a.transpose(-1, 0), x3),
        OpCase("transpose_square", lambda a: a.transpose(0, 1), ((3, 3),)),
        OpCase("permute", lambda a: a.permute(2, 0, 1), x3),
        OpCase("permute_tuple", lambda a: a.permute((1, 2, 0)), x3),
        OpCase("permute_negative", lambda a: a.permute(-1, 0, 1), x3),
        OpCase("permute_cube", lambda a: a.permute(2, 1, 0), ((3, 3, 3),)),
        OpCase("T_2d", lambda a: a.T, ((3, 4),)),
        OpCase("T_square", lambda a: a.T, ((3, 3),)),
        OpCase("T_1d", lambda a: a.T, ((4,),), torch_fn=lambda a: a),  # torch warns on 1-D .T
        # torch's .T reverses every axis of a 3-D tensor (deprecated); ours swaps the last two.
        OpCase("T_3d", lambda a: a.T, x3, torch_fn=lambda a: a.mT),
        OpCase("flatten", lambda a: a.flatten(), x3),
        OpCase("flatten_from_1", lambda a: a.flatten(1), x3),
        OpCase("flatten_0_1", lambda a: a.flatten(0, 1), x3),
        OpCase("flatten_negative", lambda a: a.flatten(start_dim=-2), x3),
        OpCase("squeeze_all", lambda a: a.squeeze(), ((2, 1, 3, 1),)),
        OpCase("squeeze_dim", lambda a: a.squeeze(1), ((2, 1, 3, 1),)),
        OpCase("squeeze_negative", lambda a: a.squeeze(-1), ((2, 1, 3, 1),)),
        OpCase("squeeze_not_one", lambda a: a.squeeze(0), ((2, 1, 3, 1),)),
        OpCase("unsqueeze_front", lambda a: a.unsqueeze(0), x3),
        OpCase("unsqueeze_middle", lambda a: a.unsqueeze(2), x3),
        OpCase("unsqueeze_end", lambda a: a.unsqueeze(-1), x3),
        OpCase("expand_col", lambda a: a.expand(3, 4), ((3, 1),)),
        OpCase("expand_lead", lambda a: a.expand(2, 3, 4), ((4,),)),
        OpCase("expand_square_row", lambda a: a.expand(3, 3), ((1, 3),)),
        OpCase("expand_square_col", lambda a: a.expand(3, 3), ((3, 1),)),
        OpCase("expand_keep", lambda a: a.expand(-1, 3, -1), ((2, 1, 4),)),
        OpCase("expand_lead_and_ones", lambda a: a.expand((2, 3, 4)), ((3, 1),)),
    )


def _index_cases() -> Iterable[OpCase]:
    """Basic and advanced indexing; repeated integer indices must scatter-add their gradients."""
    x = ((4, 3, 5),)
    mask0 = np.array([True, False, True, True])
    mask01 = _mask((4, 3), seed=5)
    mask1 = np.array([False, True, True])
    indices: dict[str, Any] = {
        "int": 1,
        "negative_int": -1,
        "int_pair": (1, 2),
        "all_ints": (2, 1, 3),
        "all_negative": (-1, -2, -3),
        "slice": slice(1, 3),
        "slice_step": slice(None, None, 2),
        "slice_step_offset": (slice(1, None, 2), slice(None), slice(None, None, 3)),
        "slice_negative_bounds": (slice(-3, -1), slice(None, -1)),
        "none": None,
        "none_middle": (slice(None), None, 1),
        "ellipsis_int": (Ellipsis, 1),
        "ellipsis_none": (Ellipsis, None),
        "int_ellipsis_slice": (1, Ellipsis, slice(2, 4)),
        "int_array_repeated": [0, 0, 2],
        "int_array_all_same": [3, 3, 3, 3],
        "int_array_negative": [-1, 0, -1],
        "int_array_2d": np.array([[0, 1], [1, 1]]),
        "int_array_axis1_repeated": (slice(None), [2, 2, 0]),
        "int_arrays_paired": ([0, 0, 1], [2, 2, 2]),
        "mixed_separated": ([0, 0], slice(None), [1, 1]),
        "mixed_adjacent": (slice(1, None), [0, 0, 2]),
        "mixed_int_and_array": (-1, [0, -1, 0]),
        "bool_mask": mask0,
        "bool_mask_2d": mask01,
        "bool_mask_axis1": (slice(None), mask1),
        "bool_mask_and_int": (mask0, 2),
    }
    for label, index in indices.items():
        yield OpCase(f"getitem_{label}", lambda a, i=index: a[i], x)
    yield OpCase("getitem_square_repeated_rows", lambda a: a[[1, 1, 0]], ((3, 3),))
    yield OpCase("getitem_square_repeated_cols", lambda a: a[:, [2, 0, 2]], ((3, 3),))
    yield OpCase("getitem_bool_mask_none_selected", lambda a: a[np.zeros(4, dtype=bool)], x)
    # torch has no negative steps: flip is the same selection.
    yield OpCase("getitem_negative_step", lambda a: a[::-1], x, torch_fn=lambda a: a.flip(0))
    yield OpCase("getitem_negative_step_2", lambda a: a[:, ::-2], x,
                 torch_fn=lambda a: a.flip(1)[:, ::2])
    yield OpCase("iterate_and_stack", lambda a: stack(list(a), axis=1), ((3, 3),),
                 torch_fn=lambda a: _torch().stack(list(a), dim=1))
    yield OpCase("getitem_tensor_index", lambda a: a[Tensor([2, 2, 0], dtype=np.int64)], x,
                 torch_fn=lambda a: a[[2, 2, 0]])


def _join_cases() -> Iterable[OpCase]:
    """concat (and its alias cat) and stack along every axis, positive and negative."""
    parts = {0: ((1, 3, 4), (2, 3, 4), (3, 3, 4)),
             1: ((2, 1, 4), (2, 3, 4), (2, 2, 4)),
             2: ((2, 3, 1), (2, 3, 4), (2, 3, 2))}
    for axis, shapes in parts.items():
        yield OpCase(f"concat_axis{axis}", lambda *xs, ax=axis: concat(list(xs), axis=ax),
                     shapes, torch_fn=lambda *xs, ax=axis: _torch().cat(xs, dim=ax))
    yield OpCase("concat_negative_axis", lambda *xs: concat(xs, axis=-1), parts[2],
                 torch_fn=lambda *xs: _torch().cat(xs, dim=-1))
    yield OpCase("cat_dim_keyword", lambda *xs: cat(list(xs), dim=1), parts[1],
                 torch_fn=lambda *xs: _torch().cat(xs, dim=1))
    yield OpCase("concat_square", lambda a, b: concat([a, b], axis=1), ((3, 3), (3, 3)),
                 torch_fn=lambda a, b: _torch().cat([a, b], dim=1))
    same = ((2, 3, 4),) * 3
    for axis in (0, 1, 2, 3, -1, -2):
        yield OpCase(f"stack_axis{axis}", lambda *xs, ax=axis: stack(list(xs), axis=ax), same,
                     torch_fn=lambda *xs, ax=axis: _torch().stack(xs, dim=ax))
    yield OpCase("concat_single", lambda a: concat([a], axis=0), ((2, 3),),
                 torch_fn=lambda a: _torch().cat([a], dim=0))
    yield OpCase("stack_single", lambda a: stack([a], axis=-1), ((2, 3),),
                 torch_fn=lambda a: _torch().stack([a], dim=-1))
    yield OpCase("stack_dim_keyword", lambda a, b: stack([a, b], dim=1), ((3, 3), (3, 3)),
                 torch_fn=lambda a, b: _torch().stack([a, b], dim=1))
    yield OpCase("pad", lambda a: ops.Pad.apply(a, pad_width=((1, 0), (2, 1))), ((3, 4),),
                 torch_fn=lambda a: _torch().nn.functional.pad(a, (2, 1, 1, 0)))


def _compositions() -> Iterable[OpCase]:
    """A few chains where one tensor feeds several ops (the engine must sum its gradients)."""
    yield from (
        OpCase("x_times_x", lambda a: a * a, ((3, 4),)),
        OpCase("shared_operand", lambda a, b: (a * b + a.exp()).sum(axis=0) / b.sum(axis=0),
               ((3, 4), (3, 4)), domains=("any", "pos")),
        OpCase("normalize_rows", lambda a: (a - a.mean(axis=-1, keepdims=True))
               / (a.var(axis=-1, keepdims=True) + 1e-5).sqrt(), ((3, 5),),
               torch_fn=lambda a: (a - a.mean(dim=-1, keepdim=True))
               / (a.var(dim=-1, keepdim=True, correction=0) + 1e-5).sqrt()),
        OpCase("linear_layer", lambda x, w, b: (x @ w + b).relu().sum(axis=1),
               ((4, 3), (3, 5), (5,)),
               torch_fn=lambda x, w, b: (x @ w + b).relu().sum(dim=1)),
    )


def _edge_cases() -> Iterable[OpCase]:
    """Inputs on a kink or a tie (PyTorch's conventions: 0 at a kink, ties share), aliased
    operands (one tensor in two input slots), -inf logits, and 0-d and 1-D tensors."""
    causal = np.triu(np.ones((4, 4), dtype=bool), k=1)  # each row keeps at least one logit
    kinks = ((3, 4),)
    yield from (
        OpCase("abs_at_zero", lambda a: a.abs(), kinks, domains="ties", smooth=False),
        OpCase("relu_at_zero", lambda a: a.relu(), kinks, domains="ties", smooth=False),
        OpCase("clip_at_bounds", lambda a: a.clip(-1.0, 0.0), kinks, domains="ties",
               smooth=False),
        OpCase("maximum_number_at_tie", lambda a: maximum(a, 0.0), kinks, domains="ties",
               smooth=False, torch_fn=lambda a: _torch().maximum(a, a.new_zeros(()))),
        OpCase("concat_same_tensor", lambda a: concat([a, a], axis=1), ((3, 3),),
               torch_fn=lambda a: _torch().cat([a, a], dim=1)),
        OpCase("stack_same_tensor", lambda a: stack([a, a, a]), ((3, 3),),
               torch_fn=lambda a: _torch().stack([a, a, a])),
        OpCase("matmul_same_tensor", lambda a: a @ a, ((3, 3),)),
        OpCase("maximum_same_tensor", lambda a: maximum(a, a), ((3, 3),),
               torch_fn=lambda a: _torch().maximum(a, a)),
        OpCase("where_same_tensor", lambda a: where(causal[:3], a, a * 2), ((3, 4),),
               torch_fn=lambda a: _torch().where(_as_torch(causal[:3]), a, a * 2)),
        OpCase("masked_softmax_neg_inf",
               lambda a: a.masked_fill(causal, float("-inf")).softmax(dim=-1), ((2, 4, 4),),
               torch_fn=lambda a: a.masked_fill(_as_torch(causal), float("-inf")).softmax(-1)),
        # The -inf outputs are zeroed afterwards so that central differences stay finite.
        OpCase("masked_log_softmax_neg_inf",
               lambda a: a.masked_fill(causal, float("-inf")).log_softmax(dim=-1)
               .masked_fill(causal, 0.0), ((4, 4),),
               torch_fn=lambda a: a.masked_fill(_as_torch(causal), float("-inf"))
               .log_softmax(-1).masked_fill(_as_torch(causal), 0.0)),
        OpCase("exp_0d", lambda a: a.exp(), ((),)),
        OpCase("sum_0d", lambda a: a.sum(), ((),)),
        OpCase("max_0d", lambda a: a.max(), ((),), torch_fn=lambda a: a.amax()),
        OpCase("mul_0d_0d", lambda a, b: a * b, ((), ())),
        OpCase("unsqueeze_0d", lambda a: a.unsqueeze(0), ((),)),
        OpCase("getitem_none_0d", lambda a: a[None], ((),)),
        OpCase("softmax_1d", lambda a: a.softmax(dim=0), ((5,),)),
        OpCase("sum_1d_keep", lambda a: a.sum(axis=0, keepdims=True), ((5,),),
               torch_fn=lambda a: a.sum(dim=0, keepdim=True)),
        OpCase("max_1d", lambda a: a.max(axis=-1), ((5,),), torch_fn=lambda a: a.amax(dim=-1)),
        OpCase("getitem_1d_repeated", lambda a: a[[4, 0, 4, 4]], ((5,),)),
        OpCase("pow_numpy_float_exponent", lambda a: a ** np.float32(2.0), kinks,
               torch_fn=lambda a: a ** 2),
        OpCase("pow_numpy_int_exponent", lambda a: a ** np.int64(3), kinks,
               torch_fn=lambda a: a ** 3),
        # A NumPy constant takes the tensor's float dtype (as a Python number does).
        OpCase("matmul_ndarray_left", lambda a: _CONST64.T @ a, ((3, 2),),
               torch_fn=lambda a: _as_torch(_CONST64.T).to(a.dtype) @ a),
        OpCase("matmul_ndarray_right", lambda a: a @ _CONST64, ((2, 3),),
               torch_fn=lambda a: a @ _as_torch(_CONST64).to(a.dtype)),
        OpCase("add_ndarray64_left", lambda a: _CONST64 + a, ((3, 4),),
               torch_fn=lambda a: _as_torch(_CONST64).to(a.dtype) + a),
    )


def _torch_surface_cases() -> Iterable[OpCase]:
    """gather, index_select, topk, sort, norm, repeat, einsum, ... (rows in cases_torch.py)."""
    from tests.oracle.cases_torch import case_table

    return case_table(OpCase)


def _build() -> list[OpCase]:
    groups = (_binary_cases, _scalar_cases, _power_cases, _unary_cases, _softmax_cases,
              _selection_cases, _matmul_cases, _reduction_cases, _shape_cases, _index_cases,
              _join_cases, _compositions, _edge_cases, _torch_surface_cases)
    return [case for group in groups for case in group()]


CASES: list[OpCase] = _build()
SMOOTH_CASES: list[OpCase] = [case for case in CASES if case.smooth]
