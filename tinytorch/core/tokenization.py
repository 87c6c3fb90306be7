"""Module 10 - tokenization: turn text into integer ids a model can embed, and back.

Two tokenizers share one interface (``encode``, ``decode``, ``vocab_size``, ``save``, ``load``):

- ``CharTokenizer`` gives every character its own id: a tiny vocabulary, long sequences.
- ``BPETokenizer`` (byte-pair encoding, character-level base) starts from characters and
  repeatedly merges the most frequent neighbouring pair into a new token, so common words
  become one id: a larger vocabulary, much shorter sequences.

Id 0 is always the unknown token ``<UNK>``: a character the vocabulary never saw encodes to
it. Optional special tokens (``<PAD>``, ``<BOS>``, ``<EOS>``, ...) take the next ids; they are
never produced from text, only added by the caller, and never take part in merges. For any
text made only of characters in the vocabulary, ``decode(encode(text)) == text`` exactly,
spaces, newlines and all.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import types
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from tinytorch.core.errors import (
    ConfigError,
    DTypeError,
    IndexOutOfRangeError,
    SerializationError,
    ShapeError,
    TinyTorchError,
    explain,
)
from tinytorch.core.serialization import atomic_write_text, existing_file

UNK_TOKEN = "<UNK>"
_FILE_FORMAT = "tinytorch-tokenizer"
_FILE_VERSION = 1
_CACHE_LIMIT = 100_000          # pieces remembered by BPETokenizer.encode before it starts afresh

Pair = tuple[str, str]


# --- Shared helpers -------------------------------------------------------------------------

def _as_texts(corpus: str | Iterable[str], who: str) -> list[str]:
    """Accept one string or an iterable of strings; return a list of strings."""
    if isinstance(corpus, str):
        return [corpus]
    texts = list(corpus) if isinstance(corpus, Iterable) else [corpus]
    for text in texts:
        if not isinstance(text, str):
            raise DTypeError(explain(
                what=f"{who} got a corpus containing {type(text).__name__} ({text!r:.40})",
                why="a corpus is one string or a list of strings",
                fix="convert the items to str, e.g. [str(x) for x in corpus]",
            ))
    return texts


def _check_text(text: object, who: str) -> str:
    """Return ``text`` if it is a string, else raise a three-part DTypeError."""
    if not isinstance(text, str):
        raise DTypeError(explain(
            what=f"{who}.encode got {type(text).__name__} ({text!r:.40})",
            why="encode turns one string into ids",
            fix="pass a str; for a list of texts use [tokenizer.encode(t) for t in texts]",
        ))
    return text


def _check_special_tokens(unk_token: str, special_tokens: Iterable[str]) -> tuple[str, ...]:
    """Validate the reserved tokens: non-empty, distinct strings."""
    specials = tuple(special_tokens)
    reserved = (unk_token, *specials)
    if any(not isinstance(t, str) or not t for t in reserved) or len(set(reserved)) < len(reserved):
        raise ConfigError(explain(
            what=f"unk_token={unk_token!r} with special_tokens={specials!r}",
            why="reserved tokens must be distinct, non-empty strings",
            fix="pass e.g. special_tokens=('<PAD>', '<BOS>', '<EOS>')",
        ))
    return specials


def _check_ids(ids: object, vocab_size: int, who: str) -> list[int]:
    """Return ``ids`` (list, tuple, array, Tensor or one int) as a list of valid token ids."""
    arr = np.asarray(ids)
    if arr.ndim > 1:
        raise ShapeError(explain(
            what=f"{who}.decode got ids of shape {arr.shape}",
            why="decode turns one sequence of ids into one string",
            fix="decode each row separately: [tokenizer.decode(row) for row in ids]",
        ))
    valid: list[int] = []
    for value in arr.reshape(-1).tolist():
        if isinstance(value, float) and value.is_integer():
            value = int(value)                  # 3.0 from a float array is the id 3
        if not isinstance(value, int) or isinstance(value, bool):
            raise DTypeError(explain(
                what=f"{who}.decode got {value!r} ({type(value).__name__}) as a token id",
                why="token ids are whole numbers",
                fix="pass integer ids, e.g. logits.argmax(-1) rather than probabilities",
            ))
        if not 0 <= value < vocab_size:
            raise IndexOutOfRangeError(explain(
                what=f"{who}.decode got token id {value}, but vocab_size is {vocab_size}",
                why=f"valid ids are 0 .. {vocab_size - 1}; anything else has no token",
                fix="decode only ids this tokenizer produced, or load the tokenizer they came from",
            ))
        valid.append(value)
    return valid


def _join(ids: list[int], vocab: Sequence[str], special_ids: frozenset[int], skip: bool) -> str:
    """Concatenate the tokens of ``ids``, leaving out special tokens when ``skip``."""
    if skip:
        return "".join(vocab[i] for i in ids if i not in special_ids)
    return "".join([vocab[i] for i in ids])


class _ClassOrInstanceMethod:
    """A method bound to the instance when called on one, and to the class otherwise.

    ``Tokenizer.load(path)`` then builds a new tokenizer, while ``tok.load(path)`` fills
    ``tok`` in place, as ``load_state_dict`` does: neither call silently does nothing.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        self.__func__ = func
        self.__doc__ = func.__doc__

    def __get__(self, obj: object, owner: type | None = None) -> Callable[..., Any]:
        return types.MethodType(self.__func__, owner if obj is None else obj)


