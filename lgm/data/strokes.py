"""Online handwriting as pen-stroke sequences (KD paper, section 4.3 and appendix G, Fig. 8).

The paper distils a VRNN trained on IAM online handwriting (IAM-OnDB, Liwicki & Bunke 2005).
A sequence is ``x_1..x_T`` with ``x_t = (pen-up bit, dx, dy)``: ``dx, dy`` is the pen's move
from the previous point and the bit is 1 when the pen leaves the paper after point t (the end
of a stroke), as in Graves (2013) and Chung et al. (2015).

Two sources give such sequences:

- **IAM-OnDB** (:func:`read_line_strokes`, :func:`load_iam_ondb`): its ``lineStrokes`` XML
  files, ``<StrokeSet><Stroke><Point x=".." y=".." time=".."/>...``, one handwritten line per
  file, under ``<data root>/IAM-OnDB/lineStrokes/**.xml`` (or ``<root>/lineStrokes``). The
  data is licensed for registered users only and is not shipped here.
- **The Hershey stand-in** (:func:`render_text`, :func:`hershey_corpus`): words written with
  the Hershey script fonts (``cursive``, ``scripts``, ``scriptc``: vector glyphs drawn as pen
  strokes, JHF format), with random scale, slant, letter spacing and jitter, so that no two
  renderings agree. A copy of these three fonts (with their COPYRIGHT) ships in
  ``lgm/data/files/hershey``; a ``hershey/`` folder under a data root is preferred.

Both give lists of strokes (arrays of ``(x, y)`` points in image coordinates, y pointing
down), turned into offsets by :func:`strokes_to_offsets` (y flipped so that up is positive).
:func:`load_strokes` then standardises ``dx, dy`` per axis with the training set's mean and
std (the pen bit stays 0/1), truncates to ``max_len`` steps, sorts by length (longest first)
and pads with a mask, as the authors' code does.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lgm.data.fingerprint import PACKAGE_ROOT, note_read, relative_path
from lgm.data.idx import DataNotFoundError, data_roots
from lgm.errors import LgmError

PACKAGED_HERSHEY = Path(__file__).resolve().parent / "files" / "hershey"
FONTS = ("cursive", "scripts", "scriptc")
SOURCES = ("auto", "iam", "hershey")
IAM_FOLDERS = ("IAM-OnDB/lineStrokes", "iam-ondb/lineStrokes", "IAMOnDB/lineStrokes",
               "lineStrokes")
WORDS = (
    "a about after again air all also and animal answer any are around as ask at away back "
    "be because been before began being below between big both boy but by call came can "
    "change children city close come could country cut day did different do does down draw "
    "each earth eat end enough even every eye face far father feet few find first follow food "
    "for form found four from get girl give go good got great group grow had hand hard has "
    "have he head help her here high him his home house how idea if important in into is it "
    "just keep kind know land large last later learn left let life light like line list little "
    "live long look made make man many may me mean men might mile miss more most mother move "
    "much must my name near need never new next night no not now number of off often old on "
    "once one only open or other our out over own page paper part people picture place plant "
    "play point put question quick read real right river road run said same saw say school sea "
    "second see sentence set she should show side small so some something song soon sound "
    "spell start state still stop story study such sun take talk tell than that the their them "
    "then there these they thing think this those thought three through time to together too "
    "took tree try turn two under until up us use very walk want was watch water way we well "
    "went were what when where which while white who why will with without word work world "
    "would write year you young your").split()


class StrokeFormatError(LgmError, ValueError):
    """A JHF or IAM-OnDB file is malformed (the message names the file and the place)."""


# ----------------------------------------------------------------------------- offsets
def strokes_to_offsets(strokes: Sequence[np.ndarray], flip_y: bool = True) -> np.ndarray:
    """Strokes (each ``[n_i, 2]`` points, image coordinates) -> ``[T, 3]`` float32 rows
    ``(pen-up bit, dx, dy)``: the bit is 1 at the last point of each stroke, the first row's
    offset is 0, and ``dy`` is negated when ``flip_y`` (image y points down)."""
    strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    strokes = [s for s in strokes if len(s)]
    if not strokes:
        raise ValueError("no points: every stroke is empty")
    points = np.concatenate(strokes)
    pen = np.zeros(len(points))
    pen[np.cumsum([len(s) for s in strokes]) - 1] = 1.0
    d = np.diff(points, axis=0, prepend=points[:1])
    if flip_y:
        d[:, 1] = -d[:, 1]
    return np.column_stack([pen, d]).astype(np.float32)


def offsets_to_strokes(seq: np.ndarray | Tensor) -> list[np.ndarray]:
    """Inverse of :func:`strokes_to_offsets` up to the start point: ``[T, 3]`` rows -> a list
    of ``[n, 2]`` pen positions (y up), split after each pen-up bit (for plotting)."""
    seq = np.asarray(seq.detach().cpu().numpy() if isinstance(seq, Tensor) else seq,
                     dtype=np.float64)
    if seq.ndim != 2 or seq.shape[1] != 3:
        raise ValueError(f"expected [T, 3] rows (pen, dx, dy), got shape {seq.shape}")
    points = np.cumsum(seq[:, 1:], axis=0)
    ends = np.flatnonzero(seq[:, 0] > 0.5) + 1
    return [s for s in np.split(points, ends) if len(s)]


# ----------------------------------------------------------------------------- IAM-OnDB
def read_line_strokes(path: str | os.PathLike) -> np.ndarray:
    """One IAM-OnDB ``lineStrokes`` XML file -> ``[T, 3]`` (pen-up bit, dx, dy), y up."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise StrokeFormatError(f"{path}: not well-formed XML ({err})") from err
    stroke_set = root if root.tag == "StrokeSet" else root.find("StrokeSet")
    if stroke_set is None:
        raise StrokeFormatError(f"{path}: no <StrokeSet> element (not a lineStrokes file)")
    strokes = [_stroke_points(s, path) for s in stroke_set.iter("Stroke")]
    if not any(len(s) for s in strokes):
        raise StrokeFormatError(f"{path}: the StrokeSet has no <Point>")
    return strokes_to_offsets(strokes)


