"""The offline slider (lgm.report.slider): its data read back, its ids, its bad input, and the
snippet moved with the keyboard in headless Chromium from ``file://`` (skipped like
``tests/test_book_browser.py`` when chromium is absent)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_book_browser import driver  # noqa: F401  (the module's browser fixture)

from lgm.report.slider import embedded_data, slider, slider_html

VALUES = [1, 2, 5]
FRAMES = [
    {"x": [1], "series": {"ours": [0.5], "local": [0.25]},
     "numbers": {"output KL, ours": 0.125, "output KL, local": 0.0625, "note": "L = 1"}},
    {"x": [1, 2], "series": {"ours": [0.5, 1.0], "local": [0.25, 0.5]},
     "numbers": {"output KL, ours": 0.25, "output KL, local": 0.125, "note": "L = 2"}},
    {"x": [1, 2, 3, 4, 5], "series": {"ours": [0.5, 1.0, 2.0, 4.0, 8.0],
                                      "local": [0.25, 0.5, 1.0, 2.0, 4.0]},
     "numbers": {"output KL, ours": 4.0, "output KL, local": 0.001953125, "note": "</script>"}},
]


def _ids(snippet: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', snippet))


def test_embedded_json_is_the_data_given():
    snippet = slider_html("L", VALUES, FRAMES, x_label="j", y_label="nats", log_y=True)
    data = embedded_data(snippet)
    assert data["param"] == "L"
    assert data["values"] == VALUES
    assert data["frames"] == FRAMES  # "</script>" inside the data survives the embedding
    assert data["log_y"] is True
    assert snippet.count("</script>") == 2  # the JSON element's and the drawing script's
    assert slider("L", VALUES, FRAMES).data.count('type="range"') == 1


def test_ids_are_unique_across_snippets():
    a = slider_html("L", VALUES, FRAMES)
    b = slider_html("L", VALUES, FRAMES)  # the same data twice on one page
    assert _ids(a) and not _ids(a) & _ids(b)
    uid = re.search(r'class="lgm-slider" id="([^"]+)"', a).group(1)
    assert f"const id = {json.dumps(uid)};" in a


@pytest.mark.parametrize("change, culprit", [
    (lambda f: f[1]["series"].pop("local"), "frames[1].series"),
    (lambda f: f[2]["series"]["ours"].pop(), "frames[2].series['ours']: 4 values for 5 x"),
    (lambda f: f[0]["numbers"].update({"output KL, ours": float("nan")}),
     "frames[0].numbers['output KL, ours']: not finite"),
    (lambda f: f[1]["series"]["local"].__setitem__(0, 0.0), "is not > 0"),
    (lambda f: f.pop(), "frames: 2 frames for 3 values"),
])
def test_bad_input_names_the_field(change, culprit):
    frames = json.loads(json.dumps(FRAMES))
    change(frames)
    with pytest.raises(ValueError, match=re.escape(culprit)):
        slider_html("L", VALUES, frames, log_y=True)


STATE = r"""
const root = document.querySelector(".lgm-slider");
const font = e => parseFloat(getComputedStyle(e).fontSize);
const texts = [...root.querySelectorAll("label, output, td, th, span, text")];
return {
  label: root.querySelector("output").textContent,
  head: root.querySelector("th:last-child").textContent,
  rows: [...root.querySelectorAll("tbody tr")].map(r => r.textContent),
  points: root.querySelectorAll("svg circle").length,
  lines: root.querySelectorAll("svg polyline").length,
  smallest: Math.min(...texts.map(font)),
  focused: document.activeElement === root.querySelector("input[type=range]"),
};
"""


def test_slider_moves_with_the_keyboard_from_file(driver, tmp_path: Path):  # noqa: F811
    """Two snippets on one page; the first moved by ARROW_RIGHT: label, table and chart
    change, no console error, text >= 13 px; a narrower box redraws the chart to fit."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page = tmp_path / "slider.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'><title>slider</title>"
                    "</head><body style='width:760px'>"
                    + slider_html("L", VALUES, FRAMES, x_label="conditional j",
                                  y_label="nats", log_y=True, title="a sweep")
                    + slider_html("L", VALUES, FRAMES) + "</body></html>")
    driver.get_log("browser")
    driver.get(page.as_uri())
    before = driver.execute_script(STATE)
    assert before["label"] == "L = 1" and before["head"] == "at L = 1"
    assert before["rows"] == ["output KL, ours0.125", "output KL, local0.0625", "noteL = 1"]
    assert before["points"] == 2 and before["lines"] == 2

    driver.find_elements(By.CSS_SELECTOR, "input[type=range]")[0].send_keys(Keys.ARROW_RIGHT)
    after = driver.execute_script(STATE)
    assert after["focused"]
    assert after["label"] == "L = 2" and after["head"] == "at L = 2"
    assert after["rows"] == ["output KL, ours0.250", "output KL, local0.125", "noteL = 2"]
    assert after["points"] == 4

    driver.find_elements(By.CSS_SELECTOR, "input[type=range]")[0].send_keys(Keys.ARROW_RIGHT)
    last = driver.execute_script(STATE)
    assert last["label"] == "L = 5" and last["points"] == 10
    assert last["rows"] == ["output KL, ours4", "output KL, local0.00195", "note</script>"]
    second = driver.execute_script(
        "return document.querySelectorAll('.lgm-slider output')[1].textContent")
    assert second == "L = 1"  # the other slider did not move
    assert last["smallest"] >= 13
    widths = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.body.style.width = '480px';"
        "setTimeout(() => { const c = document.querySelector('.lgm-slider-chart');"
        "  done([c.clientWidth, +c.querySelector('svg').getAttribute('width')]); }, 300);")
    assert widths[0] == widths[1] < 760  # redrawn at the narrower box's width
    assert driver.execute_script(STATE)["points"] == 10  # still at L = 5
    errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors


