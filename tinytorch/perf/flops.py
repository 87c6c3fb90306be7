"""The FLOP table: how many floating-point operations one op performs, from its shapes alone.

One table serves both ``Profiler.count_flops`` and the events of ``profile()``, so a model's
FLOP count and the sum of its profiled forward events cannot disagree.

The convention (state it whenever you quote a number):
    * One multiply-add is **2 FLOPs**. A matrix product ``(..., n, k) @ (..., k, m)`` costs
      ``2 * k`` per output element; a convolution ``2 * (C / groups) * kh * kw`` per output
      element (stride, padding and dilation enter through the output size).
    * **Bias adds are counted**: one FLOP per output element. ``Linear`` and ``Conv2d`` add
      their bias inside their own op; ``x @ w + b`` written out counts its ``Add`` the same.
    * Element-wise ops and activations count **one FLOP per output element**, whatever their
      formula (an ``exp`` costs one, like an ``add``): a teaching simplification that keeps
      the contractions, which dominate every real model, exact and the rest readable.
    * Reductions (sum, max, min) count one FLOP per input element folded in:
      ``inputs - outputs``. Max pooling is a reduction of ``kh * kw`` values per output;
      average pooling adds the scaling, so ``kh * kw`` per output.
    * The fused ``Attention`` op counts what its composition would: the two batched products
      and the attention softmax over the scores.
    * Fused normalizations and softmaxes count their formula's steps per element:
      softmax 5 (max, subtract, exp, sum, divide), attention softmax 6 (the scale too),
      layer/batch norm 7 per element (mean, centre, square, variance, normalize, scale,
      shift) plus 2 per normalized group (add eps, reciprocal square root), cross-entropy
      5 per logit plus 2 per row (the log of the sum, the average).
    * Data movement costs **0**: reshape, permute, expand, index, concat, stack, pad,
      ``where`` and the embedding lookup (a gather) only copy.
    * FLOPs count the mathematical operation, not the algorithm: separable pooling and
      im2col change how the work is done, not how much arithmetic the op defines.

Backward:
    A contraction's gradient is one product of the forward's size per input that needs a
    gradient (``MatMul``: ``forward * k`` for k needed inputs; ``Convolution2d`` and
    ``Linear``: the product once for the input and once for the weight, plus one add per
    output element for the bias). ``Attention``: one product for V's gradient; for Q's or
    K's, the product giving the weights' gradient and the softmax backward, then one product
    each. Every other op counts its forward FLOPs once per input gradient it computes.

Ops missing from the table (a user's own ``Function``) count 0; ``is_counted`` tells.

Example:
    >>> forward_flops("MatMul", ((32, 784), (784, 256)), (32, 256), {})  # 2 * 784 * 32 * 256
    12845056
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Shape = tuple[int, ...]
Rule = Callable[[Sequence[Shape], Shape, Mapping[str, Any]], int]


def _size(shape: Shape) -> int:
    return math.prod(shape)


def _per_output(cost: int) -> Rule:
    return lambda inputs, out, params: cost * _size(out)


def _per_input(cost: int) -> Rule:
    return lambda inputs, out, params: cost * _size(inputs[0])


def _reduction(inputs: Sequence[Shape], out: Shape, params: Mapping[str, Any]) -> int:
    return _size(inputs[0]) - _size(out)


def _matmul(inputs: Sequence[Shape], out: Shape, params: Mapping[str, Any]) -> int:
    return 2 * inputs[0][-1] * _size(out)  # k = the shared (contracted) axis


def _product_and_bias(op: str, inputs: Sequence[Shape], out: Shape) -> tuple[int, int]:
    """(product FLOPs, bias FLOPs) of a layer op with an optional bias as its third input.

    ``Linear``'s weight is (in, out): ``in`` multiply-adds per output element; a convolution's
    weight is (O, C / groups, kh, kw): ``C / groups * kh * kw`` per output element.
    """
    per_output = inputs[0][-1] if op == "Linear" else _size(inputs[1][1:])
    has_bias = len(inputs) > 2 and inputs[2] != ()
    return 2 * per_output * _size(out), _size(out) if has_bias else 0


def _layer(op: str) -> Rule:
    return lambda inputs, out, params: sum(_product_and_bias(op, inputs, out))


def _attention_sizes(inputs: Sequence[Shape], out: Shape) -> tuple[int, int, int]:
    """(scores, d, d_v) of attention: q (.., T_q, d), k (.., T_k, d) -> out (.., T_q, d_v)."""
    d, d_v, keys = inputs[0][-1], out[-1], inputs[1][-2]
    return _size(out) // max(d_v, 1) * keys, d, d_v


def _attention(inputs: Sequence[Shape], out: Shape, params: Mapping[str, Any]) -> int:
    scores, d, d_v = _attention_sizes(inputs, out)
    return 2 * d * scores + 6 * scores + 2 * d_v * scores


def _attention_backward(inputs: Sequence[Shape], out: Shape, wanted: Sequence[bool]) -> int:
    scores, d, d_v = _attention_sizes(inputs, out)
    flops = 2 * d_v * scores if wanted[2] else 0                  # weights^T @ grad
    if wanted[0] or wanted[1]:
        flops += 2 * d_v * scores + 6 * scores                    # grad @ V^T, softmax backward
        flops += 2 * d * scores * (wanted[0] + wanted[1])         # one product per Q, K
    return flops


def _max_pool(inputs: Sequence[Shape], out: Shape, params: Mapping[str, Any]) -> int:
    geom = params.get("geom")
    return 0 if geom is None else (_size(geom.kernel) - 1) * _size(out)


def _avg_pool(inputs: Sequence[Shape], out: Shape, params: Mapping[str, Any]) -> int:
    geom = params.get("geom")
    return 0 if geom is None else _size(geom.kernel) * _size(out)


def _layer_norm(inputs: Sequence[Shape], out: Shape, params: Mapping[str, Any]) -> int:
    rows = _size(inputs[0]) // max(_size(inputs[1]), 1)   # one group per normalized vector
    return 7 * _size(inputs[0]) + 2 * rows


def _batch_norm(inputs: Sequence[Shape], out: Shape, params: Mapping[str, Any]) -> int:
    return 7 * _size(inputs[0]) + 2 * inputs[0][1]        # one group per channel


def _cross_entropy(inputs: Sequence[Shape], out: Shape, params: Mapping[str, Any]) -> int:
    logits = inputs[0]
    return 5 * _size(logits) + 2 * (_size(logits) // max(logits[-1], 1))


_ZERO: Rule = _per_output(0)

FORWARD_RULES: dict[str, Rule] = {
    **{op: _per_output(1) for op in (
        "Add", "Sub", "Mul", "Div", "Neg", "Pow", "Exp", "Log", "Sqrt", "Abs", "Clip",
        "Maximum", "Minimum", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Silu", "Gelu")},
    **{op: _ZERO for op in (
        "Reshape", "Permute", "Expand", "Index", "Concat", "Stack", "Pad", "Where",
        "EmbeddingLookup", "Cast", "Gather", "IndexSelect", "Im2col", "Col2im")},
    # Not estimated (counted 0): an einsum's cost depends on its subscripts, and a checkpointed
    # block's own ops are counted where they run.
    "Einsum": _ZERO, "Checkpoint": _ZERO,
    "Norm": _per_input(2),                          # square and add per element
    "TiledMatMul": _matmul,
    "Sum": _reduction, "Max": _reduction, "Min": _reduction,
    "Softmax": _per_output(5), "LogSoftmax": _per_output(5), "AttentionSoftmax": _per_output(6),
    "MatMul": _matmul,
    "Convolution2d": _layer("Convolution2d"), "Linear": _layer("Linear"),
    "Attention": _attention,
    "MaxPooling2d": _max_pool, "AvgPooling2d": _avg_pool,
    "LayerNormFunction": _layer_norm, "BatchNormalization": _batch_norm,
    "CrossEntropy": _cross_entropy,
    "BinaryCrossEntropy": _per_input(4),            # two logs, the weighted sum, the average
    "BinaryCrossEntropyWithLogits": _per_input(5),  # the stable softplus form, the average
}


def is_counted(op: str) -> bool:
    """True when the table knows ``op`` (a Function's class name)."""
    return op in FORWARD_RULES


def forward_flops(op: str, inputs: Sequence[Shape], output: Shape,
                  params: Mapping[str, Any]) -> int:
    """FLOPs of one forward of ``op`` with these input shapes, output shape and parameters."""
    rule = FORWARD_RULES.get(op, _ZERO)
    return int(rule(inputs, output, params))


def backward_flops(op: str, inputs: Sequence[Shape], output: Shape,
                   params: Mapping[str, Any], needs_input_grad: Sequence[bool]) -> int:
    """FLOPs of one backward of ``op``: the gradients of the inputs in ``needs_input_grad``.

    Example:
        >>> backward_flops("MatMul", ((32, 784), (784, 256)), (32, 256), {}, (False, True))
        12845056
    """
    wanted = list(map(bool, needs_input_grad)) + [False] * 3
    if op in ("Convolution2d", "Linear"):
        product, bias = _product_and_bias(op, inputs, output)
        return product * (wanted[0] + wanted[1]) + bias * wanted[2]
    if op == "Attention":
        return _attention_backward(inputs, output, wanted)
    return forward_flops(op, inputs, output, params) * sum(map(bool, needs_input_grad))


__all__ = ["FORWARD_RULES", "backward_flops", "forward_flops", "is_counted"]
