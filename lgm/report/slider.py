"""An offline slider over a precomputed sweep, for course material.

A reader moves an ``<input type="range">`` over the values of one parameter and sees, for
each value, a line chart (inline SVG) and a small table of numbers. Everything is in the
snippet: the sweep as JSON in a ``<script type="application/json">`` element, and a few
lines of plain JavaScript that draw the chart from it. No library, no network, no kernel:
it works in the built Jupyter Book opened from ``file://`` (myst-nb keeps ``text/html``
outputs, scripts included) and in a trusted notebook.

A sweep is plain JSON-able data::

    values = [1, 2, 5]                       # the parameter's values, one frame each
    frames = [{"x": [1], "series": {"ours": [0.1], "local": [0.2]},
               "numbers": {"output KL, ours": 0.01, "output KL, local": 0.02}}, ...]
    slider_html("L", values, frames, x_label="j", y_label="nats", log_y=True)

Every frame has the same series and the same numbers (in the same order); a series has one
``y`` per ``x`` of its frame. The chart's axes span all frames, so moving the slider shows
how the curves grow. The chart is drawn at the box's width in CSS pixels (redrawn when the
box's width changes), so its text stays 13 px at any width.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

Number = int | float
FONT_PX = 14  # the snippet's text; the chart's tick labels are 13 px
COLOURS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700", "#57606a")
_COUNTER = itertools.count()


def _finite(value: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where}: not finite ({value!r}); JSON has no NaN or infinity")
    if positive and value <= 0:
        raise ValueError(f"{where}: {value!r} is not > 0, which a log scale (log_y) needs")
    return float(value)


def validate_sweep(param: str, values: Sequence[Any], frames: Sequence[Mapping[str, Any]],
                   *, log_y: bool = False) -> None:
    """Raise ``ValueError`` naming the first field that does not fit the shape above."""
    if not isinstance(param, str) or not param:
        raise ValueError("param: expected a non-empty name")
    if len(values) == 0:
        raise ValueError("values: empty (a slider needs at least one value)")
    if len(values) != len(frames):
        raise ValueError(f"frames: {len(frames)} frames for {len(values)} values")
    for i, v in enumerate(values):
        if not isinstance(v, str):
            _finite(v, f"values[{i}]")
    first = frames[0]
    names = list(first.get("series", {}))
    numbers = list(first.get("numbers", {}))
    if not names and not numbers:
        raise ValueError("frames[0]: neither series nor numbers")
    for i, frame in enumerate(frames):
        extra = set(frame) - {"x", "series", "numbers"}
        if extra:
            raise ValueError(f"frames[{i}]: unknown key(s) {sorted(extra)} (expected x, series, "
                             "numbers)")
        if list(frame.get("series", {})) != names:
            raise ValueError(f"frames[{i}].series: names {list(frame.get('series', {}))} differ "
                             f"from frames[0]'s {names}")
        if list(frame.get("numbers", {})) != numbers:
            raise ValueError(f"frames[{i}].numbers: names {list(frame.get('numbers', {}))} "
                             f"differ from frames[0]'s {numbers}")
        xs = frame.get("x", [])
        if names and not xs:
            raise ValueError(f"frames[{i}].x: empty (a series needs points)")
        for k, x in enumerate(xs):
            _finite(x, f"frames[{i}].x[{k}]")
        for name, ys in frame.get("series", {}).items():
            if len(ys) != len(xs):
                raise ValueError(f"frames[{i}].series[{name!r}]: {len(ys)} values for "
                                 f"{len(xs)} x")
            for k, y in enumerate(ys):
                _finite(y, f"frames[{i}].series[{name!r}][{k}]", positive=log_y)
        for name, value in frame.get("numbers", {}).items():
            if not isinstance(value, str):
                _finite(value, f"frames[{i}].numbers[{name!r}]")


def _element_id(payload: str) -> str:
    """Unique on a page: a hash of the data and a per-process counter."""
    digest = hashlib.sha1(payload.encode()).hexdigest()[:8]
    return f"lgm-slider-{digest}-{next(_COUNTER)}"


_STYLE = """<style>
.lgm-slider {{ font-size: {font}px; line-height: 1.4; margin: 0.5em 0 1em 0; }}
.lgm-slider .lgm-slider-controls {{ display: flex; align-items: center; gap: 0.8em;
  flex-wrap: wrap; }}
.lgm-slider input[type=range] {{ flex: 1 1 16em; min-width: 12em; }}
.lgm-slider output {{ font-weight: bold; min-width: 7em; }}
.lgm-slider .lgm-slider-legend span {{ margin-right: 1.2em; white-space: nowrap; }}
.lgm-slider .lgm-slider-legend svg {{ display: inline; vertical-align: middle; }}
.lgm-slider .lgm-slider-chart {{ width: 100%; }}
.lgm-slider .lgm-slider-chart svg {{ display: block; color: inherit; }}
.lgm-slider svg text {{ font-size: 13px; fill: currentColor; }}
.lgm-slider .lgm-slider-table {{ overflow-x: auto; }}
.lgm-slider table {{ font-size: {font}px; border-collapse: collapse; margin: 0.4em 0; }}
.lgm-slider td, .lgm-slider th {{ padding: 0.15em 0.8em; text-align: left;
  border-bottom: 1px solid rgba(128, 128, 128, 0.4); }}