def test_toy_page_slider_reads_the_headline_per_depth():
    """ToyPage.slider's frames: per depth, the per-layer errors (means over seeds, the NaN
    padding beyond L dropped), output and joint KL means, the per-seed ratio's median."""
    import numpy as np

    from lgm.report.kd_toy import ToyPage

    nan = float("nan")
    errors = {"ours": [[[0.5, nan, nan], [0.5, 1.0, 2.0]], [[0.25, nan, nan], [1.5, 1.0, 4.0]]],
              "local": [[[0.5, nan, nan], [0.25, 0.5, 0.5]], [[0.25, nan, nan], [0.25, 0.5, 1.0]]]}
    exact = {"ours": [[0.125, 1.0], [0.125, 0.5]], "local": [[0.125, 0.25], [0.125, 1.0]]}
    page = ToyPage.__new__(ToyPage)  # no run: the headline is given
    page.figure, page.source = "Fig. 2", "a `test` headline"
    page.headline = {
        "config": {"layers": [1, 3], "methods": ["ours", "local"], "seeds": [0, 1]},
        "arrays": {f"layer_error_{m}": np.array(e) for m, e in errors.items()},
        **{f"kl_exact_{m}": v for m, v in exact.items()},
        **{f"kl_joint_{m}": np.nansum(np.array(e), -1).tolist() for m, e in errors.items()},
    }
    values, frames = page.slider_data()
    assert values == [1, 3]
    assert [f["x"] for f in frames] == [[1], [1, 2, 3]]
    assert frames[1]["series"] == {"ours": [1.0, 1.0, 3.0], "local": [0.25, 0.5, 0.75]}
    assert frames[1]["numbers"] == {
        "output KL, ours": 0.75, "output KL, local": 0.625,
        "joint KL (sum of e_j), ours": 5.0, "joint KL (sum of e_j), local": 1.5,
        "output KL, ours / local (median over seeds)": 2.25,  # ratios 4 and 0.5
        "seeds where ours is below local": "1 of 2"}
    data = embedded_data(page.slider().data)
    assert data["frames"] == frames and data["values"] == values and data["log_y"] is True
