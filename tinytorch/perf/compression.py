"""Compression (module 16): pruning, sparse storage, low rank and distillation, in one place.

This module is the home the course imports from (``from tinytorch.perf.compression import
...``). The techniques live in siblings, each small enough to read in one sitting:

* ``perf.pruning``       masks that persist: ``magnitude_prune``, ``structured_prune``,
  ``remove_pruning``, ``measure_sparsity``;
* ``perf.sparse``        ``CSRMatrix`` (real bytes: data + indices + indptr) and its matmul;
* ``perf.lowrank``       ``low_rank_approximate`` (truncated SVD) and ``LowRankLinear``;
* ``perf.distillation``  ``KnowledgeDistillation`` with a differentiable loss.

Here: ``compress_model(model, config)``, which applies a recipe and returns a report of what
it really changed (per layer sparsity, dense and CSR bytes, parameter counts), and
``Compressor``, upstream's class face over the same functions.

Example:
    >>> from tinytorch.core.layers import Linear, Sequential
    >>> model = Sequential(Linear(16, 8), Linear(8, 4))
    >>> report = compress_model(model, {"magnitude_prune": 0.75})
    >>> round(report["final_sparsity"], 1), [row["sparsity"] for row in report["layers"]]
    (75.0, [75.0, 75.0])
"""

from __future__ import annotations

from typing import Any

from tinytorch.core.errors import ConfigError, explain
from tinytorch.core.layers import Linear, Module, ModuleList
from tinytorch.perf.distillation import KnowledgeDistillation
from tinytorch.perf.lowrank import (
    LowRankApproximation,
    LowRankLinear,
    check_rank_ratio,
    low_rank_approximate,
)
from tinytorch.perf.pruning import (
    PrunedConv2d,
    PrunedLinear,
    effective_weights,
    is_pruned,
    load_pruned,
    magnitude_prune,
    measure_sparsity,
    prune_with_mask,
    pruning_masks,
    remove_pruning,
    structured_prune,
)
from tinytorch.perf.sparse import CSRMatrix, SparseLinear

# Upstream spells two keys differently in compress_model and in Compressor: accept both.
_KEYS = {"magnitude_prune": "magnitude", "magnitude_sparsity": "magnitude",
         "structured_prune": "structured", "structured_prune_ratio": "structured",
         "low_rank": "low_rank", "scope": "scope"}


def _recipe(config: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - set(_KEYS))
    if unknown:
        raise ConfigError(explain(
            what=f"compress_model got unknown config keys {unknown}",
            why=f"the recipe understands {sorted(_KEYS)}",
            fix="write e.g. {'magnitude_prune': 0.8, 'structured_prune': 0.3, 'low_rank': 0.5}",
        ))
    return {_KEYS[key]: value for key, value in config.items()}


def layer_report(model: Module) -> list[dict[str, Any]]:
    """One row per weight matrix or kernel: shape, sparsity (%), dense and CSR bytes.

    CSR bytes count data + indices + indptr of the weight stored with its first axis as rows
    (a kernel flattened to (out_channels, -1)).
    """
    rows = []
    for name, weight in effective_weights(model):
        csr = CSRMatrix.from_dense(weight.reshape(weight.shape[0], -1))
        rows.append({"name": name, "shape": tuple(weight.shape),
                     "sparsity": measure_sparsity(weight), "nonzeros": csr.nnz,
                     "dense_bytes": int(weight.size * 4), "sparse_bytes": csr.nbytes})
    return rows


def compress_model(model: Module, config: dict[str, Any]) -> dict[str, Any]:
    """Apply a compression recipe to ``model`` in place and report what it changed.

    Args:
        model: the model to compress.
        config: any of ``magnitude_prune`` (or ``magnitude_sparsity``): a sparsity in [0, 1);
            ``scope``: ``"layer"`` (default) or ``"global"`` for it; ``structured_prune`` (or
            ``structured_prune_ratio``): a share of hidden neurons/channels in [0, 1);
            ``low_rank``: a rank ratio in (0, 1], replacing each hidden Linear whose factors
            are smaller than its weight by a ``LowRankLinear``. Applied in that order.

    Returns:
        A dict: upstream's ``original_params``, ``original_sparsity``, ``final_sparsity`` (%),
        ``sparsity_increase``, ``applied_techniques``; and ``final_params``, ``layers`` (rows
        of ``layer_report``), ``dense_bytes`` and ``sparse_bytes`` (totals of the rows).

    Raises:
        ConfigError: an unknown key or a value out of range.
    """
    recipe = _recipe(config)
    report: dict[str, Any] = {"original_params": model.num_parameters(),
                              "original_sparsity": measure_sparsity(model),
                              "applied_techniques": []}
    if "magnitude" in recipe:
        magnitude_prune(model, recipe["magnitude"], scope=recipe.get("scope", "layer"))
        report["applied_techniques"].append(f"magnitude_prune_{recipe['magnitude']}")
    if "structured" in recipe:
        structured_prune(model, recipe["structured"])
        report["applied_techniques"].append(f"structured_prune_{recipe['structured']}")
    if "low_rank" in recipe:
        errors = factorize_linears(model, recipe["low_rank"])
        report["applied_techniques"].append(f"low_rank_{recipe['low_rank']}")
        report["low_rank_errors"] = errors
    rows = layer_report(model)
    report.update(final_params=model.num_parameters(), final_sparsity=measure_sparsity(model),
                  layers=rows, dense_bytes=sum(r["dense_bytes"] for r in rows),
                  sparse_bytes=sum(r["sparse_bytes"] for r in rows))
    report["sparsity_increase"] = report["final_sparsity"] - report["original_sparsity"]
    return report


