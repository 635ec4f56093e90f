"""The report layer: seeds, series over seeds, tables that stay tables, claims as data,
figures saved with their data, provenance without the build machine's folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from lgm.report import claims, figures, runs, tables
from lgm.report import verdict_lines as legacy
from lgm.report.claims import Claim


def test_resolve_seeds():
    """One seed rule for pages, as make_config's: given seeds mean what they say; None is the
    preset's (the paper's at paper, one elsewhere, or the page's own declared in the plan)."""
    assert runs.resolve_seeds("paper", None) == [0, 1, 2, 3, 4]
    assert runs.resolve_seeds("paper", [0]) == [0]
    assert runs.resolve_seeds("paper", [3, 4]) == [3, 4]
    assert runs.resolve_seeds("smoke", [5, 6]) == [5, 6]
    assert runs.resolve_seeds("smoke", None) == runs.resolve_seeds("quick", None) == [0]
    assert runs.resolve_seeds("paper", None, "fig9") == list(range(10))
    assert runs.resolve_seeds("quick", None, "fig9") == [0, 1]
    assert runs.resolve_seeds("smoke", None, "fig9") == [0]


def test_series_and_band():
    results = [{"tasks": [{"task": 0, "x": 1.0}, {"task": 1, "x": 3.0}]},
               {"tasks": [{"task": 0, "x": 3.0}]}]
    values = tables.series(results, "x")
    assert values.shape == (2, 2) and np.isnan(values[1, 1])
    mean, std = tables.band(values)
    assert mean.tolist() == [2.0, 3.0] and std[0] == pytest.approx(np.sqrt(2))
    assert tables.fmt(np.array([1.0, 3.0])) == "2.0 ± 1.4"


def test_a_bar_in_a_cell_does_not_break_a_table():
    md = tables.markdown_table(["claim", "ours"], [["|a - b| < 1", "x | y"]])
    body = md.splitlines()[2]
    # three unescaped bars delimit two cells
    assert body.replace("\\|", "").count("|") == 3
    html = tables.html_table(["claim"], [["<b>|x|</b>"]])
    assert "&lt;b&gt;|x|&lt;/b&gt;" in html and html.count("<td>") == 1


def test_claims_record_and_load_round_trip(tmp_path):
    made = [Claim(page="p", preset="quick", text="A | B beats C", status="holds",
                  ours="3 vs 4", paper_value="149"),
            Claim(page="p", preset="quick", text="count", kind="count", status="does not hold")]
    claims.record("p", "quick", made, wall_s=1.5, folder=tmp_path)
    claims.record("empty", "quick", [], folder=tmp_path)
    loaded = claims.load("quick", [tmp_path])
    assert loaded["p"] == made
    assert [c.status for c in loaded["empty"]] == ["no verdict recorded"]
    assert claims.wall_time("p", "quick", [tmp_path]) == 1.5
    with pytest.raises(ValueError, match="not 'q'"):
        claims.record("q", "quick", made, folder=tmp_path)


def test_claim_fields_are_checked():
    with pytest.raises(ValidationError, match="status"):
        Claim(page="p", preset="quick", text="x", status="maybe")
    with pytest.raises(ValidationError, match="kind"):
        Claim(page="p", preset="quick", text="x", status="holds", kind="guess")


def test_first_folder_wins_and_legacy_files_are_read(tmp_path):
    local, committed = tmp_path / "local", tmp_path / "committed"
    committed.mkdir()
    (committed / "p-paper.json").write_text(json.dumps(
        [{"claim": "A", "paper": "", "ours": "x", "verdict": "cannot be tested"}]))
    assert claims.load("paper", [local, committed])["p"][0].status == \
        "cannot be tested at this budget"
    claims.record("p", "paper", [Claim(page="p", preset="paper", text="A", status="holds")],
                  folder=local)
    assert claims.load("paper", [local, committed])["p"][0].status == "holds"


def test_untestable_rules():
    assert claims.all_at_cap([6, 6, np.nan], 6) == "all 2 trainings stopped at the cap of 6 epochs"
    assert claims.all_at_cap([6, 3], 6) is None
    assert claims.no_better_than_noise(300.0, 250.0) is not None
    assert claims.no_better_than_noise(100.0, 250.0) is None
    assert claims.teacher_no_better_than_students(5.0, [4.0, 6.0]) is not None
    assert claims.missing(["a", "b"], ["a"]) == "runs missing: b"
    assert claims.status_of(False, "all at cap") == "cannot be tested at this budget"
    assert claims.status_of(np.bool_(True)) == "holds"


def test_legacy_api_still_works(tmp_path, monkeypatch):
    monkeypatch.setenv("LGM_CACHE", str(tmp_path))
    lines = ["1. **A beats B** (rule: lower): holds. 3.0 vs 4.0.",
             "2. **EWC faster**: cannot be tested: every task hit the cap",
             "3. **C < D** (paper 149 vs 165): does not hold. 170 vs 160"]
    rows = legacy.verdict_rows(lines)
    assert [r["verdict"] for r in rows] == ["holds", "cannot be tested", "does not hold"]
    legacy.save_verdicts("page", "smoke", rows)
    assert [r["verdict"] for r in legacy.load_verdicts("smoke")["page"]] == \
        ["holds", "cannot be tested at this budget", "does not hold"]
    with pytest.raises(ValueError, match="bad verdict row"):
        legacy.save_verdicts("page", "smoke", [{"claim": "x", "verdict": "maybe"}])


def test_surviving_keeps_labels_with_results_and_refuses_none():
    r = runs.Runs(results={"a": [{}]}, failed=[("b", 0, "nan")])
    assert runs.surviving(r, ["a", "b"]) == ["a"]
    with pytest.raises(RuntimeError, match="every run failed"):
        runs.surviving(r, ["b"])


def test_data_paths_are_shown_relative_to_the_data_root(tmp_path):
    text = f"fashion: {tmp_path}/FashionMNIST/raw/t.gz, /elsewhere/a/b/c/d.gz (x/y/z)"
    out = runs.relative_data(text, [tmp_path])
    assert out == "fashion: DATA_ROOT/FashionMNIST/raw/t.gz, …/b/c/d.gz (x/y/z)"
    assert runs.relative_data(out, [tmp_path]) == out  # idempotent


def test_figure_saved_with_its_data(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    csv = figures.save_figure(fig, tmp_path / "f.png", {"x": [1, 2], "y": [3.0, 4.5]})
    plt.close(fig)
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert csv.read_text().splitlines() == ["x,y", "1,3", "2,4.5"]
    assert 'download="f.csv"' in figures.download_link(csv)
    with pytest.raises(ValueError, match="unequal length"):
        figures.write_csv(tmp_path / "g.csv", {"x": [1], "y": [1, 2]})


def test_tilers():
    images = np.arange(2 * 3 * 1 * 2 * 2, dtype=np.uint8).reshape(2, 3, 1, 2, 2)
    assert figures.tile(images).shape == (4, 6)
    assert figures.image_row(images[0]).shape == (2, 6, 3)