def _stroke_points(stroke: ET.Element, path: Path) -> np.ndarray:
    try:
        return np.array([[float(p.attrib["x"]), float(p.attrib["y"])]
                         for p in stroke.iter("Point")]).reshape(-1, 2)
    except (KeyError, ValueError) as err:
        raise StrokeFormatError(f"{path}: a <Point> lacks a numeric x or y ({err})") from err


def iam_files(root: str | os.PathLike | None = None) -> tuple[list[Path], list[Path]]:
    """(the ``lineStrokes`` XML files found, sorted; the folders searched)."""
    searched = [r / folder for r in data_roots(root) for folder in IAM_FOLDERS]
    for folder in searched:
        if folder.is_dir():
            files = sorted(folder.rglob("*.xml"))
            if files:
                return files, searched
    return [], searched


def load_iam_ondb(files: Sequence[Path]) -> list[np.ndarray]:
    """Every file of ``files`` read by :func:`read_line_strokes`."""
    return [read_line_strokes(f) for f in files]


# ----------------------------------------------------------------------------- Hershey
@dataclass(frozen=True)
class Glyph:
    """One Hershey glyph: horizontal extent (``left``, ``right``) and pen strokes, each an
    ``[n, 2]`` array of font units (y down)."""

    left: int
    right: int
    strokes: tuple[np.ndarray, ...]

    @property
    def advance(self) -> int:
        return self.right - self.left