.lgm-slider td.lgm-num {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style>"""

# The drawing: plain JavaScript, run where the snippet is inserted. ``ID`` is replaced by the
# snippet's id; everything it needs is in the JSON element ``ID-data``.
_SCRIPT = r"""<script>
(function () {
  "use strict";
  const id = "ID";
  const root = document.getElementById(id);
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  const d = JSON.parse(document.getElementById(id + "-data").textContent);
  const input = document.getElementById(id + "-input");
  const label = document.getElementById(id + "-label");
  const chart = document.getElementById(id + "-chart");
  const body = document.getElementById(id + "-tbody");
  const head = document.getElementById(id + "-value");
  const NS = "http://www.w3.org/2000/svg";
  const fmt = v => {
    if (typeof v !== "number") return String(v);
    const a = Math.abs(v);
    if (v === 0) return "0";
    if (Number.isInteger(v) && a < 1e6) return String(v);
    return (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toPrecision(3);
  };
  const tick = t => String(+t.toPrecision(6));
  const names = Object.keys(d.frames[0].series || {});
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const f of d.frames) {
    for (const x of f.x || []) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); }
    for (const n of names) {
      for (const y of f.series[n]) { y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    }
  }
  if (x0 === x1) { x0 -= 0.5; x1 += 0.5; }
  const ty = y => d.log_y ? Math.log10(y) : y;
  let lo = ty(y0), hi = ty(y1);
  if (d.log_y) { lo = Math.floor(lo); hi = Math.ceil(hi); if (lo === hi) hi += 1; }
  else { if (lo > 0) lo = 0; if (lo === hi) hi = lo + 1; hi += 0.05 * (hi - lo); }
  const integerX = d.frames.every(f => (f.x || []).every(Number.isInteger));
  const niceTicks = (a, b, n, whole) => {
    const raw = (b - a) / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 5, 10].map(m => m * p).find(s => s >= raw);
    if (whole) step = Math.max(1, Math.round(step));
    const out = [];
    for (let t = Math.ceil(a / step) * step; t <= b + 1e-9 * step; t += step) {
      out.push(+t.toPrecision(12));
    }
    return out;
  };
  const el = (tag, attrs, parent, text) => {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  };
  function drawChart(f) {
    chart.textContent = "";
    if (!names.length) return;
    const W = Math.max(300, chart.clientWidth || 640), H = 300;
    const L = 78, R = 16, T = 20, B = 48;
    const svg = el("svg", {width: W, height: H, role: "img",
      "aria-label": d.y_label + " against " + d.x_label + " at " + d.param + " = " + label.value});
    const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R);
    const sy = y => T + (1 - (ty(y) - lo) / (hi - lo)) * (H - T - B);
    const axis = {stroke: "currentColor", "stroke-opacity": 0.6};
    el("line", {x1: L, x2: W - R, y1: H - B, y2: H - B, ...axis}, svg);
    el("line", {x1: L, x2: L, y1: T, y2: H - B, ...axis}, svg);
    const xt = niceTicks(x0, x1, Math.max(2, Math.floor((W - L - R) / 70)), integerX);
    for (const t of xt) {
      el("line", {x1: sx(t), x2: sx(t), y1: H - B, y2: H - B + 5, ...axis}, svg);
      el("text", {x: sx(t), y: H - B + 19, "text-anchor": "middle"}, svg, tick(t));
    }
    const yt = d.log_y ? niceTicks(lo, hi, Math.min(6, hi - lo), true) : niceTicks(lo, hi, 5);
    for (const t of yt) {
      const v = d.log_y ? Math.pow(10, t) : t, y = sy(v);
      el("line", {x1: L, x2: W - R, y1: y, y2: y, stroke: "currentColor",
                  "stroke-opacity": 0.12}, svg);
      const label = el("text", {x: L - 7, y: y + 4, "text-anchor": "end"}, svg,
                       d.log_y ? "10" : tick(t));
      if (d.log_y) el("tspan", {dy: -7}, label, String(t));  // 10 to the power t
    }
    el("text", {x: L + (W - L - R) / 2, y: H - 8, "text-anchor": "middle"}, svg, d.x_label);
    el("text", {x: 14, y: T + (H - T - B) / 2, "text-anchor": "middle",
      transform: "rotate(-90 14 " + (T + (H - T - B) / 2) + ")"}, svg, d.y_label);
    names.forEach((n, k) => {
      const c = d.colours[k % d.colours.length];
      const pts = f.x.map((x, i) => sx(x).toFixed(1) + "," + sy(f.series[n][i]).toFixed(1));
      el("polyline", {points: pts.join(" "), fill: "none", stroke: c, "stroke-width": 2}, svg);
      f.x.forEach((x, i) => {
        const dot = el("circle", {cx: sx(x), cy: sy(f.series[n][i]), r: 3, fill: c}, svg);
        el("title", {}, dot, n + ": " + d.x_label + " = " + fmt(x) + ", " + fmt(f.series[n][i]));
      });
    });
    chart.appendChild(svg);
  }
  function show(i) {
    const f = d.frames[i];
    const text = d.param + " = " + fmt(d.values[i]);
    label.value = text;
    label.textContent = text;
    input.setAttribute("aria-valuetext", text);
    head.textContent = "at " + text;
    body.textContent = "";
    for (const [n, v] of Object.entries(f.numbers || {})) {
      const tr = document.createElement("tr");
      const th = document.createElement("td"); th.textContent = n; tr.appendChild(th);
      const td = document.createElement("td"); td.className = "lgm-num"; td.textContent = fmt(v);
      tr.appendChild(td); body.appendChild(tr);
    }
    drawChart(f);
  }
  input.addEventListener("input", () => show(+input.value));
  // Redraw at the box's new width (window resized, sidebar or theme changed the layout).
  let drawn = chart.clientWidth, pending = null;
  const resized = () => {
    if (pending) cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      if (chart.clientWidth !== drawn) { drawn = chart.clientWidth; show(+input.value); }
    });
  };
  if (window.ResizeObserver) new ResizeObserver(resized).observe(chart);
  else window.addEventListener("resize", resized);
  show(+input.value);
})();
</script>"""


def slider_html(param: str, values: Sequence[Number | str],
                frames: Sequence[Mapping[str, Any]], *, x_label: str = "x",
                y_label: str = "y", log_y: bool = False, title: str = "",
                initial: int = 0, colours: Sequence[str] = COLOURS) -> str:
    """The snippet (HTML with its data and script) of a slider over ``values`` of ``param``.

    ``frames[i]`` is what the reader sees at ``values[i]``: a chart of ``series`` (name ->
    one y per ``x``) and a table of ``numbers`` (name -> number or text). ``log_y`` draws the
    chart's y axis on a log scale (every y must then be > 0). ``initial`` is the index shown
    first. Raises ``ValueError`` naming the first bad field, before building anything.
    """
    validate_sweep(param, values, frames, log_y=log_y)
    if not 0 <= initial < len(values):
        raise ValueError(f"initial: {initial} is not an index of the {len(values)} values")
    data = {"param": param, "values": list(values), "frames": [dict(f) for f in frames],
            "x_label": x_label, "y_label": y_label, "log_y": bool(log_y),
            "colours": list(colours)}
    payload = json.dumps(data, allow_nan=False, separators=(",", ":"))
    # "</" would end the <script> element early; "<\/" reads back as the same JSON string.
    payload = payload.replace("</", "<\\/")
    uid = _element_id(payload)
    names = list(frames[0].get("series", {}))
    legend = "".join(
        f'<span><svg width="22" height="10" aria-hidden="true"><line x1="0" x2="22" y1="5" '
        f'y2="5" stroke="{html.escape(colours[k % len(colours)])}" stroke-width="3"/></svg> '
        f"{html.escape(n)}</span>" for k, n in enumerate(names))
    start = f"{param} = {values[initial]}"
    heading = f'<div class="lgm-slider-title"><b>{html.escape(title)}</b></div>' if title else ""
    return (
        _STYLE.format(font=FONT_PX)
        + f'<div class="lgm-slider" id="{uid}">{heading}'
        + '<div class="lgm-slider-controls">'
        + f'<label for="{uid}-input">{html.escape(param)}</label>'
        + f'<input type="range" id="{uid}-input" min="0" max="{len(values) - 1}" step="1" '
        + f'value="{initial}" aria-label="{html.escape(param)}">'
        + f'<output id="{uid}-label" for="{uid}-input" aria-live="polite">'
        + f"{html.escape(start)}</output></div>"
        + (f'<div class="lgm-slider-legend">{legend}</div>' if names else "")
        + f'<div class="lgm-slider-chart" id="{uid}-chart"></div>'
        + '<div class="lgm-slider-table"><table><thead><tr><th>quantity</th>'
        + f'<th id="{uid}-value">at {html.escape(start)}</th></tr></thead>'
        + f'<tbody id="{uid}-tbody"></tbody></table></div>'
        + f'<script type="application/json" id="{uid}-data">{payload}</script>'
        + "</div>"
        + _SCRIPT.replace('"ID"', json.dumps(uid))
    )


def slider(param: str, values: Sequence[Number | str], frames: Sequence[Mapping[str, Any]],
           **options: Any) -> Any:
    """:func:`slider_html` as an ``IPython.display.HTML`` object, for ``display()``."""
    from IPython.display import HTML

    return HTML(slider_html(param, values, frames, **options))


def embedded_data(snippet: str) -> dict[str, Any]:
    """The sweep a snippet embeds, read back (for tests and for checking a built page)."""
    start = snippet.index('type="application/json"')
    begin = snippet.index(">", start) + 1
    end = snippet.index("</script>", begin)
    return json.loads(snippet[begin:end])
