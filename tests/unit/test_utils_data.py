"""tinytorch.utils.data: PyTorch's data-loading names over the course's own loader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinytorch as torch
from tinytorch.core import dataloader
from tinytorch.core.tensor import Tensor
from tinytorch.utils.data import DataLoader, Dataset, Subset, TensorDataset, random_split

ROOT = Path(__file__).resolve().parents[2]


def test_import_tinytorch_alone_reaches_the_pytorch_faces() -> None:
    code = ("import tinytorch as torch; print(torch.nn.Linear.__name__, torch.nn.functional.relu"
            ".__name__, torch.optim.SGD.__name__, torch.utils.data.DataLoader.__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["Linear", "relu", "SGD", "DataLoader"]


def test_utils_data_names_are_the_core_loader() -> None:
    assert torch.utils.data.DataLoader is dataloader.DataLoader
    assert TensorDataset is dataloader.TensorDataset and Dataset is dataloader.Dataset


def test_python_dash_m_tinytorch_is_the_command() -> None:
    result = subprocess.run([sys.executable, "-m", "tinytorch", "--version"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("tinytorch ")


class Squares(Dataset):
    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> dict[str, object]:
        return {"x": np.full(2, i, dtype=np.float64), "y": i, "w": 0.5 * i,
                "pair": (Tensor([i, -i]), i % 2 == 0)}


def test_default_collation_of_dicts_numbers_arrays_tensors_and_tuples() -> None:
    batch = next(iter(DataLoader(Squares(), batch_size=3, num_workers=2)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == np.float32
    assert batch["y"].tolist() == [0, 1, 2] and batch["y"].dtype == np.int64
    assert batch["w"].tolist() == [0.0, 0.5, 1.0] and batch["w"].dtype == np.float32
    values, even = batch["pair"]
    assert values.tolist() == [[0, 0], [1, -1], [2, -2]] and even.tolist() == [True, False, True]


def test_subset_views_the_dataset_in_index_order() -> None:
    subset = Subset(Squares(), [4, 1])
    assert len(subset) == 2 and subset[0]["y"] == 4 and subset[1]["y"] == 1


@pytest.mark.parametrize("lengths", [[6, 3, 1], [0.6, 0.3, 0.1]])
def test_random_split_partitions_the_dataset(lengths: list[float]) -> None:
    data = TensorDataset(np.arange(10))
    parts = random_split(data, lengths, seed=3)
    assert [len(p) for p in parts] == [6, 3, 1]
    seen = sorted(int(p[i][0].item()) for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    again = random_split(data, lengths, seed=3)
    assert [p.indices for p in parts] == [p.indices for p in again]


def test_random_split_deals_the_remainder_from_the_first_subset() -> None:
    assert [len(p) for p in random_split(list(range(11)), [0.5, 0.5], seed=0)] == [6, 5]


def test_random_split_follows_the_global_generator_without_a_seed() -> None:
    torch.manual_seed(7)
    first = random_split(list(range(8)), [4, 4])[0].indices
    torch.manual_seed(7)
    assert random_split(list(range(8)), [4, 4])[0].indices == first


def test_random_split_refuses_lengths_that_do_not_add_up() -> None:
    with pytest.raises(ValueError, match="add up"):
        random_split(list(range(10)), [5, 4])
