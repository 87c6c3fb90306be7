"""Op-table rows for the PyTorch tensor surface (issue 16): gather, index_select, topk, sort,
max/min along a dim, norm, repeat, einsum, tril/triu, split/chunk, mm/bmm and the other methods.

``cases.py`` adds these rows to its one table, so they run through the same three suites (the
torch oracle in float32 and float64, gradcheck, dtype preservation). Index arrays repeat
positions on purpose: a gather or index_select backward must add, not overwrite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinytorch.core import functions as fns
from tinytorch.core.tensor import Tensor, cat


def _torch() -> Any:
    import torch

    return torch


def _t(array: np.ndarray) -> Any:
    return _torch().from_numpy(np.ascontiguousarray(array))


# Row i of each index picks columns (or rows) with repeats.
GATHER_1 = np.array([[0, 0, 3, 1, 0], [2, 2, 2, 2, 1], [3, 1, 0, 3, 3]])    # (3, 5) into (3, 4)
GATHER_0 = np.array([[2, 0, 1, 2], [2, 2, 0, 0]])                           # (2, 4) into (3, 4)
GATHER_SHORT = np.array([[1, 1], [0, 2]])                                   # (2, 2) into (3, 4)
SELECT = np.array([2, 0, 2, 2])


def case_table(op_case: Callable[..., Any]) -> Iterable[Any]:
    """The rows; ``op_case`` is cases.OpCase (passed in to avoid a circular import)."""
    x, sq, x3 = ((3, 4),), ((3, 3),), ((2, 3, 4),)
    yield from (
        op_case("gather_dim1_repeats", lambda a: a.gather(1, Tensor(GATHER_1, dtype=np.int64)),
                x, torch_fn=lambda a: a.gather(1, _t(GATHER_1))),
        op_case("gather_dim0_repeats", lambda a: a.gather(0, GATHER_0), x,
                torch_fn=lambda a: a.gather(0, _t(GATHER_0))),
        op_case("gather_short_index", lambda a: a.gather(-1, GATHER_SHORT), x,
                torch_fn=lambda a: a.gather(-1, _t(GATHER_SHORT))),
        op_case("gather_function", lambda a: fns.gather(a, 1, GATHER_1), x,
                torch_fn=lambda a: _torch().gather(a, 1, _t(GATHER_1))),
        op_case("index_select_dim0_repeats", lambda a: a.index_select(0, SELECT[:3]), x,
                torch_fn=lambda a: a.index_select(0, _t(SELECT[:3]))),
        op_case("index_select_dim_last", lambda a: a.index_select(-1, SELECT), x3,
                torch_fn=lambda a: a.index_select(-1, _t(SELECT))),
        op_case("topk_values", lambda a: a.topk(2, dim=1).values, x),
        op_case("topk_smallest_dim0", lambda a: a.topk(2, dim=0, largest=False)[0], x),
        op_case("topk_square", lambda a: a.topk(3).values, sq),
        op_case("sort_values", lambda a: a.sort(dim=-1).values, x),
        op_case("sort_descending_dim0", lambda a: a.sort(dim=0, descending=True)[0], x3),
        op_case("max_dim_keepdim_values", lambda a: a.max(dim=0, keepdim=True).values, x),
        op_case("min_dim_values_3d", lambda a: a.min(dim=1).values, x3),
        op_case("max_function_positional", lambda a: fns.max(a, 1)[0], x,
                torch_fn=lambda a: _torch().max(a, 1)[0]),
        op_case("max_elementwise_method", lambda a, b: a.max(b), ((3, 4), (3, 4)),
                torch_fn=lambda a, b: _torch().maximum(a, b)),
        op_case("norm_all", lambda a: a.norm(), x),
        op_case("norm_dim1_keepdim", lambda a: a.norm(dim=1, keepdim=True), x),
        op_case("norm_p1", lambda a: a.norm(p=1, dim=0), x, domains="nonzero"),
        op_case("norm_p3", lambda a: a.norm(p=3, dim=-1), x3, domains="nonzero"),
        op_case("norm_inf", lambda a: a.norm(p=float("inf"), dim=1), x),
        op_case("norm_fro_square", lambda a: a.norm(p="fro"), sq),
        op_case("repeat_2_3", lambda a: a.repeat(2, 3), x),
        op_case("repeat_new_axis", lambda a: a.repeat(2, 1, 1), x),
        op_case("repeat_square_tuple", lambda a: a.repeat((1, 2)), sq),
        op_case("einsum_matmul", lambda a, b: fns.einsum("ij,jk->ik", a, b), ((3, 4), (4, 2)),
                torch_fn=lambda a, b: _torch().einsum("ij,jk->ik", a, b)),
        op_case("einsum_batched", lambda a, b: fns.einsum("bij,bjk->bik", a, b),
                ((2, 3, 4), (2, 4, 5)),
                torch_fn=lambda a, b: _torch().einsum("bij,bjk->bik", a, b)),
        op_case("einsum_outer", lambda a, b: fns.einsum("i,j->ij", a, b), ((3,), (4,)),
                torch_fn=lambda a, b: _torch().einsum("i,j->ij", a, b)),
        op_case("einsum_sum_away", lambda a: fns.einsum("ijk->k", a), x3,
                torch_fn=lambda a: _torch().einsum("ijk->k", a)),
        op_case("einsum_implicit", lambda a, b: fns.einsum("ij,jk", a, b), ((3, 3), (3, 3)),
                torch_fn=lambda a, b: _torch().einsum("ij,jk", a, b)),
        op_case("einsum_ellipsis", lambda a: fns.einsum("...ij->...ji", a), x3,
                torch_fn=lambda a: _torch().einsum("...ij->...ji", a)),
        op_case("einsum_three_list", lambda a, b, c: fns.einsum("ij,jk,kl->il", [a, b, c]),
                ((2, 3), (3, 4), (4, 2)),
                torch_fn=lambda a, b, c: _torch().einsum("ij,jk,kl->il", a, b, c)),
        op_case("tril", lambda a: fns.tril(a), sq, torch_fn=lambda a: _torch().tril(a)),
        op_case("triu_diag1_3d", lambda a: fns.triu(a, 1), x3,
                torch_fn=lambda a: _torch().triu(a, 1)),
        op_case("tril_diag_minus1", lambda a: fns.tril(a, diagonal=-1), x,
                torch_fn=lambda a: _torch().tril(a, diagonal=-1)),
        op_case("split_sections", lambda a: a.split([1, 3], dim=1)[1], x),
        op_case("split_size_last_short", lambda a: a.split(3, dim=-1)[1], x),
        op_case("chunk_rows", lambda a: cat(list(a.chunk(2, dim=0))[::-1], dim=0), x,
                torch_fn=lambda a: _torch().cat(list(a.chunk(2, dim=0))[::-1], dim=0)),
        op_case("mm", lambda a, b: a.mm(b), ((3, 4), (4, 2))),
        op_case("bmm", lambda a, b: a.bmm(b), ((2, 3, 4), (2, 4, 5))),
        op_case("t_matrix", lambda a: a.t(), x),
        op_case("view_as", lambda a, b: a.view_as(b) * b, ((3, 4), (2, 6))),
        op_case("contiguous_after_transpose", lambda a: a.transpose(0, 1).contiguous(), x),
        op_case("expand_as", lambda a, b: a.expand_as(b) * b, ((3, 1), (3, 4))),
        op_case("pow_method", lambda a: a.pow(3), x),
        op_case("square_method", lambda a: a.square(), x),
        op_case("add_alpha", lambda a, b: a.add(b, alpha=2.5), ((3, 4), (4,))),
        op_case("sub_alpha", lambda a, b: a.sub(b, alpha=0.5), ((3, 4), (3, 1))),
        op_case("clamp_keywords", lambda a: a.clamp(min=-0.5, max=0.75), x),
        op_case("clamp_min_keyword", lambda a: a.clamp(min=0.25), x),
        op_case("clamp_function", lambda a: fns.clamp(a, max=0.5), x,
                torch_fn=lambda a: _torch().clamp(a, max=0.5)),
        op_case("sum_keepdim", lambda a: a.sum(dim=1, keepdim=True), x3),
        op_case("mean_keepdim", lambda a: a.mean(dim=(0, 2), keepdim=True), x3),
        op_case("std_keepdim", lambda a: a.std(dim=-1, keepdim=True, correction=1), x3),
        op_case("softmax_function", lambda a: fns.softmax(a, dim=0), x,
                torch_fn=lambda a: _torch().softmax(a, dim=0)),
    )