def parse_jhf(text: str, name: str = "<jhf>") -> list[Glyph]:
    """Glyphs of a JHF font, in file order.

    Each glyph: a 5-character id, a 3-character vertex count, then that many coordinate pairs,
    each character an offset from ``'R'``; the first pair is the left and right margins and
    the pair ``" R"`` lifts the pen. A glyph may continue on the following lines.
    """
    glyphs, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        body, i = _glyph_body(lines, i, name)
        glyphs.append(_decode_glyph(body, name, len(glyphs)))
    if not glyphs:
        raise StrokeFormatError(f"{name}: no glyph in the file")
    return glyphs


def _glyph_body(lines: list[str], i: int, name: str) -> tuple[str, int]:
    """The coordinate characters of the glyph starting at line ``i``, and the next line."""
    head = lines[i]
    try:
        count = int(head[5:8])
    except ValueError as err:
        raise StrokeFormatError(f"{name} line {i + 1}: no vertex count in columns 6-8 "
                                f"({head[:8]!r})") from err
    body, i = head[8:], i + 1
    while len(body) < 2 * count and i < len(lines):
        body, i = body + lines[i], i + 1
    if len(body.rstrip()) > 2 * count or len(body) < 2 * count - 1:
        raise StrokeFormatError(f"{name}: glyph ending at line {i}: {count} vertices announced, "
                                f"{len(body.rstrip()) / 2:g} found")
    return body.ljust(2 * count)[: 2 * count], i


def _decode_glyph(body: str, name: str, index: int) -> Glyph:
    values = np.array([ord(c) - ord("R") for c in body]).reshape(-1, 2)
    if len(values) < 1:
        raise StrokeFormatError(f"{name}: glyph {index} has no margins")
    pen_up = (values[:, 0] == ord(" ") - ord("R")) & (values[:, 1] == 0)
    strokes, current = [], []
    for v, up in zip(values[1:], pen_up[1:], strict=True):
        if up:
            strokes, current = strokes + [current], []
        else:
            current.append(v)
    strokes.append(current)
    return Glyph(int(values[0, 0]), int(values[0, 1]),
                 tuple(np.array(s, dtype=np.float64) for s in strokes if s))


def read_jhf(path: str | os.PathLike) -> dict[str, Glyph]:
    """A JHF font file as a map character -> glyph; the n-th glyph is ``chr(32 + n)`` (the
    ASCII order of the Hershey fonts distributed as .jhf)."""
    path = Path(path)
    glyphs = parse_jhf(path.read_text(encoding="latin-1"), str(path))
    return {chr(32 + n): g for n, g in enumerate(glyphs)}


def hershey_files(fonts: Sequence[str] = FONTS, root: str | os.PathLike | None = None
                  ) -> tuple[list[Path] | None, list[Path]]:
    """(the ``<font>.jhf`` files, from the first folder holding them all, or None; every path
    looked at). Folders: ``<data root>/hershey`` for each data root, then the packaged copy."""
    folders = [r / "hershey" for r in data_roots(root)] + [PACKAGED_HERSHEY]
    searched: list[Path] = []
    for folder in folders:
        paths = [folder / f"{font}.jhf" for font in fonts]
        searched += paths
        if all(p.is_file() for p in paths):
            return paths, searched
    return None, searched


@dataclass(frozen=True)
class Augment:
    """Random distortions of one rendering, in font units (lower-case letters are 9 high):
    scale factor in ``scale``, horizontal stretch in ``aspect``, shear ``x += slant * height``
    with slant uniform in ``[-slant, slant]``, letter spacing jitter (std ``spacing``), and
    Gaussian jitter (std ``jitter``) on every point."""

    scale: tuple[float, float] = (0.8, 1.2)
    aspect: tuple[float, float] = (0.9, 1.1)
    slant: float = 0.3
    spacing: float = 0.5
    jitter: float = 0.25


