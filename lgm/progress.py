"""Progress: a tqdm bar on a terminal, one line per finished unit in a log.

``LGM_PROGRESS=0`` silences both. Inner loops (``leave=False``: the epochs of one task, the steps
of one fit) show a bar on a terminal and print nothing in a log, so a log holds one line per
finished task or run, with its elapsed time.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm import tqdm


class LogLines:
    """The log form of a bar: iterates like tqdm and prints, per finished unit, ``desc:
    i/total done (elapsed s; this one s; about s left)``; what is left is the mean time of the
    units done here times the units to go."""

    def __init__(self, iterable: Iterable[Any], desc: str = "", total: int | None = None,
                 initial: int = 0, quiet: bool = False) -> None:
        self.iterable, self.desc, self.quiet = iterable, desc, quiet
        self.total = total if total is not None else _length(iterable)
        self.n, self.initial, self.start = initial, initial, time.time()

    def line(self, now: float, last: float) -> str:
        """The log line after unit ``self.n`` (finished at ``now``, started at ``last``)."""
        elapsed = now - self.start
        text = f"{self.desc}: {self.n}{f'/{self.total}' if self.total else ''} done " \
               f"({elapsed:.1f} s; this one {now - last:.1f} s"
        if self.total:
            left = elapsed / (self.n - self.initial) * (self.total - self.n)
            text += f"; about {left:.0f} s left"
        return text + ")"

    def __iter__(self) -> Iterator[Any]:
        last = self.start
        for item in self.iterable:
            yield item
            self.n += 1
            now = time.time()
            if not self.quiet:
                print(self.line(now, last), file=sys.stderr, flush=True)
            last = now

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        """Bars show their postfix; a log line does not."""

    def close(self) -> None:
        """Nothing to clear in a log."""


def _length(iterable: Iterable[Any]) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None


def progress(iterable: Iterable[Any], **kwargs: Any) -> Any:
    """tqdm over ``iterable`` on a terminal; one line per unit otherwise (none for inner loops,
    ``leave=False``); nothing with LGM_PROGRESS=0."""
    if os.environ.get("LGM_PROGRESS", "1") == "0":
        return tqdm(iterable, disable=True, **kwargs)
    if sys.stderr.isatty():
        return tqdm(iterable, dynamic_ncols=True, **kwargs)
    return LogLines(iterable, desc=kwargs.get("desc", ""), total=kwargs.get("total"),
                    initial=kwargs.get("initial", 0), quiet=kwargs.get("leave", True) is False)
