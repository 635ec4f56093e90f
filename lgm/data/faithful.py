"""The Old Faithful geyser data (KD paper, section 4 and appendix H: the Helmholtz machine).

272 eruptions of the Old Faithful geyser (Yellowstone), two columns: ``eruptions`` (duration,
minutes) and ``waiting`` (time to the next eruption, minutes). Source: R's
``datasets::faithful`` (Härdle 1991); a copy ships with this package
(``lgm/data/files/old_faithful.csv``, its source in the file's ``#`` header lines), so the
Helmholtz-machine experiment needs no download.

The model sees the data standardised with the constants of the authors' code (the population
mean and standard deviation of the 272 rows)::

    y1 = (eruptions - 3.48778) / 1.13927       y2 = (waiting - 70.89706) / 13.56996

The Helmholtz machine's y1 is the eruption duration and y2 the waiting time (appendix H,
fig. 4c), so a standardised row is ``(y1, y2)`` in that column order.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from lgm.data.fingerprint import PACKAGE_ROOT, note_read, relative_path
from lgm.errors import LgmError

PACKAGED_CSV = Path(__file__).resolve().parent / "files" / "old_faithful.csv"
COLUMNS = ("eruptions", "waiting")
N_ROWS = 272
MEAN = (3.48778, 70.89706)  # eruptions, waiting (minutes): the reference code's constants
STD = (1.13927, 13.56996)
SOURCE = "Old Faithful geyser, 272 eruptions (R datasets::faithful, Härdle 1991)"


class FaithfulFormatError(LgmError, ValueError):
    """The CSV is not the Old Faithful table (the message names the file and the line)."""


@dataclass(frozen=True)
class FaithfulData:
    """The table in minutes (``raw``, [N, 2]: eruptions, waiting) and where it came from."""

    raw: Tensor
    source: str

    @property
    def standardised(self) -> Tensor:
        """[N, 2] = (y1, y2): duration and waiting in the model's standardised units."""
        return standardise(self.raw)

    def __len__(self) -> int:
        return self.raw.shape[0]


def _stats(like: Tensor) -> tuple[Tensor, Tensor]:
    return (torch.tensor(MEAN, dtype=like.dtype, device=like.device),
            torch.tensor(STD, dtype=like.dtype, device=like.device))


def standardise(raw: Tensor) -> Tensor:
    """Minutes -> model units: (x - mean) / std per column (eruptions, waiting)."""
    if raw.dim() != 2 or raw.shape[1] != 2:
        raise ValueError(f"expected [N, 2] (eruptions, waiting), got {tuple(raw.shape)}")
    mean, std = _stats(raw)
    return (raw - mean) / std


def unstandardise(y: Tensor) -> Tensor:
    """Model units (y1, y2) -> minutes (eruptions, waiting)."""
    if y.dim() != 2 or y.shape[1] != 2:
        raise ValueError(f"expected [N, 2] (y1, y2), got {tuple(y.shape)}")
    mean, std = _stats(y)
    return y * std + mean


def _parse_row(cells: list[str], named: bool, path: Path, line: int) -> tuple[float, float]:
    """One data row: (eruptions, waiting), after a row name if ``named`` (R's write.csv)."""
    if len(cells) != 2 + named:
        raise FaithfulFormatError(f"{path}, line {line}: expected {2 + named} values "
                                  f"({'row name, ' if named else ''}eruptions, waiting), got "
                                  f"{len(cells)}: {cells}")
    cells = cells[named:]
    try:
        values = float(cells[0]), float(cells[1])
    except ValueError:
        raise FaithfulFormatError(f"{path}, line {line}: not a number in {cells}") from None
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise FaithfulFormatError(f"{path}, line {line}: durations must be finite and > 0, "
                                  f"got {values}")
    return values


def read_faithful_csv(path: str | os.PathLike) -> list[tuple[float, float]]:
    """Rows of a CSV with the header ``eruptions,waiting`` (``#`` lines are comments)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Old Faithful CSV not found at {path} (expected a file with "
                                f"the header 'eruptions,waiting'; the package ships one at "
                                f"{PACKAGED_CSV})")
    with path.open(newline="", encoding="utf-8") as f:
        lines = [(i, ln) for i, ln in enumerate(f, 1) if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise FaithfulFormatError(f"{path}: empty file, expected the header 'eruptions,waiting'")
    rows = list(csv.reader(ln for _, ln in lines))
    header = [c.strip() for c in rows[0]]
    named = header[:1] == [""]  # R's write.csv: an empty first header cell, row names below
    if header[named:] != list(COLUMNS):
        raise FaithfulFormatError(f"{path}, line {lines[0][0]}: header must be "
                                  f"{','.join(COLUMNS)}, got {','.join(rows[0])}")
    data = [_parse_row(cells, named, path, i)
            for (i, _), cells in zip(lines[1:], rows[1:], strict=True)]
    if not data:
        raise FaithfulFormatError(f"{path}: a header but no data rows")
    return data


def load_faithful(path: str | os.PathLike | None = None) -> FaithfulData:
    """The Old Faithful table: the packaged copy, or the CSV at ``path`` (same format).

    Raises FileNotFoundError for a missing file and :class:`FaithfulFormatError` (a
    ValueError) for a malformed one, naming the line.
    """
    csv_path = PACKAGED_CSV if path is None else Path(path)
    rows = read_faithful_csv(csv_path)
    note_read([csv_path], [Path.cwd()])
    where = relative_path(csv_path, [Path.cwd(), PACKAGE_ROOT])
    source = SOURCE if path is None else f"Old Faithful table from {where} ({len(rows)} rows)"
    return FaithfulData(torch.tensor(rows, dtype=torch.float32), source)
