"""A custom Dataset with a DataLoader: as written against torch, and with the import swap."""

from __future__ import annotations

import numpy as np
import pytest
from oracle_helpers import import_torch
from swap import dtype_name, load_program, to_numpy

pytestmark = pytest.mark.oracle
import_torch()


@pytest.fixture(scope="module")
def programs():
    return load_program("custom_dataset", "torch"), load_program("custom_dataset", "tinytorch")


def test_default_collation_of_dicts_numbers_tensors_and_tuples_matches(programs) -> None:
    indices = [5, 0, 17, 3]
    theirs, ours = (p.first_batch(indices) for p in programs)
    assert sorted(ours) == sorted(theirs) == ["features", "label", "meta", "weight"]
    for key in ("features", "label"):
        assert tuple(ours[key].shape) == tuple(theirs[key].shape)
        assert dtype_name(ours[key]) == dtype_name(theirs[key])
        np.testing.assert_array_equal(to_numpy(ours[key]), to_numpy(theirs[key]))
    # Python floats: PyTorch collates them to float64, tinytorch to float32 (differences.md)
    assert dtype_name(theirs["weight"]) == "float64" and dtype_name(ours["weight"]) == "float32"
    np.testing.assert_allclose(to_numpy(ours["weight"]), to_numpy(theirs["weight"]))
    for ours_field, their_field in zip(ours["meta"], theirs["meta"], strict=True):
        assert dtype_name(ours_field) == dtype_name(their_field)
        np.testing.assert_array_equal(to_numpy(ours_field), to_numpy(their_field))


def test_random_split_and_the_loader_lengths_match(programs) -> None:
    for program in programs:
        program.torch.manual_seed(0)
        train_loader, val_loader, data = program.loaders()
        assert len(data) == 600 and len(train_loader.dataset) == 500
        assert len(train_loader) == 10 and len(val_loader) == 1
        seen = sorted(train_loader.dataset.indices + val_loader.dataset.indices)
        assert seen == list(range(600))                        # a partition
        batch = next(iter(train_loader))
        assert tuple(batch["features"].shape) == (50, 2)


def test_training_through_the_loader_reaches_the_same_outcome(programs) -> None:
    theirs, ours = (p.train() for p in programs)
    assert theirs > 0.9 and ours > 0.9
