"""Compressed sparse row (CSR) storage: what a pruned weight really costs, and a matmul on it.

A pruned matrix still stored densely costs as much as before: zeros take four bytes each.
CSR keeps only the non-zeros, row by row, in three arrays:

* ``data``    (nnz,)   the non-zero values, float32;
* ``indices`` (nnz,)   the column of each value, int32;
* ``indptr``  (rows + 1,) where each row starts in ``data`` (row r is
  ``data[indptr[r]:indptr[r + 1]]``), int32.

So a float32 matrix of shape (m, n) with density d takes ``8 d m n + 4 (m + 1)`` bytes against
``4 m n`` dense: CSR only saves memory below 50% density (above 50% sparsity), because each value
brings a four-byte column index along.

The matmul gathers, for every stored value, the row of the right-hand matrix it multiplies, and
sums each row's products with ``np.add.reduceat`` (a segment sum over ``indptr``), so there is
no Python loop over rows (only over blocks of the right operand's columns, to bound the
temporary). It does ``2 nnz k`` FLOPs against the dense ``2 m n k``, but through
gathers instead of a cache-blocked BLAS kernel: see ``benchmarks/workloads_compression.py`` for
where (and whether) it overtakes ``np.matmul`` on this machine.

Example:
    >>> a = CSRMatrix.from_dense(np.array([[0.0, 2.0], [0.0, 0.0], [1.0, 0.0]]))
    >>> a.nnz, a.indptr.tolist()
    (2, [0, 1, 1, 2])
    >>> a.matmul(np.eye(2, dtype=np.float32)).tolist()
    [[0.0, 2.0], [0.0, 0.0], [1.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core.errors import ShapeError, explain
from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Tensor
from tinytorch.perf.checks import as_matrix, check_features

Array = np.ndarray
_PRODUCT_BUDGET = 2**18  # float32 products per block of the sparse matmul (1 MB)


@dataclass(frozen=True)
class CSRMatrix:
    """A 2-D float32 matrix stored as (data, indices, indptr); see the module docstring.

    Attributes:
        data: the non-zero values, row after row.
        indices: the column of each value.
        indptr: ``rows + 1`` offsets into ``data``.
        shape: (rows, columns) of the dense matrix.
    """

    data: Array
    indices: Array
    indptr: Array
    shape: tuple[int, int]

    @staticmethod
    def from_dense(matrix: Any) -> CSRMatrix:
        """Keep the non-zeros of a 2-D array (or Tensor), in row-major order."""
        dense = as_matrix(matrix, "CSRMatrix.from_dense",
                          "CSR stores a matrix: rows of (column, value) pairs")
        rows, cols = np.nonzero(dense)                   # row-major: rows come out sorted
        index_type = np.int32 if max(dense.size, 1) < 2**31 else np.int64
        indptr = np.zeros(dense.shape[0] + 1, dtype=index_type)
        np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
        return CSRMatrix(dense[rows, cols].astype(np.float32), cols.astype(index_type), indptr,
                         (int(dense.shape[0]), int(dense.shape[1])))

    @property
    def nnz(self) -> int:
        """The number of stored (non-zero) values."""
        return int(self.data.size)

    @property
    def nbytes(self) -> int:
        """Bytes really held: data + indices + indptr."""
        return int(self.data.nbytes + self.indices.nbytes + self.indptr.nbytes)

    @property
    def dense_nbytes(self) -> int:
        """Bytes the same matrix takes stored densely in float32."""
        return 4 * self.shape[0] * self.shape[1]

    def to_dense(self) -> Array:
        """The full float32 matrix (zeros filled back in)."""
        dense = np.zeros(self.shape, dtype=np.float32)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        dense[rows, self.indices] = self.data
        return dense

    def matmul(self, other: Any) -> Array:
        """``self @ other`` for a dense ``other`` of shape (columns,) or (columns, k).

        Shapes:
            self: (m, n)    other: (n, k) or (n,)  ->  (m, k) or (m,)
        """
        right = np.asarray(getattr(other, "data", other), dtype=np.float32)
        vector = right.ndim == 1
        right = right[:, None] if vector else right
        if right.ndim != 2 or right.shape[0] != self.shape[1]:
            raise ShapeError(explain(
                what=f"CSRMatrix of shape {self.shape} @ an array of shape {np.shape(other)}",
                why=f"the right operand needs {self.shape[1]} rows (one per column of the matrix)",
                fix="pass a (columns,) vector or a (columns, k) matrix; transpose it if needed",
            ))
        width = right.shape[1]
        out = np.zeros((self.shape[0], width), dtype=np.float32)
        starts = self.indptr[:-1]
        filled = starts < self.indptr[1:]                 # reduceat needs non-empty segments
        # The (nnz, block) products are a temporary: blocks of columns keep it near 1 MB, in
        # cache, instead of nnz * k floats (a loop over column blocks, never over rows).
        block = max(1, min(width, _PRODUCT_BUDGET // max(self.nnz, 1)))
        for first in range(0, width if self.nnz else 0, block):
            cols = slice(first, first + block)
            products = right[self.indices, cols] * self.data[:, None]   # (nnz, block)
            out[filled, cols] = np.add.reduceat(products, starts[filled], axis=0)
        return out[:, 0] if vector else out

    def __matmul__(self, other: Any) -> Array:
        return self.matmul(other)


class SparseLinear(Module):
    """An inference-only ``Linear`` whose weight is held in CSR: y = x @ W + b.

    Built from a (pruned) ``Linear`` with ``SparseLinear.from_linear``. The CSR holds W^T, of
    shape (out, in), so that each stored row is one output neuron and the matmul runs as
    ``(W^T @ x^T)^T``. It has no Parameters: it does not train.
    """

    def __init__(self, weight_t: CSRMatrix, bias: Array | None) -> None:
        super().__init__()
        self.weight_csr = weight_t
        self.out_features, self.in_features = weight_t.shape
        self.bias_data = None if bias is None else np.asarray(bias, dtype=np.float32)

    @staticmethod
    def from_linear(layer: Linear) -> SparseLinear:
        """Store the weight ``layer`` computes with (masked when pruned) as CSR."""
        bias = None if layer.bias is None else layer.bias.data
        return SparseLinear(CSRMatrix.from_dense(layer.weight.data.T), bias)

    @property
    def nbytes(self) -> int:
        """Bytes of the CSR weight plus the dense bias."""
        return self.weight_csr.nbytes + (0 if self.bias_data is None else self.bias_data.nbytes)

    def forward(self, x: Any) -> Tensor:
        inputs = np.asarray(getattr(x, "data", x), dtype=np.float32)
        check_features(f"SparseLinear({self.in_features}, {self.out_features})",
                       self.in_features, inputs.shape)
        flat = np.ascontiguousarray(inputs.reshape(-1, self.in_features).T)  # (in, batch)
        out = self.weight_csr.matmul(flat).T.reshape(*inputs.shape[:-1], self.out_features)
        return Tensor(out + self.bias_data if self.bias_data is not None else out)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"nnz={self.weight_csr.nnz}")


__all__ = ["CSRMatrix", "SparseLinear"]
