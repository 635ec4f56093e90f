"""The book's exercises: data, checks, the smoke form of ``make exercises``, the thread rule,
and the silent numerics fingerprint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from lgm.device import ENV, rule_threads, thread_count
from lgm.report import exercises as ex
from lgm.report.exercise_data import EXERCISES

ROOT = Path(__file__).resolve().parent.parent


def test_every_page_with_exercises_shows_them_from_the_data():
    pages = {e.page for e in EXERCISES}
    for page in pages:
        source = (ROOT / "notebooks" / f"{page}.py").read_text()
        assert f'show_exercises("{page}")' in source, page
        assert "{admonition} Exercise" not in source, f"{page} still types an exercise in"
    keys = [e.key for e in EXERCISES]
    assert len(keys) == len(set(keys))
    for page in pages:
        assert [e.number for e in ex.page_exercises(page)] == list(
            range(1, len(ex.page_exercises(page)) + 1)), page


def test_no_exercise_states_a_time_by_hand():
    """Times come from the record, never from the prose."""
    for e in EXERCISES:
        for text in (e.question, e.after, e.solution):
            assert not re.search(r"\d+ s\b|\bs of (CPU|wall)|minute", text), (e.key, text)


def test_a_runnable_exercise_asserts_an_outcome():
    for e in EXERCISES:
        if e.snippet is not None:
            assert e.expects, e.key
            compile(e.snippet, e.key, "exec")


def test_the_committed_record_covers_every_exercise_and_all_match():
    """The pages' times come from the record: every runnable exercise has been measured cold
    and warm by make exercises, with its outcome matching its solution."""
    record = ex.load_record()
    for e in EXERCISES:
        if e.snippet is None:
            continue
        entry = record["exercises"][e.key]
        assert entry["matches"], (e.key, entry["cold"]["failures"])
        assert entry["cold"]["wall_s"] > 0 and entry["warm"]["cpu_s"] > 0, e.key
        assert set(entry["cold"]["outcome"]) >= {x.name for x in e.expects}, e.key


def test_check_compares_numbers_tuples_and_booleans():
    e = ex.Exercise("p", 1, "t", "q", "x = 1", "s", expects=(
        ex.Expect("a", "x", 1.0, 0.1), ex.Expect("b", "[x, x]", (1.0, 1.2), 0.1),
        ex.Expect("c", "x > 0", True)))
    assert ex.check(e, {"a": 1.05, "b": [1.0, 1.15], "c": True}) == []
    failures = ex.check(e, {"a": 1.2, "b": [1.0], "c": False})
    assert [f.split(":")[0] for f in failures] == ["a", "b", "c"]
    assert ex.check(e, {"a": {"error": "KeyError('x')"}, "b": [1, 1.1], "c": True})


def test_markdown_shows_recorded_times_and_verdict():
    e = next(x for x in EXERCISES if x.key == "kd_hm.1")
    record = {"date": "2026-12-07", "machine": {"cores": 2, "cpu": "EPYC", "threads": 1},
              "exercises": {"kd_hm.1": {
                  "matches": True, "cold": {"wall_s": 61.0, "cpu_s": 55.0, "failures": []},
                  "warm": {"wall_s": 4.0, "cpu_s": 3.0, "failures": []}}}}
    text = ex.exercise_markdown(e, record)
    assert text.startswith("````{admonition} Exercise 1: distil without the latent loss\n"
                           ":class: tip\n")
    assert "61 s of wall time (55 s of CPU)" in text and "run again on that cache 4 s" in text
    assert "matched the solution" in text and e.snippet.strip() in text
    assert "not measured yet" in ex.exercise_markdown(e, {})
    record["background"] = {"kd_hm.1": {"cold": {"wall_s": 118.0, "cpu_s": 55.0}}}
    assert "beside one other busy job (nice 0) 118 s" in ex.exercise_markdown(e, record)


def test_rerun_box_text_comes_from_the_record():
    record = {"date": "2026-12-07", "machine": {"cores": 2, "threads": 1}, "pages": {
        "kd_hm": {"cold": {"wall_s": 57.0, "cpu_s": 50.0, "returncode": 0},
                  "warm": {"wall_s": 8.0, "cpu_s": 7.0, "returncode": 0}}}}
    text = ex.page_time_text("kd_hm", record)
    assert "57 s from an empty cache (50 s of CPU), 8 s again on that cache" in text
    assert ex.page_time_text("fig3", record) is None


def test_a_wrong_expected_outcome_fails_the_runner(tmp_path):
    """The runner executes the snippet in a fresh process and compares: a solution that
    states a wrong outcome fails."""
    right = ex.Exercise("p", 1, "t", "q", "counts = [2 * k for k in range(3)]\nprint(counts)",
                        "s", expects=(ex.Expect("counts", "counts", (0.0, 2.0, 4.0),
                                                smoke=True),))
    wrong = ex.Exercise("p", 2, "t", "q", right.snippet, "s",
                        expects=(ex.Expect("counts", "counts", (0.0, 2.0, 5.0), smoke=True),))
    failures = ex.run_smoke([right, wrong], tmp_path)
    assert failures == {"p.1": [], "p.2": ["counts: expected (0.0, 2.0, 5.0), got [0, 2, 4]"]}


def test_exercises_run_at_the_smoke_preset(tmp_path, fake_data_root):
    """Every snippet executes (at the smoke preset, each on an empty cache, in one fresh
    process) and the outcomes that do not depend on training match their solutions."""
    failures = ex.run_smoke(EXERCISES, tmp_path, env={"LGM_DATA": str(fake_data_root),
                                                     "LGM_PROGRESS": "0"})
    assert not any(failures.values()), failures


def test_the_thread_rule(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert thread_count() == 1
    assert thread_count({ENV: "3"}) == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(ValueError, match=ENV):
            thread_count({ENV: bad})
    before = torch.get_num_threads()
    monkeypatch.setenv(ENV, "1")
    with rule_threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_the_lifelong_fingerprint_prints_nothing(capfd, monkeypatch):
    monkeypatch.setenv("LGM_PROGRESS", "1")
    from lgm.experiments.fingerprints import lifelong_fingerprint

    values = lifelong_fingerprint()
    out, err = capfd.readouterr()
    assert values and out == "" and err == ""
    import os
    assert os.environ["LGM_PROGRESS"] == "1"
