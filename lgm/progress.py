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
    """The log form of a bar: iterates like tqdm and prints ``desc: i/total (s)`` per unit."""

    def __init__(self, iterable: Iterable[Any], desc: str = "", total: int | None = None,
                 initial: int = 0, quiet: bool = False) -> None:
        self.iterable, self.desc, self.quiet = iterable, desc, quiet
        self.total = total if total is not None else _length(iterable)
        self.n, self.start = initial, time.time()

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable:
            yield item
            self.n += 1
            if not self.quiet:
                of = f"/{self.total}" if self.total is not None else ""
                print(f"{self.desc}: {self.n}{of} done ({time.time() - self.start:.1f} s)",
                      file=sys.stderr, flush=True)

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