def render_text(text: str, font: dict[str, Glyph], rng: np.random.Generator,
                augment: Augment = Augment(), max_step: float | None = 3.0,
                join: float = 1.5) -> list[np.ndarray]:
    """``text`` written with ``font`` as strokes of ``[n, 2]`` points (y down).

    Segments longer than ``max_step`` are subdivided (online pens sample densely); glyphs are
    placed by their advance widths (plus spacing jitter); a stroke that starts within ``join``
    units of where the previous one ended continues it (cursive letters connect); then scale,
    stretch, slant and jitter are applied.
    """
    missing = sorted({c for c in text if c not in font})
    if missing:
        raise ValueError(f"characters {missing} are not in the font")
    if max_step is not None:
        font = densify_font(font, max_step, set(text))
    strokes, pen_x = [], 0.0
    for c in text:
        g = font[c]
        pen_x -= g.left
        strokes += [s + np.array([pen_x, 0.0]) for s in g.strokes]
        pen_x += g.right + rng.normal(0.0, augment.spacing)
    return _distort(_join(strokes, join), rng, augment)


def densify_font(font: dict[str, Glyph], max_step: float,
                 chars: set[str] | None = None) -> dict[str, Glyph]:
    """``font`` (or its ``chars``) with every stroke subdivided to steps <= ``max_step``."""
    if not max_step > 0:
        raise ValueError(f"max_step must be > 0, got {max_step}")
    return {c: Glyph(g.left, g.right, tuple(_densify(s, max_step) for s in g.strokes))
            for c, g in font.items() if chars is None or c in chars}


def _join(strokes: list[np.ndarray], join: float) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for s in strokes:
        if out and np.linalg.norm(s[0] - out[-1][-1]) <= join:
            out[-1] = np.concatenate([out[-1], s])
        else:
            out.append(s)
    return out


def _densify(stroke: np.ndarray, max_step: float) -> np.ndarray:
    """Insert points so that no segment of the polyline is longer than ``max_step``."""
    seg = np.diff(stroke, axis=0)
    k = np.maximum(1, np.ceil(np.linalg.norm(seg, axis=1) / max_step)).astype(int)
    which = np.repeat(np.arange(len(seg)), k)
    step = np.arange(len(which)) - np.repeat(np.cumsum(k) - k, k) + 1
    inner = stroke[which] + seg[which] * (step / k[which])[:, None]
    return np.concatenate([stroke[:1], inner])


def _distort(strokes: list[np.ndarray], rng: np.random.Generator,
             a: Augment) -> list[np.ndarray]:
    scale, aspect = rng.uniform(*a.scale), rng.uniform(*a.aspect)
    slant = rng.uniform(-a.slant, a.slant)
    p = np.concatenate(strokes)
    x = p[:, 0] - slant * p[:, 1]  # y down: points above the baseline lean by the slant
    p = np.column_stack([x * aspect, p[:, 1]]) * scale
    p = p + rng.normal(0.0, a.jitter, size=p.shape)
    return np.split(p, np.cumsum([len(s) for s in strokes])[:-1])


