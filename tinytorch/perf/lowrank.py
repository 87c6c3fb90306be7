"""Low-rank approximation (module 16): replace W (m, n) by two thin factors through its SVD.

With W = U diag(S) V^T, keeping the k largest singular values gives the closest rank-k matrix
in the Frobenius norm (Eckart-Young), and its error is known without rebuilding anything:
||W - W_k||_F = sqrt(sum of the dropped S_i^2). Stored as the factors (m, k) and (k, n), it
costs k (m + n) numbers instead of m n, a saving when k < m n / (m + n).

Example:
    >>> w = np.diag([3.0, 2.0, 1.0]).astype(np.float32)
    >>> approx = low_rank_approximate(w, rank_ratio=0.67)
    >>> approx.rank, round(approx.relative_error, 4)   # drops sigma = 1: sqrt(1 / 14)
    (2, 0.2673)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core import init
from tinytorch.core.errors import ConfigError, explain
from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.perf.checks import as_matrix, check_features

Array = np.ndarray


@dataclass(frozen=True)
class LowRankApproximation:
    """The truncated SVD of a matrix, and how far it is from the original.

    Unpacks as upstream's ``U, S, V = low_rank_approximate(W)``, with ``W ~ U @ diag(S) @ V``.

    Attributes:
        U: (m, k) left singular vectors.
        S: (k,) the largest singular values, descending.
        V: (k, n) right singular vectors (as rows, i.e. V^T).
        rank: k.
        relative_error: ||W - U diag(S) V||_F / ||W||_F (0 for a zero matrix).
    """

    U: Array
    S: Array
    V: Array
    rank: int
    relative_error: float

    def __iter__(self) -> Iterator[Array]:
        return iter((self.U, self.S, self.V))

    def reconstruct(self) -> Array:
        """The rank-k matrix U diag(S) V, float32."""
        return ((self.U * self.S) @ self.V).astype(np.float32)

    def factors(self) -> tuple[Array, Array]:
        """Two factors whose product is the approximation, each carrying sqrt(S) (balanced)."""
        root = np.sqrt(self.S)
        return ((self.U * root).astype(np.float32),
                (root[:, None] * self.V).astype(np.float32))


def check_rank_ratio(rank_ratio: Any) -> float:
    """``rank_ratio`` as a float, or a ConfigError when it is not in (0, 1]."""
    if isinstance(rank_ratio, bool) or not isinstance(rank_ratio, (int, float, np.floating)) or \
            not 0.0 < float(rank_ratio) <= 1.0:
        raise ConfigError(explain(
            what=f"rank_ratio={rank_ratio!r} is outside (0, 1]",
            why="rank_ratio is the share of the matrix's full rank min(m, n) to keep",
            fix="pass a value such as 0.25 or 0.5 (1.0 keeps the matrix exactly)",
        ))
    return float(rank_ratio)


def low_rank_approximate(weight_matrix: Any, rank_ratio: float = 0.5) -> LowRankApproximation:
    """Truncated SVD keeping ``max(1, int(rank_ratio * min(m, n)))`` singular values.

    Args:
        weight_matrix: a 2-D array or Tensor.
        rank_ratio: the share of the full rank to keep, in (0, 1].

    Raises:
        ShapeError: the input is not 2-D.
        ConfigError: rank_ratio outside (0, 1].
    """
    w = as_matrix(weight_matrix, "low_rank_approximate",
                  "a singular value decomposition factors a matrix")
    ratio = check_rank_ratio(rank_ratio)
    u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)  # once, off the hot path
    rank = max(1, int(ratio * min(w.shape)))
    total = float(np.sum(s ** 2))
    dropped = float(np.sum(s[rank:] ** 2))
    error = float(np.sqrt(dropped / total)) if total > 0 else 0.0
    return LowRankApproximation(u[:, :rank], s[:rank], vt[:rank], rank, error)


class LowRankLinear(Module):
    """y = (x @ A) @ B + b with A (in, rank) and B (rank, out): a Linear of rank ``rank``.

    Both factors are Parameters, so it trains like any layer. Build it from a trained Linear
    with ``LowRankLinear.from_linear(layer, rank_ratio)``; ``reconstruction_error`` then says
    how far A @ B is from the original weight (relative Frobenius).

    Shapes:
        x: (..., in_features) -> y: (..., out_features)
    """

    def __init__(self, in_features: int, out_features: int, rank: int,
                 bias: bool = True) -> None:
        super().__init__()
        if not 1 <= rank <= min(in_features, out_features):
            raise ConfigError(explain(
                what=f"LowRankLinear({in_features}, {out_features}, rank={rank})",
                why=f"the rank of an ({in_features}, {out_features}) product lies in "
                    f"[1, {min(in_features, out_features)}]",
                fix="pick a rank in that range",
            ))
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.first = Parameter(init.lecun_normal((in_features, rank), fan_in=in_features))
        self.second = Parameter(init.lecun_normal((rank, out_features), fan_in=rank))
        self.bias = Parameter(np.zeros(out_features, dtype=np.float32)) if bias else None
        self.reconstruction_error: float | None = None

    @staticmethod
    def from_linear(layer: Linear, rank_ratio: float = 0.5) -> LowRankLinear:
        """Factor the weight ``layer`` computes with by truncated SVD; copy its bias."""
        approx = low_rank_approximate(layer.weight.data, rank_ratio)
        low = LowRankLinear(layer.in_features, layer.out_features, approx.rank,
                            bias=layer.bias is not None)
        low.first.data[...], low.second.data[...] = approx.factors()
        if layer.bias is not None and low.bias is not None:
            low.bias.data[...] = layer.bias.data
        low.reconstruction_error = approx.relative_error
        return low

    def forward(self, x: Tensor) -> Tensor:
        check_features(f"LowRankLinear({self.in_features}, {self.out_features})",
                       self.in_features, x.shape)
        out = (x @ self.first) @ self.second          # (..., rank) then (..., out)
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"rank={self.rank}, bias={self.bias is not None}")


__all__ = ["LowRankApproximation", "LowRankLinear", "check_rank_ratio", "low_rank_approximate"]
