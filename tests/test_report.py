"""Page bookkeeping: seeds, series over seeds, verdict records for the summary page."""

from __future__ import annotations

import numpy as np
import pytest

from lgm.experiments import report


def test_resolve_seeds():
    assert report.resolve_seeds("paper", [0]) == [0, 1, 2, 3, 4]
    assert report.resolve_seeds("paper", [3, 4]) == [3, 4]
    assert report.resolve_seeds("smoke", [5, 6]) == [5]


def test_series_and_band():
    runs = [{"tasks": [{"task": 0, "x": 1.0}, {"task": 1, "x": 3.0}]},
            {"tasks": [{"task": 0, "x": 3.0}]}]
    values = report.series(runs, "x")
    assert values.shape == (2, 2) and np.isnan(values[1, 1])
    mean, std = report.band(values)
    assert mean.tolist() == [2.0, 3.0] and std[0] == pytest.approx(np.sqrt(2))
    assert report.fmt(np.array([1.0, 3.0])) == "2.0 ± 1.4"


def test_verdict_rows_parse_and_round_trip():
    lines = ["1. **A beats B** (rule: lower): holds. 3.0 vs 4.0.",
             "2. **EWC faster**: cannot be tested: every task hit the cap",
             "3. **C < D** (paper 149 vs 165): does not hold. 170 vs 160"]
    rows = report.verdict_rows(lines)
    assert [r["verdict"] for r in rows] == ["holds", "cannot be tested", "does not hold"]
    assert rows[0]["claim"] == "A beats B" and "3.0 vs 4.0" in rows[0]["ours"]
    report.save_verdicts("page", "smoke", rows)
    assert report.load_verdicts("smoke") == {"page": rows}
    with pytest.raises(ValueError, match="no verdict"):
        report.verdict_rows(["**claim** with no verdict"])
    with pytest.raises(ValueError, match="bad verdict row"):
        report.save_verdicts("page", "smoke", [{"claim": "x", "verdict": "maybe"}])


def test_surviving_keeps_labels_with_results_and_refuses_none():
    runs = report.Runs(results={"a": [{}]}, failed=[("b", 0, "nan")])
    assert report.surviving(runs, ["a", "b"]) == ["a"]
    with pytest.raises(RuntimeError, match="every run failed"):
        report.surviving(runs, ["b"])
