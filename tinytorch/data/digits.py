"""The shipped 8x8 handwritten-digits set: 1797 images, ready to train on without downloads.

It comes from scikit-learn's ``load_digits`` (see ``scripts/build_digits.py`` for the
source, license and the stratified 80/20 split with a fixed seed). The file stores raw
pixels 0..16 as uint8; the loader hands out float32 images and int64 labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinytorch.core.errors import SerializationError, explain
from tinytorch.core.serialization import load_arrays

DIGITS_PATH = Path(__file__).with_name("digits.npz")
_MAX_PIXEL = 16  # the source images hold integer ink counts 0..16


def load_digits(
    flatten: bool = True, normalize: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the shipped digits as ``(x_train, y_train, x_test, y_test)``.

    Args:
        flatten: images as rows of 64 pixels; when False, as (1, 8, 8) single-channel images
            ready for a Conv2d.
        normalize: scale pixels to [0, 1] by dividing by 16; when False, keep 0..16 (as float32).

    Shapes:
        x_train: (1438, 64) or (1438, 1, 8, 8) float32    y_train: (1438,) int64 in 0..9
        x_test: (359, 64) or (359, 1, 8, 8) float32       y_test: (359,) int64 in 0..9

    Raises:
        SerializationError: the shipped file is missing or damaged (reinstall tinytorch, or
            rebuild it with ``scripts/build_digits.py``).

    Example:
        >>> x_train, y_train, x_test, y_test = load_digits(flatten=False)
        >>> x_train.shape, x_train.dtype, y_test.dtype
        ((1438, 1, 8, 8), dtype('float32'), dtype('int64'))
    """
    arrays, _ = load_arrays(DIGITS_PATH)
    missing = {"x_train", "y_train", "x_test", "y_test"} - set(arrays)
    if missing:
        raise SerializationError(explain(
            what=f"{DIGITS_PATH} lacks the arrays {sorted(missing)}",
            why="the shipped digits file must hold x_train, y_train, x_test and y_test",
            fix="reinstall tinytorch, or run scripts/build_digits.py to rebuild the file",
        ))
    shape = (-1, 64) if flatten else (-1, 1, 8, 8)
    scale = np.float32(1.0 / _MAX_PIXEL if normalize else 1.0)
    x_train = arrays["x_train"].astype(np.float32).reshape(shape) * scale
    x_test = arrays["x_test"].astype(np.float32).reshape(shape) * scale
    return x_train, arrays["y_train"].astype(np.int64), x_test, arrays["y_test"].astype(np.int64)
