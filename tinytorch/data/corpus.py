"""The shipped question/answer corpus for the language milestones (a TinyGPT learns from it).

The text was written for this project (see ``scripts/build_corpus.py``): hundreds of
short pairs, each ``Q: question`` then ``A: answer`` on the next line, then a blank line.
"""

from __future__ import annotations

from pathlib import Path

from tinytorch.core.errors import SerializationError, explain

CORPUS_PATH = Path(__file__).with_name("corpus.txt")


def load_corpus() -> str:
    """Return the whole corpus as one ASCII string.

    Example:
        >>> load_corpus()[:3]
        'Q: '
    """
    try:
        return CORPUS_PATH.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SerializationError(explain(
            what=f"the shipped corpus {CORPUS_PATH} could not be read ({exc})",
            why="tinytorch ships corpus.txt as plain ASCII inside the package",
            fix="reinstall tinytorch, or run scripts/build_corpus.py to rebuild the file",
        )) from exc


def load_qa_pairs() -> list[tuple[str, str]]:
    """Return the corpus as ``(question, answer)`` pairs, without the ``Q: ``/``A: `` prefixes.

    Raises:
        SerializationError: a block of the file is not one ``Q:`` line followed by one ``A:`` line.

    Example:
        >>> question, answer = load_qa_pairs()[0]
        >>> question.endswith("?")
        True
    """
    pairs = []
    for number, block in enumerate(load_corpus().strip().split("\n\n"), start=1):
        lines = block.split("\n")
        if len(lines) != 2 or not lines[0].startswith("Q: ") or not lines[1].startswith("A: "):
            raise SerializationError(explain(
                what=f"block {number} of {CORPUS_PATH} is {block!r}",
                why="every block must be a 'Q: ...' line and an 'A: ...' line",
                fix="restore the shipped corpus.txt (scripts/build_corpus.py rebuilds it)",
            ))
        pairs.append((lines[0][3:], lines[1][3:]))
    return pairs
