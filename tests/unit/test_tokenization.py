"""Unit tests for module 10, tokenization: CharTokenizer, BPETokenizer, save/load."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from oracle_helpers import assert_three_parts

from tinytorch.core.errors import DTypeError, SerializationError, ShapeError, TinyTorchError
from tinytorch.core.tokenization import (
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    analyze_tokenization,
    create_tokenizer,
    pretokenize,
    tokenize_dataset,
)

MIXED_TEXT = "Hello, world!\n  Tabs\tand  double  spaces \n\nnaïve café — 猫 🐍 end "


def synthetic_corpus(n_chars: int = 50_000, seed: int = 0) -> str:
    """Zipf-distributed made-up words with punctuation and newlines, about ``n_chars`` long."""
    rng = np.random.default_rng(seed)
    letters = list("abcdefghijklmnopqrstuvwxyz")
    words = ["".join(rng.choice(letters, size=rng.integers(2, 9))) for _ in range(1500)]
    probs = 1.0 / np.arange(1, len(words) + 1)
    probs /= probs.sum()
    separators = [" ", " ", " ", ", ", ".\n", "  "]
    parts: list[str] = []
    total = 0
    while total < n_chars:
        piece = words[rng.choice(len(words), p=probs)] + separators[rng.integers(len(separators))]
        parts.append(piece)
        total += len(piece)
    return "".join(parts)


def naive_bpe_merges(text: str, n_merges: int) -> list[tuple[str, str]]:
    """Reference BPE: recount every pair from scratch before each merge (slow, obviously right)."""
    words = [list(piece) for piece in pretokenize(text)]
    merges: list[tuple[str, str]] = []
    for _ in range(n_merges):
        counts = Counter(pair for word in words for pair in pairwise(word))
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        if counts[best] < 2:
            break
        merges.append(best)
        merged_words = []
        for word in words:
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged_words.append(out)
        words = merged_words
    return merges


# --- Base class -----------------------------------------------------------------------------

def test_base_tokenizer_is_abstract() -> None:
    tok = Tokenizer()
    with pytest.raises(NotImplementedError):
        tok.encode("abc")
    with pytest.raises(NotImplementedError):
        tok.decode([1, 2])


def test_upstream_style_subclass_may_set_vocab_size() -> None:
    class WordTokenizer(Tokenizer):
        def __init__(self) -> None:
            self.vocab_size = 7

    assert WordTokenizer().vocab_size == 7
    assert len(WordTokenizer()) == 7


# --- CharTokenizer --------------------------------------------------------------------------

def test_char_vocab_from_constructor_matches_upstream_ids() -> None:
    tok = CharTokenizer(["a", "b", "c"])
    assert tok.vocab == ["<UNK>", "a", "b", "c"]
    assert tok.vocab_size == 4 and len(tok) == 4
    assert tok.unk_id == 0
    assert tok.encode("abc") == [1, 2, 3]
    assert tok.encode("abz") == [1, 2, 0]
    assert tok.decode([1, 2, 3]) == "abc"
    assert tok.id_to_char == {0: "<UNK>", 1: "a", 2: "b", 3: "c"}
    assert tok.char_to_id == {"<UNK>": 0, "a": 1, "b": 2, "c": 3}


def test_char_build_vocab_sorts_unique_characters_of_list_corpus() -> None:
    tok = CharTokenizer()
    tok.build_vocab(["hello world", "test text"])
    assert tok.vocab == ["<UNK>", " ", "d", "e", "h", "l", "o", "r", "s", "t", "w", "x"]
    assert tok.encode("hold") == [4, 6, 5, 2]
    assert tok.token_to_id is tok.char_to_id and tok.id_to_token is tok.id_to_char


def test_char_build_vocab_accepts_one_string_and_replaces_old_vocab() -> None:
    tok = CharTokenizer(["q", "z"])
    tok.build_vocab("ba")
    assert tok.vocab == ["<UNK>", "a", "b"]
    assert tok.encode("qab") == [0, 1, 2]


def test_char_unknown_characters_encode_to_unk_and_decode_as_unk_token() -> None:
    tok = CharTokenizer()
    tok.build_vocab("abc")
    ids = tok.encode("a?c")
    assert ids == [1, 0, 3]
    assert tok.decode(ids) == "a<UNK>c"
    assert tok.decode(ids, skip_special=True) == "ac"


def test_char_untrained_tokenizer_maps_everything_to_unk() -> None:
    tok = CharTokenizer()
    assert tok.vocab_size == 1
    assert tok.encode("hi") == [0, 0]


def test_char_round_trip_is_exact_with_spaces_newlines_and_unicode() -> None:
    tok = CharTokenizer()
    tok.build_vocab(MIXED_TEXT)
    ids = tok.encode(MIXED_TEXT)
    assert len(ids) == len(MIXED_TEXT)
    assert 0 not in ids
    assert tok.decode(ids) == MIXED_TEXT


def test_char_special_tokens_take_ids_after_unk() -> None:
    tok = CharTokenizer(special_tokens=("<PAD>", "<BOS>", "<EOS>"))
    tok.build_vocab("ba")
    assert tok.vocab == ["<UNK>", "<PAD>", "<BOS>", "<EOS>", "a", "b"]
    # The text "<PAD>" is ordinary characters, not the PAD id.
    assert tok.encode("<PAD>a") == [0, 0, 0, 0, 0, 4]
    ids = [2, *tok.encode("ab"), 3, 1, 1]
    assert tok.decode(ids) == "<BOS>ab<EOS><PAD><PAD>"
    assert tok.decode(ids, skip_special=True) == "ab"


def test_char_multi_character_vocab_entries_are_special() -> None:
    tok = CharTokenizer(["<PAD>", "a", "a", "<UNK>"])
    assert tok.vocab == ["<UNK>", "<PAD>", "a"]
    assert tok.decode([1, 2, 1], skip_special=True) == "a"


def test_char_decode_accepts_tuple_numpy_and_integral_floats() -> None:
    tok = CharTokenizer(list("xyz"))
    assert tok.decode((3, 2, 1)) == "zyx"
    assert tok.decode(np.array([1, 3], dtype=np.int32)) == "xz"
    assert tok.decode(np.array([2.0, 2.0])) == "yy"
    assert tok.decode(np.int64(1)) == "x"
    assert tok.decode([]) == ""


@pytest.mark.parametrize("bad_id", [4, -1, 10**30])
def test_char_decode_out_of_range_id_raises_three_part_error(bad_id: int) -> None:
    tok = CharTokenizer(list("xyz"))
    with pytest.raises(TinyTorchError, match=f"token id {bad_id}, but vocab_size is 4") as info:
        tok.decode([1, bad_id, 2])
    assert_three_parts(str(info.value))


def test_char_decode_rejects_fractional_ids_and_batches() -> None:
    tok = CharTokenizer(list("xyz"))
    with pytest.raises(DTypeError, match="0.5") as info:
        tok.decode([1.0, 0.5])
    assert_three_parts(str(info.value))
    with pytest.raises(DTypeError, match="True"):
        tok.decode(np.array([True, False]))
    with pytest.raises(DTypeError, match="nan"):
        tok.decode([1.0, float("nan")])
    with pytest.raises(ShapeError, match=r"shape \(2, 2\)"):
        tok.decode([[1, 2], [2, 3]])


def test_char_rejects_bad_inputs_with_three_part_errors() -> None:
    tok = CharTokenizer()
    with pytest.raises(DTypeError) as info:
        tok.encode(["a", "b"])  # type: ignore[arg-type]
    assert_three_parts(str(info.value))
    with pytest.raises(DTypeError, match="int"):
        tok.build_vocab(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(TinyTorchError, match="distinct"):
        CharTokenizer(special_tokens=("<UNK>",))
    with pytest.raises(TinyTorchError, match="cannot set vocab_size"):
        tok.vocab_size = 3


# --- Save / load ----------------------------------------------------------------------------

def test_char_save_load_round_trip_gives_identical_encodings(tmp_path: Path) -> None:
    tok = CharTokenizer(special_tokens=("<PAD>",))
    tok.build_vocab(MIXED_TEXT)
    path = tmp_path / "char.json"
    tok.save(path)
    loaded = CharTokenizer.load(path)
    assert isinstance(loaded, CharTokenizer)
    assert loaded.vocab == tok.vocab and loaded.special_tokens == ("<PAD>",)
    assert loaded.encode(MIXED_TEXT + "?") == tok.encode(MIXED_TEXT + "?")
    assert loaded.decode(tok.encode(MIXED_TEXT)) == MIXED_TEXT
    assert not list(tmp_path.glob("*.tmp"))     # the atomic write left no temporary behind


def test_bpe_save_load_round_trip_gives_identical_encodings(tmp_path: Path) -> None:
    tok = BPETokenizer(vocab_size=80, special_tokens=("<BOS>", "<EOS>"))
    tok.train(MIXED_TEXT * 3)
    path = tmp_path / "bpe.json"
    tok.save(path)
    loaded = Tokenizer.load(path)               # the base class reads whichever kind it is
    assert isinstance(loaded, BPETokenizer)
    assert loaded.merges == tok.merges and loaded.vocab == tok.vocab
    assert loaded.max_vocab_size == 80
    text = "Tabs and naïve spaces\n"
    assert loaded.encode(text) == tok.encode(text)
    assert loaded.decode(loaded.encode(text)) == text


def test_load_on_an_instance_fills_it_in_place(tmp_path: Path) -> None:
    source = CharTokenizer()
    source.build_vocab("xyz")
    source.save(tmp_path / "tok.json")
    target = CharTokenizer()
    returned = target.load(tmp_path / "tok.json")
    assert returned is target
    assert target.encode("zyx") == [3, 2, 1]


def test_corrupt_json_raises_serialization_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "tinytorch-tokenizer", "vers', encoding="utf-8")
    with pytest.raises(SerializationError, match="not valid JSON") as info:
        CharTokenizer.load(path)
    assert_three_parts(str(info.value))


def test_missing_file_and_foreign_json_raise_serialization_error(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match="no file"):
        Tokenizer.load(tmp_path / "nothing.json")
    (tmp_path / "other.json").write_text(json.dumps({"vocab": ["a"]}), encoding="utf-8")
    with pytest.raises(SerializationError, match="not a tinytorch tokenizer file"):
        Tokenizer.load(tmp_path / "other.json")


def test_mismatched_kind_raises_and_leaves_instance_unchanged(tmp_path: Path) -> None:
    bpe = BPETokenizer(vocab_size=40)
    bpe.train("aaa bbb aaa")
    bpe.save(tmp_path / "bpe.json")
    char = CharTokenizer()
    char.build_vocab("ab")
    with pytest.raises(SerializationError, match="holds a 'BPETokenizer', not a CharTokenizer"):
        char.load(tmp_path / "bpe.json")
    assert char.vocab == ["<UNK>", "a", "b"]


def test_tampered_file_raises_and_leaves_instance_unchanged(tmp_path: Path) -> None:
    bpe = BPETokenizer(vocab_size=40)
    bpe.train("aaa bbb aaa")
    path = tmp_path / "bpe.json"
    bpe.save(path)
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["merges"].append(["q", "r"])        # a merge of tokens the vocabulary lacks
    path.write_text(json.dumps(payload), encoding="utf-8")
    before = (list(bpe.vocab), list(bpe.merges))
    with pytest.raises(SerializationError, match="not a valid BPETokenizer file") as info:
        bpe.load(path)
    assert_three_parts(str(info.value))
    assert (bpe.vocab, bpe.merges) == before


# --- Pre-tokenization -----------------------------------------------------------------------

def test_pretokenize_attaches_one_leading_space_and_keeps_every_character() -> None:
    text = "Hi  there,\nfriend_1 42!?  "
    pieces = pretokenize(text)
    assert pieces == ["Hi", " ", " there", ",", "\n", "friend", "_", "1", " 42", "!?", "  "]
    assert "".join(pieces) == text
    assert "".join(pretokenize(MIXED_TEXT)) == MIXED_TEXT


# --- BPETokenizer ---------------------------------------------------------------------------

def test_bpe_first_merges_on_a_tiny_corpus_match_hand_computation() -> None:
    # Pieces: "low", " lower", " lowest". Pair counts: (l,o)=3, (o,w)=3, (' ',l)=2, (w,e)=2, ...
    # The tie (l,o) vs (o,w) goes to the smaller pair; then (lo,w)=3; then (' ',low) and
    # (low,e) tie at 2 and ' ' < 'low'.
    tok = BPETokenizer(vocab_size=100)
    tok.train("low lower lowest")
    assert tok.merges[:3] == [("l", "o"), ("lo", "w"), (" ", "low")]
    assert tok.vocab[:9] == ["<UNK>", " ", "e", "l", "o", "r", "s", "t", "w"]
    assert tok.vocab[9:12] == ["lo", "low", " low"]
    assert tok.encode(" low") == [tok.token_to_id[" low"]]
    # No pair occurs twice after " lowe" is formed, so training stops early.
    assert tok.merges == [("l", "o"), ("lo", "w"), (" ", "low"), (" low", "e")]
    assert tok.vocab_size == 13 < 100


def test_bpe_merges_equal_a_naive_recount_reference() -> None:
    text = synthetic_corpus(4_000, seed=3)
    tok = BPETokenizer(vocab_size=400)
    tok.train(text)
    assert tok.merges == naive_bpe_merges(text, len(tok.merges) + 5)


def test_bpe_reduces_token_count_and_round_trips_training_text() -> None:
    text = synthetic_corpus(8_000, seed=1)
    tok = BPETokenizer(vocab_size=300)
    tok.train(text)
    ids = tok.encode(text)
    assert len(ids) < 0.5 * len(text)
    assert tok.decode(ids) == text


def test_bpe_round_trips_new_text_from_the_same_alphabet() -> None:
    tok = BPETokenizer(vocab_size=120)
    tok.train(MIXED_TEXT * 4)
    new_text = "  world, naïve\t猫🐍 — Hello\n\ncafé spaces double"
    assert set(new_text) <= set(MIXED_TEXT)
    ids = tok.encode(new_text)
    assert tok.unk_id not in ids
    assert tok.decode(ids) == new_text


def test_bpe_unknown_character_gives_unk() -> None:
    tok = BPETokenizer(vocab_size=50)
    tok.train("abab abab")
    ids = tok.encode("abzab")
    assert ids.count(tok.unk_id) == 1
    assert tok.decode(ids) == "ab<UNK>ab"
    assert tok.decode(ids, skip_special=True) == "abab"


def test_bpe_vocab_size_is_reached_when_enough_pairs_and_never_exceeded() -> None:
    text = synthetic_corpus(8_000, seed=2)
    for requested in (40, 150, 400):
        tok = BPETokenizer(vocab_size=requested)
        tok.train(text)
        assert tok.vocab_size == requested == len(tok.vocab)
        assert len(tok.token_to_id) == requested == len(tok.id_to_token)
        assert max(tok.encode(text)) < requested
    small = BPETokenizer(vocab_size=10_000)
    small.train("ab ab cd")
    assert small.vocab_size < 10_000


def test_bpe_special_tokens_are_reserved_and_never_merged() -> None:
    tok = BPETokenizer(vocab_size=60, special_tokens=("<PAD>", "<EOS>"))
    text = "<PAD> <PAD> <PAD> x <EOS><EOS>"
    tok.train(text)
    assert tok.vocab[:3] == ["<UNK>", "<PAD>", "<EOS>"]
    assert tok.token_to_id["<PAD>"] == 1
    ids = tok.encode(text)
    assert 1 not in ids and 2 not in ids        # text never becomes a special id
    assert tok.decode(ids) == text
    assert tok.decode([1, *tok.encode(" x"), 2], skip_special=True) == " x"


def test_bpe_never_learns_a_merge_that_spells_a_special_token() -> None:
    tok = BPETokenizer(vocab_size=60, special_tokens=("##",))
    text = "## ## ##x##"
    tok.train(text)                             # ("#", "#") is the most frequent pair
    assert ("#", "#") not in tok.merges
    assert tok.vocab.count("##") == 1
    ids = tok.encode(text)
    assert tok.token_to_id["##"] not in ids
    assert tok.decode(ids) == text


def test_bpe_training_is_deterministic_and_retraining_resets() -> None:
    text = synthetic_corpus(3_000, seed=4)
    first, second = BPETokenizer(vocab_size=200), BPETokenizer(vocab_size=200)
    first.train(text)
    second.train([text[:1500], text[1500:]])
    second.train(text)
    assert first.merges == second.merges and first.vocab == second.vocab


def test_bpe_train_accepts_upstream_vocab_size_argument() -> None:
    tok = BPETokenizer()
    tok.train(["hello world", "hello there", "world peace"], vocab_size=25)
    assert tok.vocab_size <= 25
    assert tok.max_vocab_size == 25
    assert tok.decode(tok.encode("hello world")) == "hello world"


def test_bpe_on_50kb_reaches_the_requested_vocab_size() -> None:
    text = synthetic_corpus(50_000)
    tok = BPETokenizer(vocab_size=1000)
    tok.train(text)
    assert tok.vocab_size == 1000
    assert len(tok.merges) >= 1000 - (1 + len(set(text)))    # base: UNK + the characters
    ids = tok.encode(text)
    assert len(ids) < len(text) / 2.5
    assert tok.decode(ids) == text


def test_bpe_errors_are_three_part() -> None:
    untrained = BPETokenizer(vocab_size=10)
    with pytest.raises(TinyTorchError, match="before train") as info:
        untrained.encode("abc")
    assert_three_parts(str(info.value))
    with pytest.raises(TinyTorchError, match="vocab_size >= 5"):
        BPETokenizer(vocab_size=4).train("abcd")
    with pytest.raises(TinyTorchError, match="positive integer"):
        BPETokenizer(vocab_size=0)
    trained = BPETokenizer(vocab_size=20)
    trained.train("abc abc")
    with pytest.raises(TinyTorchError, match="vocab_size is"):
        trained.decode([trained.vocab_size])


# --- Upstream helpers -----------------------------------------------------------------------

def test_create_tokenizer_and_dataset_helpers() -> None:
    corpus = ["hello world", "hello there"]
    char = create_tokenizer("char", corpus=corpus)
    assert isinstance(char, CharTokenizer) and char.vocab_size == 10
    bpe = create_tokenizer("bpe", vocab_size=30, corpus=corpus)
    assert isinstance(bpe, BPETokenizer) and bpe.vocab_size <= 30
    with pytest.raises(TinyTorchError, match="strategy"):
        create_tokenizer("word")
    assert tokenize_dataset(["hello", "he"], char, max_length=3) == [
        char.encode("hel"), char.encode("he")
    ]
    stats = analyze_tokenization(corpus, char)
    assert stats["total_tokens"] == 22 and stats["compression_ratio"] == 1.0
    assert stats["max_sequence_length"] == 11 and stats["unique_tokens"] == 9