def hershey_corpus(n: int, fonts: Sequence[dict[str, Glyph]], rng: np.random.Generator,
                   words: Sequence[str] = WORDS, augment: Augment = Augment(),
                   max_step: float | None = 3.0) -> list[np.ndarray]:
    """``n`` sequences ``[T, 3]``: each a random word of ``words`` in a random font of
    ``fonts``, rendered by :func:`render_text`."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not words or not fonts:
        raise ValueError("need at least one word and one font")
    if max_step is not None:
        fonts = [densify_font(f, max_step) for f in fonts]
    out = []
    for _ in range(n):
        font = fonts[rng.integers(len(fonts))]
        word = words[rng.integers(len(words))]
        out.append(strokes_to_offsets(render_text(word, font, rng, augment, None)))
    return out


# ----------------------------------------------------------------------------- batches
@dataclass(frozen=True)
class StrokeBatch:
    """Padded sequences, longest first: ``x`` [N, T, 3] (pen bit, standardised dx, dy),
    ``mask`` [N, T] (1 on real steps, 0 on padding), ``lengths`` [N]."""

    x: Tensor
    mask: Tensor
    lengths: Tensor

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> StrokeBatch:
        return StrokeBatch(self.x.to(device), self.mask.to(device), self.lengths.to(device))

    def subset(self, index: Tensor) -> StrokeBatch:
        """Rows ``index``, trimmed to their longest real length."""
        index = index.to(self.x.device)
        t = int(self.lengths[index].max())
        return StrokeBatch(self.x[index, :t], self.mask[index, :t], self.lengths[index])


def pad_sequences(seqs: Sequence[np.ndarray], max_len: int | None = None) -> StrokeBatch:
    """Truncate to ``max_len`` steps, sort by length (longest first), zero-pad, mask."""
    if not seqs:
        raise ValueError("no sequence to pad")
    seqs = [s[:max_len] if max_len else s for s in seqs]
    seqs = sorted(seqs, key=len, reverse=True)
    lengths = torch.tensor([len(s) for s in seqs])
    x = torch.zeros(len(seqs), int(lengths[0]), 3)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.as_tensor(s, dtype=torch.float32)
    mask = (torch.arange(x.shape[1])[None] < lengths[:, None]).float()
    return StrokeBatch(x, mask, lengths)


def offset_stats(seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis mean and std of (dx, dy) over every step of ``seqs``."""
    d = np.concatenate([s[:, 1:] for s in seqs]).astype(np.float64)
    std = d.std(0)
    if not np.all(std > 0):
        raise ValueError("an offset axis has zero variance: cannot standardise")
    return d.mean(0), std


def standardise(seqs: Sequence[np.ndarray], mean: np.ndarray, std: np.ndarray
                ) -> list[np.ndarray]:
    """(dx, dy) -> (dx - mean) / std per axis; the pen bit unchanged."""
    scale = np.array([0.0, *mean]), np.array([1.0, *std])
    return [((s - scale[0]) / scale[1]).astype(np.float32) for s in seqs]


@dataclass(frozen=True)
class StrokeData:
    """Standardised, padded train and test sequences, the statistics used, the source."""

    train: StrokeBatch
    test: StrokeBatch
    mean: np.ndarray
    std: np.ndarray
    source: str

    def destandardise(self, x: Tensor | np.ndarray) -> np.ndarray:
        """[..., 3] standardised rows -> pen bit and offsets in the source's units."""
        x = np.array(x.detach().cpu().numpy() if isinstance(x, Tensor) else x, dtype=np.float64)
        x[..., 1:] = x[..., 1:] * self.std + self.mean
        return x


