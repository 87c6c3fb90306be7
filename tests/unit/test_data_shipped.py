"""The data that ships inside the package: the 8x8 digits and the question/answer corpus."""

from __future__ import annotations

import collections
import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.serialization import load_arrays
from tinytorch.data import load_corpus, load_digits, load_qa_pairs
from tinytorch.data.corpus import CORPUS_PATH
from tinytorch.data.digits import DIGITS_PATH

REPO = Path(__file__).resolve().parents[2]
# Images per class in scikit-learn's load_digits, and round(0.2 * n) of them in our test split.
SOURCE_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
TEST_COUNTS = [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]


# --- digits --------------------------------------------------------------------------------------

def test_digits_default_shapes_dtypes_and_range() -> None:
    x_train, y_train, x_test, y_test = load_digits()
    assert x_train.shape == (1438, 64) and x_test.shape == (359, 64)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.shape == (1438,) and y_test.shape == (359,)
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0
        np.testing.assert_array_equal(x * 16, np.round(x * 16))  # raw pixels are integers 0..16


def test_digits_split_is_stratified_per_class() -> None:
    _, y_train, _, y_test = load_digits()
    assert np.bincount(y_test, minlength=10).tolist() == TEST_COUNTS
    totals = np.bincount(y_train, minlength=10) + np.bincount(y_test, minlength=10)
    assert totals.tolist() == SOURCE_COUNTS
    assert set(np.unique(y_train).tolist()) == set(range(10))


def test_digits_are_shuffled_not_in_class_blocks() -> None:
    _, y_train, _, y_test = load_digits()
    assert len(np.unique(y_train[:50])) >= 8
    assert len(np.unique(y_test[:30])) >= 6


def test_digits_unflattened_and_unnormalized_views_agree() -> None:
    flat, _, flat_test, _ = load_digits()
    images, _, _, _ = load_digits(flatten=False)
    raw, _, raw_test, _ = load_digits(normalize=False)
    assert images.shape == (1438, 1, 8, 8) and images.dtype == np.float32
    np.testing.assert_array_equal(images.reshape(1438, 64), flat)
    assert raw.dtype == np.float32 and raw.max() == 16.0
    np.testing.assert_allclose(raw_test / 16.0, flat_test, rtol=0, atol=0)


def test_digits_file_records_source_license_and_seed() -> None:
    arrays, metadata = load_arrays(DIGITS_PATH)
    assert sorted(arrays) == ["x_test", "x_train", "y_test", "y_train"]
    assert arrays["x_train"].dtype == np.uint8 and arrays["x_train"].max() == 16
    assert "load_digits" in metadata["source"] and "BSD" in metadata["license"]
    assert metadata["seed"] == 0 and metadata["test_fraction"] == 0.2


def test_digits_are_learnable_by_nearest_class_mean() -> None:
    # A trivial classifier well above chance shows images and labels were not shuffled apart.
    x_train, y_train, x_test, y_test = load_digits()
    means = np.stack([x_train[y_train == c].mean(axis=0) for c in range(10)])   # (10, 64)
    distances = ((x_test[:, None, :] - means[None]) ** 2).sum(axis=-1)        # (359, 10)
    accuracy = (distances.argmin(axis=1) == y_test).mean()
    assert accuracy > 0.85


# --- corpus --------------------------------------------------------------------------------------

def test_corpus_size_and_plain_ascii() -> None:
    raw = CORPUS_PATH.read_bytes()
    assert 20_000 <= len(raw) <= 40_000
    raw.decode("ascii")  # raises if any byte is not ASCII
    text = load_corpus()
    assert text == raw.decode("ascii")
    assert text.startswith("Q: ") and text.endswith("\n\n")


def test_qa_pairs_parse_every_block() -> None:
    pairs = load_qa_pairs()
    text = load_corpus()
    assert len(pairs) == text.count("Q: ") == text.count("\nA: ") >= 300
    assert all(q.endswith("?") and a and "\n" not in q + a for q, a in pairs)
    assert len({q for q, _ in pairs}) == len(pairs)  # no question asked twice
    rebuilt = "".join(f"Q: {q}\nA: {a}\n\n" for q, a in pairs)
    assert rebuilt == text


def test_corpus_arithmetic_answers_are_correct() -> None:
    ops = {"plus": lambda a, b: a + b, "minus": lambda a, b: a - b, "times": lambda a, b: a * b,
           "+": lambda a, b: a + b}
    checked = 0
    for question, answer in load_qa_pairs():
        match = re.fullmatch(r"What is (\d+) (plus|minus|times|\+) (\d+)\?", question)
        if match:
            a, op, b = int(match[1]), match[2], int(match[3])
            result = re.search(r"(?:is|=) (-?\d+)\.$", answer)
            assert result is not None, answer
            assert int(result[1]) == ops[op](a, b), (question, answer)
            checked += 1
    assert checked >= 150


def test_corpus_covers_the_promised_topics() -> None:
    questions = " ".join(q for q, _ in load_qa_pairs())
    for word in ("color", "legs", "tensor", "gradient", "plus", "opposite"):
        assert word in questions, word


def test_corpus_has_learnable_regularities() -> None:
    # A 5-gram character model (Witten-Bell smoothing) trained on the first 90% must predict the
    # last 10% well; a tiny GPT does at least as well, so this guards the corpus's learnability.
    text = load_corpus()
    split = int(0.9 * len(text))
    train, valid = text[:split], text[split:]
    vocab_size, order = len(set(text)), 5
    tables = [collections.defaultdict(collections.Counter) for _ in range(order)]
    for i, char in enumerate(train):
        for k in range(min(order, i + 1)):
            tables[k][train[i - k:i]][char] += 1
    nll = 0.0
    for i, char in enumerate(valid):
        context = valid[max(0, i - order + 1):i]
        prob = 1.0 / vocab_size
        for k in range(len(context) + 1):
            counts = tables[k].get(context[len(context) - k:])
            if not counts:
                break
            total = sum(counts.values())
            weight = total / (total + len(counts))
            prob = weight * counts[char] / total + (1 - weight) * prob
        nll -= math.log(prob)
    assert nll / len(valid) < 1.3


def test_corpus_file_matches_its_generator_script() -> None:
    script = REPO / "scripts" / "build_corpus.py"
    spec = importlib.util.spec_from_file_location("build_corpus", script)
    if spec is None or spec.loader is None:
        pytest.fail("scripts/build_corpus.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build_corpus() == load_corpus()
