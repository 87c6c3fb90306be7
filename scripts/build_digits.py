"""Build ``tinytorch/data/digits.npz``, the shipped 8x8 handwritten-digits set.

Where the data comes from:
    scikit-learn's ``sklearn.datasets.load_digits`` (scikit-learn is BSD-3-Clause licensed), which
    ships a copy of the test part of the UCI "Optical Recognition of Handwritten Digits" data set
    (E. Alpaydin and C. Kaynak, 1998; the UCI repository lists it under CC BY 4.0). It has 1797
    grayscale images of 8x8 pixels with integer values 0..16 and labels 0..9.

What this script does:
    A stratified split with a fixed seed: in every class, ``round(0.2 * n)`` images go to the test
    set and the rest to the training set, so both sets keep the classes in the same proportion.
    Each set is then shuffled (with the same seed) so a loader never sees the classes in blocks.
    Pixels are stored raw as uint8 (0..16) and labels as uint8 to keep the file small; the loader
    turns them into float32 and int64.

scikit-learn is needed only to run this script, never at run time:
    .venv/bin/pip install scikit-learn
    .venv/bin/python scripts/build_digits.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so the script runs from a checkout without installing tinytorch

from tinytorch.core.serialization import save_arrays  # noqa: E402

SEED = 0
TEST_FRACTION = 0.2
TARGET = ROOT / "tinytorch" / "data" / "digits.npz"


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return shuffled (train_indices, test_indices) holding ``test_fraction`` of every class."""
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(test_fraction * len(members)))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    return rng.permutation(np.concatenate(train_parts)), rng.permutation(np.concatenate(test_parts))


def main() -> None:
    """Load scikit-learn's digits, split them, and write the shipped ``.npz``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images)  # (1797, 8, 8) float64 holding integers 0..16
    labels = np.asarray(bunch.target)
    if not (np.array_equal(images, np.round(images)) and images.min() >= 0 and images.max() <= 16):
        raise SystemExit("unexpected pixel values: expected integers in 0..16")
    pixels = images.reshape(len(images), 64).astype(np.uint8)
    train_idx, test_idx = stratified_split(labels, TEST_FRACTION, SEED)
    save_arrays(
        TARGET,
        {
            "x_train": pixels[train_idx],
            "y_train": labels[train_idx].astype(np.uint8),
            "x_test": pixels[test_idx],
            "y_test": labels[test_idx].astype(np.uint8),
        },
        metadata={
            "source": "sklearn.datasets.load_digits "
                      "(UCI Optical Recognition of Handwritten Digits)",
            "license": "scikit-learn: BSD-3-Clause; UCI data set: CC BY 4.0",
            "seed": SEED,
            "test_fraction": TEST_FRACTION,
            "pixel_range": [0, 16],
            "image_shape": [8, 8],
        },
    )
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes): "
          f"{len(train_idx)} train, {len(test_idx)} test")


if __name__ == "__main__":
    main()