# --- The interface --------------------------------------------------------------------------

class Tokenizer:
    """Base class: ``encode`` text to a list of ids, ``decode`` ids back to text."""

    vocab: list[str]

    def encode(self, text: str) -> list[int]:
        """Turn ``text`` into a list of token ids."""
        raise NotImplementedError(f"{type(self).__name__} must implement encode(text)")

    def decode(self, ids: Sequence[int]) -> str:
        """Turn a sequence of token ids back into text."""
        raise NotImplementedError(f"{type(self).__name__} must implement decode(ids)")

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids: every id ``encode`` returns is in ``range(vocab_size)``."""
        declared = self.__dict__.get("_declared_vocab_size")
        return declared if declared is not None else len(self.vocab)

    @vocab_size.setter
    def vocab_size(self, value: int) -> None:
        # Tokenizers written against upstream's base class set vocab_size as a plain attribute.
        self._declared_vocab_size = int(value)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write this tokenizer to ``path`` as JSON, atomically."""
        payload = {"format": _FILE_FORMAT, "version": _FILE_VERSION, "type": type(self).__name__}
        payload.update(self._to_json())
        atomic_write_text(path, json.dumps(payload, indent=1) + "\n")

    @_ClassOrInstanceMethod
    def load(
        target: Tokenizer | type[Tokenizer],  # noqa: N805  (a class, or an instance)
        path: str | os.PathLike[str],
    ) -> Tokenizer:
        """Read a tokenizer saved by ``save``: a new one from a class, in place on an instance.

        ``Tokenizer.load(path)`` returns whichever kind the file holds; ``CharTokenizer.load``
        insists on a CharTokenizer file. A missing, corrupt or mismatched file raises
        SerializationError and, when loading in place, leaves the tokenizer unchanged.
        """
        payload = _read_tokenizer_file(path)
        cls = target if isinstance(target, type) else type(target)
        kind = payload.get("type")
        if target is Tokenizer:                 # the base class reads any kind it knows
            cls = _TOKENIZER_TYPES.get(str(kind), Tokenizer)
        if kind != cls.__name__ or cls is Tokenizer:
            raise SerializationError(explain(
                what=f"{str(path)!r} holds a {kind!r}, not a {cls.__name__}",
                why="a tokenizer file can only be loaded into the kind of tokenizer that saved it",
                fix=f"use Tokenizer.load({str(path)!r}) to get whichever kind the file holds",
            ))
        try:
            fresh = cls._from_json(payload)
        except (TinyTorchError, KeyError, TypeError, ValueError) as exc:
            raise SerializationError(explain(
                what=f"{str(path)!r} is not a valid {kind} file ({exc})",
                why="the file is corrupt or was edited by hand",
                fix="save the tokenizer again, or train it anew",
            )) from exc
        if isinstance(target, type):
            return fresh
        # Everything was validated on `fresh`, so a bad file cannot leave `target` half-loaded.
        target.__dict__.clear()
        target.__dict__.update(vars(fresh))
        return target

    def _to_json(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not support save()")

    @classmethod
    def _from_json(cls, payload: dict[str, Any]) -> Tokenizer:
        raise NotImplementedError(f"{cls.__name__} does not support load()")


def _refuse_vocab_size(tok: Tokenizer, value: int, how: str) -> None:
    """Explain why ``vocab_size`` of a built-in tokenizer cannot be assigned."""
    raise ConfigError(explain(
        what=f"cannot set vocab_size={value!r} on {type(tok).__name__}",
        why="vocab_size is the length of the vocabulary, not a setting",
        fix=f"change the vocabulary instead: {how}",
    ))


def _read_tokenizer_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a tokenizer JSON file, raising three-part SerializationErrors."""
    source = existing_file(path, "tokenizer")
    try:
        payload = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationError(explain(
            what=f"{str(source)!r} is not valid JSON ({exc})",
            why="the file is corrupt, truncated, or not a tokenizer file",
            fix="save the tokenizer again, or point to the right file",
        )) from exc
    if not isinstance(payload, dict) or payload.get("format") != _FILE_FORMAT:
        raise SerializationError(explain(
            what=f"{str(source)!r} is JSON but not a tinytorch tokenizer file",
            why=f"tokenizer files carry \"format\": \"{_FILE_FORMAT}\"",
            fix="point to a file written by Tokenizer.save",
        ))
    if payload.get("version") != _FILE_VERSION:
        raise SerializationError(explain(
            what=f"{str(source)!r} has format version {payload.get('version')!r}",
            why=f"this tinytorch reads version {_FILE_VERSION}",
            fix="save the tokenizer again with this version of tinytorch",
        ))
    return payload


def _string_list(value: object, name: str) -> list[str]:
    """Return ``value`` if it is a list of strings, else raise ValueError naming the field."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"field {name!r} must be a list of strings")
    return value


# --- Character-level ------------------------------------------------------------------------

class CharTokenizer(Tokenizer):
    """One id per character: ``<UNK>`` is 0, special tokens next, then the characters.

    Args:
        vocab: characters to know from the start, in id order (upstream's argument);
            ``build_vocab`` replaces them. Entries longer than one character can never be
            produced from text, so they are treated as special tokens.
        special_tokens: extra reserved tokens such as ``("<PAD>", "<BOS>", "<EOS>")``,
            given ids 1, 2, ... Default: none, only ``<UNK>``.
        unk_token: the text of the unknown token.

    Example:
        >>> tok = CharTokenizer()
        >>> tok.build_vocab("hello")
        >>> tok.vocab, tok.encode("hole!")
        (['<UNK>', 'e', 'h', 'l', 'o'], [2, 4, 3, 1, 0])
        >>> tok.decode(tok.encode("hello"))
        'hello'
    """

    def __init__(
        self,
        vocab: Iterable[str] | None = None,
        special_tokens: Iterable[str] = (),
        unk_token: str = UNK_TOKEN,
    ) -> None:
        self.unk_token = unk_token
        self.special_tokens = _check_special_tokens(unk_token, special_tokens)
        self.unk_id = 0
        self._set_vocab(list(vocab) if vocab is not None else [])

    def build_vocab(self, corpus: str | Iterable[str]) -> None:
        """Make the vocabulary the sorted set of characters in ``corpus`` (a str or list of str)."""
        texts = _as_texts(corpus, "CharTokenizer.build_vocab")
        self._set_vocab(sorted(set().union(*texts)))

    def _set_vocab(self, symbols: list[str]) -> None:
        bad = next((s for s in symbols if not isinstance(s, str) or not s), None)
        if bad is not None:
            raise DTypeError(explain(
                what=f"CharTokenizer vocab contains {bad!r}",
                why="every vocabulary entry is a non-empty string (normally one character)",
                fix="pass a list of characters, e.g. list('abc')",
            ))
        reserved = [self.unk_token, *self.special_tokens]
        # dict.fromkeys drops repeats but keeps the order the caller chose.
        self.vocab = list(dict.fromkeys(reserved + symbols))
        self.char_to_id = {token: i for i, token in enumerate(self.vocab)}
        self.id_to_char = dict(enumerate(self.vocab))
        self._special_ids = frozenset(
            i for i, token in enumerate(self.vocab) if i < len(reserved) or len(token) != 1
        )

    @property
    def vocab_size(self) -> int:
        """Number of ids: ``<UNK>`` + special tokens + characters."""
        return len(self.vocab)

    @vocab_size.setter
    def vocab_size(self, value: int) -> None:
        _refuse_vocab_size(self, value, "build_vocab(corpus)")

    @property
    def token_to_id(self) -> dict[str, int]:
        """Same as ``char_to_id`` (the name BPETokenizer uses)."""
        return self.char_to_id

    @property
    def id_to_token(self) -> dict[int, str]:
        """Same as ``id_to_char`` (the name BPETokenizer uses)."""
        return self.id_to_char

    def encode(self, text: str) -> list[int]:
        """One id per character of ``text``; characters outside the vocabulary give ``unk_id``."""
        lookup = self.char_to_id.get
        return [lookup(ch, self.unk_id) for ch in _check_text(text, "CharTokenizer")]

    def decode(self, ids: Sequence[int], skip_special: bool = False) -> str:
        """Join the tokens of ``ids``; ``skip_special=True`` leaves out ``<UNK>`` and specials."""
        valid = _check_ids(ids, len(self.vocab), "CharTokenizer")
        return _join(valid, self.vocab, self._special_ids, skip_special)

    def _to_json(self) -> dict[str, Any]:
        return {"unk_token": self.unk_token, "special_tokens": list(self.special_tokens),
                "vocab": self.vocab}

    @classmethod
    def _from_json(cls, payload: dict[str, Any]) -> CharTokenizer:
        specials = _string_list(payload["special_tokens"], "special_tokens")
        vocab = _string_list(payload["vocab"], "vocab")
        tok = cls(vocab[1 + len(specials):], specials, payload["unk_token"])
        if tok.vocab != vocab:
            raise ValueError("vocab must hold unk_token, special_tokens, then distinct symbols")
        return tok


# --- Byte-pair encoding ---------------------------------------------------------------------

# One piece per word, number, run of punctuation or run of whitespace. A single space before a
# word, number or punctuation run stays *inside* that piece (" world"), as in GPT-2, so merges
# learn word starts. Each character belongs to exactly one of these classes, so the pieces
# always join back into the original text. ("\w" counts "_" as a letter; here it is punctuation.)
_PIECE_PATTERN = re.compile(
    r" ?[^\W\d_]+"          # letters, any script
    r"| ?\d+"               # digits
    r"| ?(?:[^\s\w]|_)+"    # punctuation and symbols
    r"|\s+(?!\S)"           # whitespace, leaving its last space to the word after it
    r"|\s+"
)


def pretokenize(text: str) -> list[str]:
    """Split ``text`` into the pieces BPE merges within; ``"".join(pieces) == text``.

    Example:
        >>> pretokenize("Hi  there,\\nfriend 42!")
        ['Hi', ' ', ' there', ',', '\\n', 'friend', ' 42', '!']
    """
    return _PIECE_PATTERN.findall(text)


def _merge_pair(symbols: list[str], pair: Pair, merged: str) -> list[str]:
    """Replace each occurrence of ``pair`` in ``symbols``, scanning left to right."""
    first, second = pair
    out: list[str] = []
    i, n = 0, len(symbols)
    while i < n:
        if i + 1 < n and symbols[i] == first and symbols[i + 1] == second:
            out.append(merged)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


class _PairStats:
    """Pair counts over a corpus of distinct words, kept current as merges are applied.

    Each distinct word is stored once with its frequency. ``where[pair]`` lists the words that
    contain ``pair``, so a merge rewrites only those words and adjusts only their pairs'
    counts: no recount of the corpus per merge. A max-heap of ``(-count, pair)`` finds the best
    pair; an entry whose count is out of date is skipped when popped (a fresh one was pushed).
    """

    def __init__(self, word_counts: Counter[str]) -> None:
        self.words = [list(word) for word in word_counts]
        self.freqs = list(word_counts.values())
        self.counts: Counter[Pair] = Counter()
        self.where: defaultdict[Pair, set[int]] = defaultdict(set)
        for index, (symbols, freq) in enumerate(zip(self.words, self.freqs, strict=True)):
            for pair in pairwise(symbols):
                self.counts[pair] += freq
                self.where[pair].add(index)
        # Ties go to the smallest pair (tuples compare lexicographically): reproducible training.
        self.heap = [(-count, pair) for pair, count in self.counts.items()]
        heapq.heapify(self.heap)

    def pop_best(self) -> tuple[Pair, int] | None:
        """Remove and return the most frequent pair with its count (None when none is left)."""
        while self.heap:
            neg_count, pair = heapq.heappop(self.heap)
            if self.counts.get(pair, 0) == -neg_count:
                return pair, -neg_count
        return None

    def merge(self, pair: Pair, merged: str) -> None:
        """Merge ``pair`` into ``merged`` in every word holding it; update counts and heap."""
        changed: set[Pair] = set()
        for index in self.where.pop(pair, ()):
            old, freq = self.words[index], self.freqs[index]
            new = _merge_pair(old, pair, merged)
            old_pairs, new_pairs = list(pairwise(old)), list(pairwise(new))
            for p in old_pairs:
                self.counts[p] -= freq
            for p in new_pairs:
                self.counts[p] += freq
            for p in set(old_pairs) - set(new_pairs) - {pair}:
                self.where[p].discard(index)
            for p in new_pairs:
                self.where[p].add(index)
            changed.update(old_pairs, new_pairs)
            self.words[index] = new
        self.counts.pop(pair, None)
        for p in changed - {pair}:
            if self.counts[p] > 0:
                heapq.heappush(self.heap, (-self.counts[p], p))


class BPETokenizer(Tokenizer):
    """Byte-pair encoding over characters: frequent neighbouring tokens merge into one.

    ``train`` starts from the characters of the corpus and learns merges, most frequent pair
    first (ties: the lexicographically smallest pair), until the vocabulary has ``vocab_size``
    tokens or no pair occurs twice. Merges never cross piece boundaries (see ``pretokenize``).

    Args:
        vocab_size: the most ids the trained vocabulary may have, ``<UNK>`` and specials
            included (``max_vocab_size``); ``vocab_size`` reports the actual size.
        special_tokens: reserved tokens such as ``("<PAD>", "<BOS>", "<EOS>")``, ids 1, 2, ...
        unk_token: the text of the unknown token (id 0).

    Example:
        >>> tok = BPETokenizer(vocab_size=12)
        >>> tok.train("low lower lowest")
        >>> tok.merges[:3]
        [('l', 'o'), ('lo', 'w'), (' ', 'low')]
        >>> tok.decode(tok.encode("slow owl")) == "slow owl"
        True
    """

    def __init__(
        self,
        vocab_size: int = 1000,
        special_tokens: Iterable[str] = (),
        unk_token: str = UNK_TOKEN,
    ) -> None:
        self.max_vocab_size = self._check_size(vocab_size)
        self.unk_token = unk_token
        self.special_tokens = _check_special_tokens(unk_token, special_tokens)
        self.unk_id = 0
        self.merges: list[Pair] = []
        self.trained = False
        self._set_vocab([unk_token, *self.special_tokens])

    @staticmethod
    def _check_size(vocab_size: object) -> int:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) \
                or vocab_size < 1:
            raise ConfigError(explain(
                what=f"BPETokenizer got vocab_size={vocab_size!r}",
                why="vocab_size is the largest number of ids, a positive integer",
                fix="pass e.g. vocab_size=1000",
            ))
        return int(vocab_size)

    def _set_vocab(self, tokens: list[str]) -> None:
        self.vocab = tokens
        self.token_to_id = {token: i for i, token in enumerate(tokens)}
        self.id_to_token = dict(enumerate(tokens))
        self._special_ids = frozenset(range(1 + len(self.special_tokens)))
        self._ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """Number of ids in the current vocabulary (at most ``max_vocab_size``)."""
        return len(self.vocab)

    @vocab_size.setter
    def vocab_size(self, value: int) -> None:
        _refuse_vocab_size(self, value, "train(corpus, vocab_size=...)")

    def train(self, corpus: str | Iterable[str], vocab_size: int | None = None) -> None:
        """Learn the alphabet and merges of ``corpus`` (a str or a list of str).

        ``vocab_size``, if given, replaces the size chosen at construction (upstream's argument).
        """
        if vocab_size is not None:
            self.max_vocab_size = self._check_size(vocab_size)
        texts = _as_texts(corpus, "BPETokenizer.train")
        word_counts = Counter(piece for text in texts for piece in pretokenize(text))
        reserved = {self.unk_token, *self.special_tokens}
        alphabet = sorted({ch for word in word_counts for ch in word} - reserved)
        base = [self.unk_token, *self.special_tokens, *alphabet]
        if len(base) > self.max_vocab_size:
            raise ConfigError(explain(
                what=f"vocab_size={self.max_vocab_size}, but the corpus has {len(alphabet)} "
                     f"distinct characters (+{len(base) - len(alphabet)} reserved tokens)",
                why="every character of the corpus needs an id before any merge",
                fix=f"ask for vocab_size >= {len(base)}, or use CharTokenizer",
            ))
        self.merges, new_tokens = self._learn_merges(word_counts, base, reserved)
        self.trained = True
        self._set_vocab(base + new_tokens)

    def _learn_merges(
        self, word_counts: Counter[str], base: list[str], reserved: set[str]
    ) -> tuple[list[Pair], list[str]]:
        """Greedy merge loop; returns the merges in order and the new tokens they created."""
        stats = _PairStats(word_counts)
        known = set(base)
        merges: list[Pair] = []
        new_tokens: list[str] = []
        while len(base) + len(new_tokens) < self.max_vocab_size:
            best = stats.pop_best()
            if best is None or best[1] < 2:
                break                           # a pair seen once teaches nothing general
            pair, _ = best
            merged = pair[0] + pair[1]
            if merged in reserved:
                continue                        # a text "<PAD>" must not become the PAD id
            merges.append(pair)
            if merged not in known:             # ("a","bc") and ("ab","c") share one token
                known.add(merged)
                new_tokens.append(merged)
            stats.merge(pair, merged)
        return merges, new_tokens

    def _encode_piece(self, piece: str) -> list[int]:
        """Ids of one pre-tokenized piece, applying merges lowest rank first (cached)."""
        ids = self._cache.get(piece)
        if ids is None:
            symbols, ranks, never = list(piece), self._ranks, len(self._ranks)
            while len(symbols) > 1:
                best = min(pairwise(symbols), key=lambda p: ranks.get(p, never))
                if best not in ranks:
                    break
                symbols = _merge_pair(symbols, best, best[0] + best[1])
            lookup = self.token_to_id.get
            ids = [lookup(symbol, self.unk_id) for symbol in symbols]
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()             # bounded memory on an endless stream of text
            self._cache[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``: pieces merged as in training; unknown characters give ``unk_id``."""
        text = _check_text(text, "BPETokenizer")
        if not self.trained:
            raise ConfigError(explain(
                what="BPETokenizer.encode was called before train()",
                why="an untrained BPE tokenizer knows no characters and no merges",
                fix="call tokenizer.train(corpus) first, or Tokenizer.load(path)",
            ))
        ids: list[int] = []
        for piece in pretokenize(text):
            ids.extend(self._encode_piece(piece))
        return ids

    def decode(self, ids: Sequence[int], skip_special: bool = False) -> str:
        """Join the tokens of ``ids``; ``skip_special=True`` leaves out ``<UNK>`` and specials."""
        valid = _check_ids(ids, len(self.vocab), "BPETokenizer")
        return _join(valid, self.vocab, self._special_ids, skip_special)

    def _to_json(self) -> dict[str, Any]:
        return {"unk_token": self.unk_token, "special_tokens": list(self.special_tokens),
                "max_vocab_size": self.max_vocab_size, "trained": self.trained,
                "vocab": self.vocab, "merges": [list(pair) for pair in self.merges]}

    @classmethod
    def _from_json(cls, payload: dict[str, Any]) -> BPETokenizer:
        specials = _string_list(payload["special_tokens"], "special_tokens")
        vocab = _string_list(payload["vocab"], "vocab")
        tok = cls(payload["max_vocab_size"], specials, payload["unk_token"])
        if vocab[: 1 + len(specials)] != tok.vocab or len(set(vocab)) != len(vocab):
            raise ValueError("vocab must hold unk_token, then special_tokens, then distinct tokens")
        if len(vocab) > tok.max_vocab_size:
            raise ValueError(f"{len(vocab)} tokens exceed max_vocab_size={tok.max_vocab_size}")
        merges = [tuple(_string_list(m, "merges item")) for m in payload["merges"]]
        known = set(vocab[1 + len(specials):])
        if any(len(m) != 2 or m[0] not in known or m[1] not in known or m[0] + m[1] not in known
               for m in merges):
            raise ValueError("each merge must join two tokens of the vocabulary into a third")
        tok.merges = merges                     # type: ignore[assignment]  # checked: pairs
        tok.trained = bool(payload["trained"])
        tok._set_vocab(vocab)
        return tok


_TOKENIZER_TYPES: dict[str, type[Tokenizer]] = {
    "CharTokenizer": CharTokenizer,
    "BPETokenizer": BPETokenizer,
}


# --- Upstream-compatible names ------------------------------------------------------------

def create_tokenizer(
    strategy: str = "char", vocab_size: int = 1000, corpus: str | list[str] | None = None
) -> Tokenizer:
    """Build a ``"char"`` or ``"bpe"`` tokenizer, fitted to ``corpus`` when one is given."""
    if strategy == "char":
        char_tok = CharTokenizer()
        if corpus:
            char_tok.build_vocab(corpus)
        return char_tok
    if strategy == "bpe":
        bpe_tok = BPETokenizer(vocab_size=vocab_size)
        if corpus:
            bpe_tok.train(corpus)
        return bpe_tok
    raise ConfigError(explain(
        what=f"create_tokenizer got strategy={strategy!r}",
        why="the strategies are 'char' and 'bpe'",
        fix="pass strategy='char' or strategy='bpe'",
    ))


def tokenize_dataset(
    texts: Iterable[str], tokenizer: Tokenizer, max_length: int | None = None
) -> list[list[int]]:
    """Encode each text, cutting each id list to ``max_length`` when given."""
    encoded = [tokenizer.encode(text) for text in texts]
    return [ids[:max_length] for ids in encoded] if max_length else encoded


def analyze_tokenization(texts: Sequence[str], tokenizer: Tokenizer) -> dict[str, float]:
    """Measure a tokenizer on ``texts``: sequence lengths, unique ids, characters per token."""
    lengths, seen, chars = [], set(), 0
    for text in texts:
        ids = tokenizer.encode(text)
        lengths.append(len(ids))
        seen.update(ids)
        chars += len(text)
    total = sum(lengths)
    return {
        "vocab_size": tokenizer.vocab_size,
        "avg_sequence_length": float(np.mean(lengths)) if lengths else 0.0,
        "max_sequence_length": max(lengths, default=0),
        "total_tokens": total,
        "compression_ratio": chars / total if total else 0.0,
        "unique_tokens": len(seen),
    }
