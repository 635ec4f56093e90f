"""Pen-stroke data: offsets, the IAM-OnDB XML reader, the JHF reader, the Hershey stand-in,
standardisation, padding and the stroke features (all on tiny files written here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lgm.data.idx import DataNotFoundError
from lgm.data.strokes import (
    FONTS,
    PACKAGED_HERSHEY,
    Augment,
    StrokeFormatError,
    densify_font,
    load_strokes,
    offsets_to_strokes,
    pad_sequences,
    parse_jhf,
    read_jhf,
    read_line_strokes,
    render_text,
    stroke_features,
    strokes_to_offsets,
)

STILL = Augment(scale=(1.0, 1.0), aspect=(1.0, 1.0), slant=0.0, spacing=0.0, jitter=0.0)


def jhf_char(v: int) -> str:
    return chr(ord("R") + v)


def jhf_line(left: int, right: int, strokes: list[list[tuple[int, int]]]) -> str:
    body = jhf_char(left) + jhf_char(right)
    for i, s in enumerate(strokes):
        body += (" R" if i else "") + "".join(jhf_char(x) + jhf_char(y) for x, y in s)
    return f"12345{len(body) // 2:3d}{body}"


def write_font(folder: Path, name: str) -> None:
    """96 glyphs (ASCII 32..127): glyph n is a slanted segment of height n % 7 + 2."""
    lines = [jhf_line(-3, 3, [[(-2, 0), (2, -(n % 7 + 2))]]) for n in range(96)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.jhf").write_text("\n".join(lines) + "\n")


def write_line_strokes(path: Path, strokes: list[list[tuple[float, float]]]) -> None:
    points = "".join(
        '<Stroke colour="black">' + "".join(f'<Point x="{x}" y="{y}" time="0.1"/>'
                                            for x, y in s) + "</Stroke>" for s in strokes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>'
                    "<WhiteboardDescription/><StrokeSet>" + points +
                    "</StrokeSet></WhiteboardCaptureSession>")


# ----------------------------------------------------------------------------- offsets
def test_offsets_mark_stroke_ends_and_flip_y():
    seq = strokes_to_offsets([np.array([[0, 0], [1, 2], [3, 2]]), np.array([[5, 0], [5, 1]])])
    np.testing.assert_array_equal(seq[:, 0], [0, 0, 1, 0, 1])
    np.testing.assert_array_equal(seq[:, 1], [0, 1, 2, 2, 0])
    np.testing.assert_array_equal(seq[:, 2], [0, -2, 0, 2, -1])  # image y down -> up


def test_offsets_round_trip_to_strokes():
    strokes = [np.array([[0.0, 0.0], [1, 2], [3, 2]]), np.array([[5.0, 0], [5, 1]])]
    back = offsets_to_strokes(strokes_to_offsets(strokes))
    assert len(back) == 2
    for s, b in zip(strokes, back, strict=True):
        np.testing.assert_allclose(b, (s - strokes[0][0]) * [1, -1], atol=1e-6)


def test_offsets_errors():
    with pytest.raises(ValueError, match="no points"):
        strokes_to_offsets([np.zeros((0, 2))])
    with pytest.raises(ValueError, match=r"\[T, 3\]"):
        offsets_to_strokes(np.zeros((4, 2)))


# ----------------------------------------------------------------------------- IAM-OnDB
def test_read_line_strokes(tmp_path):
    path = tmp_path / "a01-000u-01.xml"
    write_line_strokes(path, [[(100, 500), (110, 490)], [(130, 500), (131, 505), (140, 505)]])
    seq = read_line_strokes(path)
    np.testing.assert_array_equal(seq[:, 0], [0, 1, 0, 0, 1])
    np.testing.assert_array_equal(seq[:, 1:], [[0, 0], [10, 10], [20, -10], [1, -5], [9, 0]])


def test_read_line_strokes_errors(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<StrokeSet><Stroke>")
    with pytest.raises(StrokeFormatError, match="bad.xml"):
        read_line_strokes(bad)
    other = tmp_path / "other.xml"
    other.write_text("<Session><Nothing/></Session>")
    with pytest.raises(StrokeFormatError, match="no <StrokeSet>"):
        read_line_strokes(other)
    nox = tmp_path / "nox.xml"
    nox.write_text('<StrokeSet><Stroke><Point y="1"/></Stroke></StrokeSet>')
    with pytest.raises(StrokeFormatError, match="numeric x or y"):
        read_line_strokes(nox)


def test_load_iam_ondb_standardises_sorts_and_pads(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(12):
        n = 5 + i
        pts = np.cumsum(rng.normal(3, 2, size=(n, 2)), 0)
        write_line_strokes(tmp_path / "IAM-OnDB" / "lineStrokes" / "a01" / f"l{i}.xml",
                           [pts[: n // 2].tolist(), pts[n // 2:].tolist()])
    data = load_strokes("auto", tmp_path, n_train=9, n_test=3, seed=1)
    assert "IAM-OnDB" in data.source and len(data.train) == 9 and len(data.test) == 3
    lengths = data.train.lengths.tolist()
    assert lengths == sorted(lengths, reverse=True)
    assert data.train.mask.sum(1).tolist() == lengths
    real = data.train.x[data.train.mask.bool()]
    torch.testing.assert_close(real[:, 1:].mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(real[:, 1:].std(0, unbiased=False), torch.ones(2), atol=1e-5,
                               rtol=0)
    assert set(real[:, 0].tolist()) <= {0.0, 1.0}
    assert data.train.x[~data.train.mask.bool()].abs().sum() == 0
    raw = data.destandardise(data.train.x[0, : lengths[0]])
    assert raw[:, 1:].mean(0)[0] > 0  # the pen moves right


def test_missing_iam_lists_the_folders(tmp_path):
    with pytest.raises(DataNotFoundError, match="lineStrokes") as err:
        load_strokes("iam", tmp_path)
    assert tmp_path / "IAM-OnDB" / "lineStrokes" in err.value.searched


# ----------------------------------------------------------------------------- JHF fonts
def test_parse_jhf_glyphs_pen_up_and_continuation_lines():
    line = jhf_line(-5, 6, [[(0, -9), (0, 0)], [(-3, -4), (3, -4)]])
    wrapped = line[:12] + "\n" + line[12:]
    for text in (line, wrapped):
        (g,) = parse_jhf(text)
        assert (g.left, g.right, g.advance) == (-5, 6, 11)
        assert [s.tolist() for s in g.strokes] == [[[0, -9], [0, 0]], [[-3, -4], [3, -4]]]


def test_parse_jhf_errors():
    with pytest.raises(StrokeFormatError, match="no glyph"):
        parse_jhf("\n\n", "empty.jhf")
    with pytest.raises(StrokeFormatError, match="vertex count"):
        parse_jhf("12345abcRR", "bad.jhf")
    with pytest.raises(StrokeFormatError, match="5 vertices announced"):
        parse_jhf("12345  5RRRR", "short.jhf")


def test_read_jhf_maps_ascii_order(tmp_path):
    write_font(tmp_path, "tiny")
    font = read_jhf(tmp_path / "tiny.jhf")
    assert len(font) == 96 and list(font)[:3] == [" ", "!", '"']
    assert font["a"].strokes[0].tolist() == [[-2, 0], [2, -(65 % 7 + 2)]]


def test_packaged_fonts_are_readable():
    for name in FONTS:
        font = read_jhf(PACKAGED_HERSHEY / f"{name}.jhf")
        assert all(c in font for c in "abcdefghijklmnopqrstuvwxyz")
    assert (PACKAGED_HERSHEY / "COPYRIGHT").is_file()


def test_render_text_places_joins_and_densifies(tmp_path):
    write_font(tmp_path, "tiny")
    font = read_jhf(tmp_path / "tiny.jhf")
    rng = np.random.default_rng(0)
    (stroke,) = render_text("aa", font, rng, STILL, max_step=None, join=10.0)  # joined
    assert stroke[:, 0].tolist() == [1.0, 5.0, 7.0, 11.0]  # second glyph 6 units right
    strokes = render_text("aa", font, rng, STILL, max_step=0.5, join=0.0)
    assert len(strokes) == 2
    for s in strokes:
        assert np.linalg.norm(np.diff(s, axis=0), axis=1).max() <= 0.5 + 1e-9
    with pytest.raises(ValueError, match="not in the font"):
        render_text("a\u00e9", font, rng)
    with pytest.raises(ValueError, match="max_step"):
        densify_font(font, 0.0)


def test_render_text_augmentation_changes_shape(tmp_path):
    write_font(tmp_path, "tiny")
    font = read_jhf(tmp_path / "tiny.jhf")
    a = np.concatenate(render_text("abc", font, np.random.default_rng(0)))
    b = np.concatenate(render_text("abc", font, np.random.default_rng(1)))
    assert a.shape == b.shape and not np.allclose(a, b)


def test_load_hershey_from_a_data_root(tmp_path):
    for name in FONTS:
        write_font(tmp_path / "hershey", name)
    data = load_strokes("auto", tmp_path, n_train=20, n_test=5, max_len=16, seed=3)
    assert "Hershey" in data.source and "(hershey)" in data.source  # relative to the root
    assert str(tmp_path) not in data.source
    assert data.train.x.shape[1] <= 16 and len(data.test) == 5
    again = load_strokes("hershey", tmp_path, n_train=20, n_test=5, max_len=16, seed=3)
    torch.testing.assert_close(again.train.x, data.train.x)


def test_hershey_falls_back_to_the_packaged_fonts(tmp_path):
    data = load_strokes("hershey", tmp_path, n_train=4, n_test=2, max_len=10)
    assert "lgm/data/files/hershey" in data.source and PACKAGED_HERSHEY.is_dir()


def test_missing_fonts_and_bad_arguments(tmp_path):
    with pytest.raises(DataNotFoundError, match="nosuch.jhf") as err:
        load_strokes("hershey", tmp_path, fonts=("nosuch",))
    assert PACKAGED_HERSHEY / "nosuch.jhf" in err.value.searched
    with pytest.raises(ValueError, match="known: auto, iam, hershey"):
        load_strokes("svg", tmp_path)
    with pytest.raises(ValueError, match="n_test"):
        load_strokes("hershey", tmp_path, n_test=0)
    with pytest.raises(ValueError, match="max_len"):
        load_strokes("hershey", tmp_path, max_len=1)


# ----------------------------------------------------------------------------- batches
def test_pad_sequences_truncates_sorts_and_masks():
    seqs = [np.ones((3, 3), np.float32), np.ones((7, 3), np.float32), np.ones((5, 3), np.float32)]
    batch = pad_sequences(seqs, max_len=6)
    assert batch.lengths.tolist() == [6, 5, 3] and batch.x.shape == (3, 6, 3)
    assert batch.mask.tolist()[2] == [1, 1, 1, 0, 0, 0]
    sub = batch.subset(torch.tensor([2]))
    assert sub.x.shape == (1, 3, 3)
    with pytest.raises(ValueError, match="no sequence"):
        pad_sequences([])


def test_stroke_features_values_and_mask():
    seq = torch.tensor([[0, 0, 0], [0, 1, 0], [1, 1, 1], [0, 2, 0]], dtype=torch.float32)
    f = stroke_features(seq[None], torch.ones(1, 4))[0]
    np.testing.assert_allclose(f[:3], [0.25, 1.0, 0.25])  # pen-up rate, mean dx, mean dy
    np.testing.assert_allclose(f[3], np.std([0, 1, 1, 2]))
    np.testing.assert_allclose(f[5], (0 + 1 + np.sqrt(2) + 2) / 4)
    np.testing.assert_allclose(f[8:], [4.0, 1.0])  # width and height of the path
    padded = torch.cat([seq, torch.full((3, 3), 9.0)])[None]
    mask = torch.tensor([[1.0] * 4 + [0.0] * 3])
    np.testing.assert_allclose(stroke_features(padded, mask)[0], f, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, T, 3\]"):
        stroke_features(seq, torch.ones(4))
