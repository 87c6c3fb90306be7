"""One progress bar for every long loop: a live bar in a terminal, a few clean lines in a log.

Where the output goes decides how progress looks:

- **A terminal or a notebook** gets a live bar, redrawn in place: tqdm's when tqdm is
  installed, otherwise a plain-ASCII bar redrawn with carriage returns.
- **Anything else** (a file, a pipe, a CI log) gets at most ``lines`` complete lines and no
  carriage returns, so the log reads cleanly. ``lines=0`` prints nothing there at all, for
  callers (such as ``Trainer.fit``) whose own summary lines are enough in a log.

Set ``TINYTORCH_PLAIN=1`` to treat a terminal like a log (a CI runner that allocates a pty).
The module needs only the standard library; tqdm is imported when a live bar is drawn.

Example:
    >>> import io
    >>> buffer = io.StringIO()
    >>> with Progress(4, "train", buffer, lines=2) as bar:
    ...     for step in range(4):
    ...         bar.update(loss=1.0 / (step + 1))
    >>> print(buffer.getvalue().strip())
    train [##########----------]  50%  2/4  loss 0.5000
    train [####################] 100%  4/4  loss 0.2500
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, TextIO

# Set to "1" to force the plain progress lines even on a terminal (e.g. a CI runner with a pty).
PLAIN_ENV = "TINYTORCH_PLAIN"

_COLUMNS = 80  # the ASCII live bar fits a classic terminal line
_REDRAW_SECONDS = 0.1  # redrawing more often only costs time; the eye cannot follow it


def interactive(out: TextIO) -> bool:
    """True when ``out`` is a terminal or a notebook (a redrawn bar looks like a bar there).

    Always False when the environment variable ``TINYTORCH_PLAIN`` is set to anything but
    "" or "0".
    """
    if os.environ.get(PLAIN_ENV, "") not in ("", "0"):
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


class Progress:
    """Count the steps of a loop and show how far it got, with the latest statistics.

    Call ``update`` once per step (``update(n)`` for n steps at once), passing numbers to show
    as keywords: ``bar.update(loss=0.31, test_acc=0.93)``. Statistics named ``acc`` or
    ``*_acc`` print as percentages, others with four decimals. Use it as a context manager, or
    call ``close`` at the end.

    Args:
        total: the number of steps, or None when unknown (an iterable without ``len``).
        desc: the label in front of the bar.
        out: the text stream to write to.
        unit: what one step is, for tqdm's rate ("step", "epoch", "batch").
        lines: outside a terminal, the most lines to print (evenly spread; the last one is
            always printed; with an unknown total, one line at the end). 0 prints nothing
            outside a terminal.
        leave: keep the finished live bar on screen (True) or erase it (False).
    """

    def __init__(self, total: int | None, desc: str, out: TextIO, unit: str = "step",
                 lines: int = 10, leave: bool = True) -> None:
        self.total = None if total is None else max(int(total), 1)
        self.desc, self.out, self.unit, self.leave = desc, out, unit, leave
        self.count = 0
        self.lines = max(int(lines), 0)
        self._text = ""  # the latest statistics, formatted
        self._live = interactive(out)
        self._bar: Any = self._tqdm() if self._live else None
        self._last_draw, self._drawn = -math.inf, 0  # when, and at which count, last drawn
        self._next_report = 1
        self._closed = False
        self._every = max(1, math.ceil((self.total or 1) / max(self.lines, 1)))

    def _tqdm(self) -> Any:
        """tqdm's bar, or None when tqdm is not installed (the ASCII bar is drawn instead)."""
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        return tqdm(total=self.total, desc=self.desc, unit=self.unit, file=self.out,
                    leave=self.leave, dynamic_ncols=True)

    def update(self, n: int = 1, **stats: float) -> None:
        """Advance by ``n`` steps and show the latest statistics."""
        self.count += n
        self._text = "  ".join(_stat(name, value) for name, value in stats.items())
        if self._bar is not None:
            self._bar.set_postfix_str(self._text, refresh=False)
            self._bar.update(n)
        elif self._live:
            self._redraw()
        elif self.lines and self.total is not None:
            self._print_line()

    def close(self) -> None:
        """Finish the bar: close tqdm's, or end (or erase) the ASCII one. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._live:
            if self.leave:
                if self._drawn != self.count:  # a throttled last step: show the final state
                    self._redraw(force=True)
                self.out.write("\n")
            else:
                self.out.write("\r" + " " * (_COLUMNS - 1) + "\r")  # a clean line for what follows
            self.out.flush()
        elif self.lines and self.total is None and self.count:
            self.out.write(f"{self.desc} {self.count}/?  {self._text}".rstrip() + "\n")
            self.out.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _redraw(self, force: bool = False) -> None:
        """Redraw the ASCII live bar in place (at most every 0.1 s, except the final state)."""
        now = time.perf_counter()
        if not force and now - self._last_draw < _REDRAW_SECONDS and self.count != self.total:
            return
        self._last_draw, self._drawn = now, self.count
        if self.total is not None:
            filled = int(30 * min(self.count, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total}"
        else:
            bar = f"{self.count}/?"
        self.out.write(f"\r{self.desc} {bar} {self._text}"[:_COLUMNS].ljust(_COLUMNS))
        self.out.flush()

    def _print_line(self) -> None:
        """Print one complete line when the count reaches the next of the evenly spread marks."""
        total = self.total
        if total is None or (self.count < self._next_report * self._every
                             and self.count < total):
            return
        self._next_report = self.count // self._every + 1
        done = min(self.count, total)
        filled, percent = round(20 * done / total), round(100 * done / total)
        line = (f"{self.desc} [{'#' * filled}{'-' * (20 - filled)}] {percent:3d}%  "
                f"{self.count}/{total}")
        self.out.write(f"{line}  {self._text}\n" if self._text else f"{line}\n")
        self.out.flush()


def _stat(name: str, value: float) -> str:
    """'acc' and names ending in '_acc' print as percentages, other numbers with 4 decimals."""
    if name == "acc" or name.endswith("_acc"):
        return f"{name} {100.0 * value:.1f}%"
    return f"{name} {value:.4f}"


__all__ = ["PLAIN_ENV", "Progress", "interactive"]