def load_strokes(source: str = "auto", root: str | os.PathLike | None = None, *,
                 n_train: int = 1000, n_test: int = 200, max_len: int | None = None,
                 seed: int = 0, fonts: Sequence[str] = FONTS,
                 augment: Augment = Augment(), max_step: float | None = 3.0) -> StrokeData:
    """Handwriting sequences from IAM-OnDB (``"iam"``), the Hershey stand-in (``"hershey"``),
    or the first of them found (``"auto"``).

    IAM-OnDB: a ``seed``-ed permutation of the files, the first ``n_test`` for testing and the
    next ``n_train`` (at most) for training. Hershey: ``n_train + n_test`` renderings drawn
    with ``seed``. Offsets are standardised with the training set's per-axis statistics.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown stroke source {source!r}; known: {', '.join(SOURCES)}")
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    if max_len is not None and max_len < 2:
        raise ValueError(f"max_len must be >= 2 or None, got {max_len}")
    train, test, label = _raw_sequences(source, root, n_train, n_test, seed, fonts, augment,
                                        max_step)
    mean, std = offset_stats([s[:max_len] if max_len else s for s in train])
    return StrokeData(pad_sequences(standardise(train, mean, std), max_len),
                      pad_sequences(standardise(test, mean, std), max_len), mean, std, label)


def _raw_sequences(source: str, root: str | os.PathLike | None, n_train: int, n_test: int,
                   seed: int, fonts: Sequence[str], augment: Augment,
                   max_step: float | None) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    iam, searched_iam = iam_files(root) if source != "hershey" else ([], [])
    if iam:
        if len(iam) < n_test + 1:
            raise ValueError(f"IAM-OnDB: {len(iam)} files found, need more than n_test={n_test}")
        order = np.random.default_rng(seed).permutation(len(iam))
        files = [iam[i] for i in order[: n_test + n_train]]
        seqs = load_iam_ondb(files)
        folder = next(f for f in searched_iam if f in iam[0].parents)
        note_read(files, data_roots(root))
        return (seqs[n_test:], seqs[:n_test],
                f"IAM-OnDB lineStrokes ({len(seqs) - n_test} train / {n_test} test lines, "
                f"{relative_path(folder, data_roots(root))})")
    paths, searched_h = hershey_files(fonts, root) if source != "iam" else (None, [])
    if paths is None:
        looked = "\n".join(f"  - {p}" for p in [*searched_iam, *searched_h])
        raise DataNotFoundError(f"no handwriting data for source {source!r}; looked for "
                                f"IAM-OnDB lineStrokes folders and Hershey fonts "
                                f"{', '.join(f'{f}.jhf' for f in fonts)} at:\n{looked}",
                                [*searched_iam, *searched_h])
    glyphs = [read_jhf(p) for p in paths]
    note_read(paths, data_roots(root))
    seqs = hershey_corpus(n_train + n_test, glyphs, np.random.default_rng(seed), WORDS,
                          augment, max_step)
    return (seqs[n_test:], seqs[:n_test],
            f"Hershey-font stand-in for IAM-OnDB: random words in {', '.join(fonts)} "
            f"({relative_path(paths[0].parent, [*data_roots(root), PACKAGE_ROOT])}), "
            f"{n_train} train / {n_test} test renderings, seed {seed}")


def stroke_features(x: Tensor, mask: Tensor) -> np.ndarray:
    """Ten summary features per sequence (for a two-sample test between stroke sets):
    pen-up rate; mean and std of dx and of dy; mean step length; lag-1 autocorrelation of dx
    and of dy (smoothness); width and height of the drawn trajectory. ``x`` [N, T, 3]
    (standardised), ``mask`` [N, T]."""
    if x.dim() != 3 or x.shape[-1] != 3 or mask.shape != x.shape[:2]:
        raise ValueError(f"expected x [N, T, 3] and mask [N, T], got {tuple(x.shape)} and "
                         f"{tuple(mask.shape)}")
    x, m = x.detach().double().cpu(), mask.detach().double().cpu()
    n = m.sum(1).clamp_min(1)

    def mean(v: Tensor) -> Tensor:
        return (v * m).sum(1) / n

    d = x[..., 1:]
    mu = torch.stack([mean(d[..., 0]), mean(d[..., 1])], -1)
    c = (d - mu[:, None]) * m[..., None]
    sd = (c.pow(2).sum(1) / n[:, None]).sqrt()
    lag = (c[:, 1:] * c[:, :-1]).sum(1) / (c.pow(2).sum(1) + 1e-8)
    pos = torch.cumsum(d * m[..., None], 1)
    big = torch.where(m[..., None] > 0, pos, pos.new_full((), float("nan")))
    extent = big.nan_to_num(-1e30).amax(1) - big.nan_to_num(1e30).amin(1)
    feats = [mean(x[..., 0]), mu[:, 0], mu[:, 1], sd[:, 0], sd[:, 1],
             mean(d.pow(2).sum(-1).sqrt()), lag[:, 0], lag[:, 1], extent[:, 0], extent[:, 1]]
    return torch.stack(feats, -1).numpy()
