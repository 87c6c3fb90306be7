"""Cache blocking for memory-bound kernels: run a multi-pass formula one block at a time.

A fused formula such as GELU or LayerNorm makes 6-10 elementwise passes. On a whole activation
(a few MB) every pass streams the array from main memory again; split into blocks of
``BLOCK_ELEMENTS`` (256 KiB of float32, well inside a core's L2 cache) all passes but the first
read and write cache-resident data. Each block's arithmetic is exactly the unblocked arithmetic
on those elements (per element, or per row for row-wise statistics), so the results are
bit-identical to one block holding everything; tests check that by setting ``BLOCK_ELEMENTS``
to a huge value.

Example:
    >>> [(s.start, s.stop) for s in row_blocks(5, 30000)]
    [(0, 2), (2, 4), (4, 5)]
"""

from __future__ import annotations

BLOCK_ELEMENTS = 1 << 16


def row_blocks(rows: int, row_size: int) -> list[slice]:
    """Slices of whole rows, each about ``BLOCK_ELEMENTS`` elements (at least one row)."""
    step = max(1, BLOCK_ELEMENTS // max(row_size, 1))
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]