def factorize_linears(model: Module, rank_ratio: float,
                      include_head: bool = False) -> dict[str, float]:
    """Replace each Linear inside ``model`` by a ``LowRankLinear`` when that saves parameters.

    The last Linear is the head (its few outputs are the classes, so a fraction of its rank
    is a rank of one or two) and is kept unless ``include_head``.

    Returns:
        The relative reconstruction error of each replaced layer, by dotted name.
    """
    rank_ratio = check_rank_ratio(rank_ratio)
    linears = [(name, layer) for name, layer in model.named_modules()
               if name and isinstance(layer, Linear)]
    errors = {}
    for name, layer in linears if include_head else linears[:-1]:
        rank = max(1, int(rank_ratio * min(layer.in_features, layer.out_features)))
        if rank * (layer.in_features + layer.out_features) >= layer.in_features * \
                layer.out_features:
            continue                                             # factors would not be smaller
        replacement = LowRankLinear.from_linear(layer, rank_ratio)
        _set_child(model, name, replacement)
        errors[name] = float(replacement.reconstruction_error or 0.0)
    return errors


def _set_child(model: Module, dotted: str, value: Module) -> None:
    """Put ``value`` where ``model``'s descendant ``dotted`` is (attribute, list slot, dict key)."""
    *path, last = dotted.split(".")
    owner: Any = model
    for token in path:
        owner = _step(owner, token)
    if isinstance(owner, ModuleList) and last.isdigit():
        owner.items[int(last)] = value
    elif isinstance(owner, Module):
        setattr(owner, last, value)
    elif isinstance(owner, list):
        owner[int(last)] = value
    elif isinstance(owner, dict):
        owner[last] = value
    else:
        raise ConfigError(explain(
            what=f"cannot replace {dotted!r}: it sits in a {type(owner).__name__}",
            why="a layer can be swapped inside a Module attribute, a list or a dict",
            fix="hold sub-modules in lists (not tuples), or replace the layer yourself",
        ))


def _step(owner: Any, token: str) -> Any:
    if isinstance(owner, ModuleList) and token.isdigit():
        return owner.items[int(token)]
    if isinstance(owner, Module):
        return vars(owner)[token]
    return owner[int(token)] if isinstance(owner, (list, tuple)) else owner[token]


def format_report(report: dict[str, Any]) -> str:
    """The per-layer rows of a ``compress_model`` report as a small text table."""
    lines = [f"{'layer':<16}{'shape':>14}{'sparsity':>10}{'dense B':>10}{'CSR B':>10}"]
    for row in report["layers"]:
        lines.append(f"{row['name']:<16}{str(row['shape']):>14}{row['sparsity']:>9.1f}%"
                     f"{row['dense_bytes']:>10}{row['sparse_bytes']:>10}")
    lines.append(f"{'total':<16}{'':>14}{report['final_sparsity']:>9.1f}%"
                 f"{report['dense_bytes']:>10}{report['sparse_bytes']:>10}")
    return "\n".join(lines)


class Compressor:
    """Upstream's class face: the same functions, with sparsity as a fraction (0-1).

    ``compress_model`` returns ``(model, stats)`` as upstream's does, the stats being
    ``compress_model``'s report with both sparsities as fractions and ``compression_ratio``
    = 1 / (1 - final sparsity) (the factor fewer non-zero weights).
    """

    @staticmethod
    def measure_sparsity(model: Any) -> float:
        """The fraction (0-1) of zero weights."""
        return measure_sparsity(model) / 100.0

    @staticmethod
    def magnitude_prune(model: Module, sparsity: float = 0.5, scope: str = "layer") -> Module:
        """See ``magnitude_prune``."""
        return magnitude_prune(model, sparsity, scope=scope)

    @staticmethod
    def structured_prune(model: Module, prune_ratio: float = 0.5) -> Module:
        """See ``structured_prune``."""
        return structured_prune(model, prune_ratio)

    @staticmethod
    def remove_pruning(model: Module) -> Module:
        """See ``remove_pruning``."""
        return remove_pruning(model)

    @staticmethod
    def compress_model(model: Module, compression_config: dict[str, Any]
                       ) -> tuple[Module, dict[str, Any]]:
        """Apply the recipe; return the model and its stats (sparsities as fractions)."""
        stats = compress_model(model, compression_config)
        stats["original_sparsity"] /= 100.0
        stats["final_sparsity"] /= 100.0
        stats["sparsity_increase"] /= 100.0
        left = 1.0 - stats["final_sparsity"]
        stats["compression_ratio"] = 1.0 / left if left > 0 else float("inf")
        return model, stats


__all__ = ["CSRMatrix", "Compressor", "KnowledgeDistillation", "LowRankApproximation",
           "LowRankLinear", "PrunedConv2d", "PrunedLinear", "SparseLinear", "compress_model",
           "effective_weights", "factorize_linears", "format_report", "is_pruned",
           "layer_report", "load_pruned", "low_rank_approximate", "magnitude_prune",
           "measure_sparsity", "prune_with_mask", "pruning_masks", "remove_pruning",
           "structured_prune"]
