"""The KD toy chains' pages (Figs. 2 and 5): verdict lines, KL and readings tables.

Computation is in :mod:`lgm.experiments.kd_toy`; this module only words and tabulates it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lgm.experiments.kd_toy import READINGS
from lgm.report.kd_toy_verdicts import claims, reproduced, summary
from lgm.report.tables import markdown_table


def verdict_lines(result: dict[str, Any], figure: str, reading: str) -> list[str]:
    """Verdict lines (``N. **claim** (rule): verdict. detail``) on the exact KL of ``result``."""
    c = claims(result)
    word = {True: "holds", False: "does not hold"}
    if not c["testable"]:
        return [f"1. **{figure} ({reading}): local grows with L, ours stays low** (needs both "
                "methods, two depths and two seeds): cannot be tested."]
    n = c["depth"]
    return [
        f"1. **{figure} ({reading}): the error of local distillation grows with L** (rule: "
        f"weighted slope of its exact KL against L above 0 by 2 standard errors over seeds): "
        f"{word[c['local_grows']]}. Slope {c['slope_local']:.2e} ± {c['slope_local_se']:.1e} "
        f"nats per layer; KL {c['local_first']:.2e} at L = 1, {c['local_last']:.2e} ± "
        f"{c['local_last_se']:.1e} at L = {n}.",
        f"2. **{figure} ({reading}): ours accumulates less error than local** (rule: at L = "
        f"{n}, ours' exact KL below local's by 2 combined standard errors): "
        f"{word[c['ours_below']]}. Ours {c['ours_last']:.2e} ± {c['ours_last_se']:.1e}, "
        f"local {c['local_last']:.2e} ± {c['local_last_se']:.1e}.",
        f"3. **{figure} ({reading}): ours' error grows more slowly in L than local's** (rule: "
        f"slope of local minus slope of ours above 0 by 2 standard errors): "
        f"{word[c['slower']]}. Slopes: ours {c['slope_ours']:.2e} ± "
        f"{c['slope_ours_se']:.1e}, local {c['slope_local']:.2e} ± {c['slope_local_se']:.1e}.",
    ]


def kl_markdown(result: dict[str, Any], paper: str) -> str:
    """Table: per depth and method, the exact KL and the density-ratio estimate (mean ± sd over
    seeds; the estimate's mean standard error in brackets), and the paper's claim."""
    exact, est = summary(result, "kl_exact"), summary(result, "kl_est")
    methods = list(exact)
    se = {m: np.mean(np.asarray(result[f"kl_se_{m}"]), 0) for m in methods}
    rows = []
    for i, n in enumerate(exact[methods[0]]["layers"]):
        row: list[Any] = [int(n)]
        for m in methods:
            row.append(f"{exact[m]['mean'][i]:.2e} ± {exact[m]['sd'][i]:.1e}")
            row.append(f"{est[m]['mean'][i]:+.4f} ± {est[m]['sd'][i]:.4f} "
                       f"({se[m][i]:.4f})")
        rows.append(row)
    header = ["L"] + [f"{m}: {k}" for m in methods for k in ("exact KL", "estimated KL")]
    return markdown_table(header, rows) + f"\n\n(paper: {paper})"


def readings_markdown(readings: dict[str, dict[str, Any]], chain: str) -> str:
    """The readings side by side: what varies, exact KL at L = 1 and the largest L for both
    methods, slopes, and the verdict (the figure reproduced: local grows and ours is below)."""
    rows = []
    described = {label: what for label, what, _ in READINGS[chain]}
    for label, result in readings.items():
        c = claims(result)
        if not c["testable"]:
            rows.append([f"`{label}`", described[label], "–", "–", "–", "–",
                         "cannot be tested (one seed)"])
            continue
        verdict = "holds" if reproduced(c) else "does not hold"
        rows.append([f"`{label}`", described[label],
                     f"{c['local_first']:.1e} → {c['local_last']:.1e}",
                     f"{c['ours_first']:.1e} → {c['ours_last']:.1e}",
                     f"{c['slope_local']:.1e} / {c['slope_ours']:.1e}",
                     ", ".join(k for k in ("local_grows", "ours_below", "slower") if c[k])
                     or "none", verdict])
    header = ["reading", "what differs from the literal one", "local KL, L = 1 → max",
              "ours KL, L = 1 → max", "slopes local / ours (nats per layer)",
              "claims that hold", "figure reproduced"]
    return markdown_table(header, rows)


# --------------------------------------------------------------- paper-preset readings
STATUS_OF = {"ours below": "holds", "ours above": "does not hold",
             "undecided": "cannot be tested at this budget",
             "cannot be tested": "cannot be tested at this budget",
             "untestable": "cannot be tested at this budget"}
RULE = ("exact KL; ours beats local over a depth range when the median over seeds of the "
        "per-seed ratio ours / local (geometric mean over the range's depths) and the ratio "
        "of the means over seeds are both below 1, and stay so when any one seed is left out "
        "(else undecided: one seed cannot decide)")
SHOWN_DEPTHS = (5, 10, 20)


def range_rows(readings: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (reading, depth range): the comparison of
    :func:`lgm.report.kd_toy_verdicts.range_comparison` with the reading's label."""
    from lgm.report.kd_toy_verdicts import RANGES, range_comparison

    return [{"label": label, "range": name, **range_comparison(result, lo, hi)}
            for label, result in readings.items() for name, (lo, hi) in RANGES.items()]


def _word(row: dict[str, Any]) -> str:
    return {"ours below": "ours beats local", "ours above": "ours loses to local",
            "undecided": f"undecided ({row['reason']})",
            "untestable": f"untestable ({row['reason']})"}[row["verdict"]]


def range_markdown(readings: dict[str, dict[str, Any]], missing: list[str]) -> str:
    """Table: per reading and depth range, the median over seeds of ours / local, the ratio
    of the means, and the verdict; the readings not yet run, named."""
    from lgm.experiments.kd_toy_sweep import describe

    rows = []
    for r in range_rows(readings):
        ratios = ("–", "–") if "median_ratio" not in r else (
            f"{r['median_ratio']:.3g}", f"{r['mean_ratio']:.3g}")
        rows.append([f"`{r['label']}`", describe(r["label"]), r["range"], *ratios, _word(r)])
    for label in missing:
        rows.append([f"`{label}`", describe(label), "all", "–", "–", "not yet run"])
    header = ["reading", "what", "depths", "ours / local, median over seeds",
              "ours / local, ratio of means", "verdict"]
    return markdown_table(header, rows)


def depth_markdown(readings: dict[str, dict[str, Any]]) -> str:
    """Table: per reading, the exact KLs at L = 5, 10, 20 (mean and median over seeds, ours
    and local), and the reading's wall time on one CPU thread."""
    from lgm.experiments.kd_toy import cpu_seconds

    rows = []
    for label, result in readings.items():
        layers = list(result["config"]["layers"])
        for n in SHOWN_DEPTHS:
            if n not in layers:
                continue
            i = layers.index(n)
            cells = []
            for m in ("ours", "local"):
                col = np.asarray(result[f"kl_exact_{m}"], float)[:, i]
                cells += [f"{col.mean():.2e}", f"{np.median(col):.2e}"]
            prov = result.get("provenance", {})
            rows.append([f"`{label}`", n, *cells,
                         f"{cpu_seconds(result):.0f} s ({prov.get('device', '?')})"
                         if n == SHOWN_DEPTHS[0] else ""])
    header = ["reading", "L", "ours: mean", "ours: median", "local: mean", "local: median",
              "wall time (train + eval)"]
    return markdown_table(header, rows)


def grid_note(result: dict[str, Any]) -> str:
    """The Gaussian grid's checks of one result: the largest change of the exact KL when the
    spacing doubles and (results with a range check) when the range doubles, and the mass the
    teacher's and the students' output laws leave outside the grid at the largest L (for the
    earlier results, the teacher's from its stored law)."""
    arrays, cfg = result["arrays"], result["config"]
    methods = list(cfg["methods"])
    parts = [f"spacing x2 changes the exact KL by at most "
             f"{max(float(np.nanmax(arrays[f'kl_check_{m}'])) for m in methods):.1e} nats"]
    if all(f"kl_range_{m}" in arrays for m in methods):
        layers = list(cfg["layers"])
        for lo, hi in ((2, 10), (20, 20)):
            cols = [i for i, n in enumerate(layers) if lo <= n <= hi]
            if not cols:
                continue
            rel = {m: float(np.nanmax(np.asarray(arrays[f"kl_range_{m}"])[:, cols]
                                      / np.asarray(arrays[f"kl_exact_{m}"])[:, cols]))
                   for m in methods}
            where = f"at {lo} ≤ L ≤ {hi}" if lo < hi else f"at L = {lo}"
            whose = {"ours": "ours'", "local": "local's"}
            parts.append(f"range x2 {where} by at most " + ", ".join(
                f"{rel[m]:.0%} of {whose.get(m, m)} KL" for m in methods))
    if "mass_out_teacher" in arrays:
        teacher = float(np.asarray(arrays["mass_out_teacher"])[-1])
        students = max(float(np.nanmax(np.asarray(arrays[f"mass_out_{m}"])[:, -1]))
                       for m in methods)
        parts.append(f"mass outside the grid at L = {max(cfg['layers'])}: teacher "
                     f"{teacher:.1e}, students at most {students:.1e} (on the doubled range: "
                     f"teacher {float(np.asarray(arrays['mass_out_wide_teacher'])[-1]):.1e})")
    elif cfg.get("chain") == "gaussian":
        states, law = np.asarray(arrays["law_states"]), np.asarray(arrays["law_teacher"])
        w = np.full(len(states), states[1] - states[0])
        w[0] = w[-1] = w[0] / 2
        parts.append(f"the teacher's mass outside the grid at L = {max(cfg['layers'])}: "
                     f"{1 - float((w * law).sum()):.1e} (this run predates the range check)")
    return "; ".join(parts) + "."


def evaluation_spread(readings: dict[str, dict[str, Any]]) -> str:
    """Local's students do not depend on lambda: where a lambda reading's local training
    losses equal the literal reading's, its students are the same and their exact KLs differ
    only through the evaluation (the grid's range and spacing follow both methods' samples).
    The largest relative difference at 2 <= L <= 10 and at L = 20, per such reading."""
    base = readings.get("literal")
    if base is None or "arrays" not in base:
        return ""
    out = []
    for label in ("lam0", "lam0.01"):
        other = readings.get(label)
        if other is None or not np.array_equal(base["arrays"]["loss_local"],
                                               other["arrays"]["loss_local"]):
            continue
        layers = list(base["config"]["layers"])
        a = np.asarray(base["kl_exact_local"], float)
        b = np.asarray(other["kl_exact_local"], float)
        rel = np.abs(a - b) / np.maximum(a, b)
        shallow = [i for i, n in enumerate(layers) if 2 <= n <= 10]
        deep = [i for i, n in enumerate(layers) if n == 20]
        out.append(f"`{label}` vs `literal`: local's training losses are identical (the same "
                   f"students), its exact KLs differ by at most {rel[:, shallow].max():.1%} at "
                   f"2 ≤ L ≤ 10 and {rel[:, deep].max():.1%} at L = 20, from the evaluation "
                   "grid alone")
    return ("The evaluation's own spread: " + "; ".join(out) + ".") if out else ""


def _names(labels: list[str]) -> str:
    return ", ".join(f"`{lb}`" for lb in labels) if labels else "none"


def lead_statement(readings: dict[str, dict[str, Any]], missing: list[str]) -> str:
    """What holds under which reading, per depth range, from the committed runs (no
    hand-written result: the sentence is made from the verdicts)."""
    from lgm.report.kd_toy_verdicts import RANGES

    rows = range_rows(readings)
    parts = []
    for name in RANGES:
        here = [r for r in rows if r["range"] == name]
        beats = [r["label"] for r in here if r["verdict"] == "ours below"]
        loses = [r["label"] for r in here if r["verdict"] == "ours above"]
        open_ = [r["label"] for r in here if r["verdict"] in ("undecided", "untestable")]
        tex = name.replace("<=", "\\le")
        if here and len(loses) == len(here):
            parts.append(f"at ${tex}$ ours loses to local under every "
                         f"reading run ({_names(loses)})")
        elif here and len(beats) == len(here):
            parts.append(f"at ${tex}$ ours beats local under every "
                         f"reading run ({_names(beats)})")
        else:
            said = [f"{verb} {_names(labels)}" for verb, labels in (
                ("beats local under", beats), ("loses to local under", loses),
                ("is undecided under", open_)) if labels]
            parts.append(f"at ${tex}$ ours " + ", ".join(said[:-1])
                         + (" and " if len(said) > 1 else "") + said[-1])
    text = "; ".join(parts)
    text = text[0].upper() + text[1:] + "."
    if missing:
        text += f" Not yet run at paper scale: {_names(missing)}."
    return text


def range_claims(page: str, preset: str, figure: str, readings: dict[str, dict[str, Any]],
                 missing: list[str]) -> list[Any]:
    """The verdicts per reading and depth range as :class:`lgm.report.claims.Claim` records
    (readings not yet run: "not yet run at paper scale")."""
    from lgm.experiments.kd_toy_sweep import describe
    from lgm.report.claims import NOT_YET_RUN, Claim
    from lgm.report.kd_toy_verdicts import RANGES

    out = []
    for r in range_rows(readings):
        ours = ("" if "median_ratio" not in r else
                f"ours / local: median over seeds {r['median_ratio']:.3g}, ratio of means "
                f"{r['mean_ratio']:.3g}") + (f"; {r['reason']}" if r["reason"] else "")
        out.append(Claim(page=page, preset=preset,
                         text=f"{figure}, reading `{r['label']}` ({describe(r['label'])}): ours "
                              f"accumulates less error than local at {r['range']}",
                         paper_value="qualitative (no numbers)", ours=ours,
                         status=STATUS_OF[r["verdict"]]))  # type: ignore[arg-type]
    for label in missing:
        for name in RANGES:
            out.append(Claim(page=page, preset=preset,
                             text=f"{figure}, reading `{label}` ({describe(label)}): ours "
                                  f"accumulates less error than local at {name}",
                             paper_value="qualitative (no numbers)", ours="",
                             status=NOT_YET_RUN))
    return out


AXES = {"lambda": (("lam0", "λ = 0: eq. 4 alone"), ("lam0.01", "λ = 0.01"),
                   ("literal", "λ = 0.1 (literal)")),
        "student": (("literal", "residual, 16 units"), ("mlp8", "MLP, 8 units"),
                    ("mlp3", "MLP, 3 units"))}


def axis_frames(readings: dict[str, dict[str, Any]], axis: str
                ) -> tuple[list[str], list[dict[str, Any]]]:
    """Frames of an offline slider over one axis (λ or the student) of the paper-preset
    readings that are run: per reading, the exact KL against L of both methods (medians over
    seeds) and the numbers at L = 5, 10, 20 (mean and median)."""
    values, frames = [], []
    for label, name in AXES[axis]:
        if label not in readings:
            continue
        result = readings[label]
        layers = [int(n) for n in result["config"]["layers"]]
        series, numbers = {}, {}
        for m in ("ours", "local"):
            kl = np.asarray(result[f"kl_exact_{m}"], float)
            series[f"{m} (median over seeds)"] = [float(max(v, 1e-12))
                                                  for v in np.median(kl, 0)]
        for n in SHOWN_DEPTHS:
            i = layers.index(n) if n in layers else None
            for m in ("ours", "local"):
                kl = np.asarray(result[f"kl_exact_{m}"], float)
                numbers[f"L = {n}, {m}: mean / median"] = (
                    "–" if i is None else f"{kl[:, i].mean():.2e} / {np.median(kl[:, i]):.2e}")
        for r in range_rows({label: result}):
            numbers[f"verdict at {r['range']}"] = _word(r)
        values.append(name)
        frames.append({"x": layers, "series": series, "numbers": numbers})
    return values, frames


class ToyPage:
    """The code of the kd_fig2 and kd_fig5 pages, one method per cell: the headline result
    (the paper preset's if committed, else the literal reading's, else the page's own run),
    its figure and KL table, the joint-vs-output note, the readings, the verdicts and the
    closing numbers."""

    TITLES = {"gaussian": "Gaussian chain", "binomial": "Binomial chain"}

    def __init__(self, chain: str, page: str, figure: str, preset: str, seeds: list[int],
                 device: str, figure_dir: str) -> None:
        import time

        from lgm.experiments.kd_toy import run_toy, toy_config
        from lgm.report.runs import resolve_seeds

        self.started = time.perf_counter()
        self.chain, self.page, self.figure, self.preset = chain, page, figure, preset
        self.device, self.figure_dir = device, figure_dir
        self.seeds = resolve_seeds(preset, seeds)
        self.cfg = toy_config(preset, chain, seeds=tuple(self.seeds), device=device)
        self.own = run_toy(self.cfg)
        self.headline, self.source = self._headline()
        self.readings: dict[str, dict[str, Any]] = {}
        self.paths: list[str] = []

    def _headline(self) -> tuple[dict[str, Any], str]:
        from lgm.experiments.kd_toy import paper_config, reading_config, run_toy

        if self.preset == "paper":
            return self.own, f"this page's preset `{self.preset}`"
        for label, name, cfg in (
                ("the paper preset", None, paper_config(self.chain)),
                ("the literal reading at the readings budget",
                 f"kd_toy_{self.chain}-reading-literal", reading_config(self.chain, "literal"))):
            try:
                return run_toy(cfg, name, recompute=False), f"{label} (committed)"
            except LookupError:
                continue
        return self.own, f"this page's preset `{self.preset}`"

    def describe(self) -> str:
        hc, cfg = self.headline["config"], self.cfg
        return (f"headline: {self.source}: depths {hc['layers'][0]}..{hc['layers'][-1]}, seeds "
                f"{hc['seeds']}, {hc['steps']} steps of {hc['batch']}; this page's own run: "
                f"preset {self.preset}, {len(cfg.layers)} depths, seeds {list(cfg.seeds)}, "
                f"{cfg.steps} steps")

    def headline_figure(self) -> None:
        from pathlib import Path

        from lgm.report.kd_toy_plots import toy_figure

        path = Path(self.figure_dir) / f"{self.page}.png"
        toy_figure(self.headline, f"{self.TITLES[self.chain]} ({self.figure}), {self.source}: "
                   f"{len(self.headline['config']['seeds'])} seed(s)", path)
        self.paths.append(str(path))

    def kl_table(self) -> str:
        from lgm.experiments.kd_toy import PAPER

        return kl_markdown(self.headline, f"{PAPER[self.chain]['figure']}: "
                           + "; ".join(PAPER[self.chain]["claims"]) + ", no numbers given")

    def joint_note(self) -> str:
        headline = self.headline
        joint, exact = summary(headline, "kl_joint"), summary(headline, "kl_exact")
        n = int(exact["local"]["layers"][-1])
        quadrature = max(float(np.nanmax(headline["arrays"][f"kl_check_{m}"]))
                         for m in headline["config"]["methods"])
        check = (f"The grid's checks: {grid_note(headline)}" if self.chain == "gaussian" else
                 "The quadrature's check (largest change with half the root's panels): "
                 f"{quadrature:.1e} nats.")
        return (f"At $L = {n}$: local's per-layer errors sum to {joint['local']['mean'][-1]:.2e} "
                f"nats and its output KL is {exact['local']['mean'][-1]:.2e}; ours' sum to "
                f"{joint['ours']['mean'][-1]:.2e} and its output KL is "
                f"{exact['ours']['mean'][-1]:.2e} (means over seeds). {check}")

    def slider_data(self) -> tuple[list[int], list[dict[str, Any]]]:
        """Per depth L of the headline: the per-layer errors e_j (j = 1..L, means over seeds)
        of both methods, and the output KL (the exact KL(p_teacher(y) || p_student(y)) that
        eq. 4 targets) beside the joint KL (the sum of the e_j, which bounds it), means over
        seeds, and the per-seed ratio of the output KLs, as the frames of
        :func:`lgm.report.slider.slider_html`."""
        arrays, cfg = self.headline["arrays"], self.headline["config"]
        methods = list(cfg["methods"])
        exact, joint = summary(self.headline, "kl_exact"), summary(self.headline, "kl_joint")
        frames = []
        for i in range(len(cfg["layers"])):
            errors = {m: np.asarray(arrays[f"layer_error_{m}"], float)[:, i, :] for m in methods}
            n = int(np.isfinite(errors[methods[0]][0]).sum())
            numbers: dict[str, Any] = {}
            for m in methods:
                numbers[f"output KL, {m}"] = float(exact[m]["mean"][i])
            for m in methods:
                numbers[f"joint KL (sum of e_j), {m}"] = float(joint[m]["mean"][i])
            if {"ours", "local"} <= set(methods):
                ours, local = exact["ours"]["values"][:, i], exact["local"]["values"][:, i]
                numbers["output KL, ours / local (median over seeds)"] = float(
                    np.median(ours / local))
                numbers["seeds where ours is below local"] = (
                    f"{int((ours < local).sum())} of {len(ours)}")
            frames.append({"x": list(range(1, n + 1)),
                           "series": {m: [float(v) for v in errors[m][:, :n].mean(0)]
                                      for m in methods},
                           "numbers": numbers})
        return [int(d) for d in cfg["layers"]], frames

    def slider(self) -> Any:
        """An offline slider over the depth L: the per-layer errors of the L-layer
        students and their output and joint KLs, from the headline results (no training)."""
        from lgm.report.slider import slider

        values, frames = self.slider_data()
        ys = [y for f in frames for s in f["series"].values() for y in s]
        seeds = len(self.headline["config"]["seeds"])
        return slider("L", values, frames, x_label="conditional j (1 = z_2 | z_1, L = y | z_L)",
                      y_label="per-layer error e_j, nats", log_y=min(ys) > 0,
                      initial=len(values) - 1,
                      title=f"{self.figure}, {self.source.replace('`', '')}: the students of "
                            f"depth L (means over {seeds} seed(s))")

    def readings_section(self) -> str:
        """Run (or read) the readings; their table as Markdown, and their figure drawn."""
        from pathlib import Path

        from lgm.experiments.kd_toy import run_readings
        from lgm.report.kd_toy_plots import readings_figure

        self.readings, not_run = run_readings(self.chain, smoke=self.preset == "smoke",
                                              device=self.device,
                                              recompute=self.preset != "quick")
        if self.readings:
            path = Path(self.figure_dir) / f"{self.page}_readings.png"
            readings_figure(self.readings, self.chain, path)
            self.paths.append(str(path))
        return readings_markdown(self.readings, self.chain) + (
            f"\n\nNot run yet (no committed result; run the page at the paper preset to "
            f"compute them): {', '.join(f'`{m}`' for m in not_run)}." if not_run else "")

    def verdicts(self) -> str:
        """The verdict lines (literal reading, then one per reading), recorded for the summary."""
        from lgm.report.claims import Claim, record
        from lgm.report.kd_toy_verdicts import reading_verdict
        from lgm.report.verdict_lines import verdict_rows

        lines = verdict_lines(self.headline, self.figure, "literal reading")
        for label, result in self.readings.items():
            lines.append(f"{len(lines) + 1}. **{self.figure} reproduced under the reading "
                         f"`{label}`** (rule: local grows with L and ours is below local at the "
                         f"largest L, exact KL, two or more seeds): {reading_verdict(result)}.")
        rows = verdict_rows(lines, f"qualitative ({self.figure}, no numbers)")
        found, missing = self.paper_readings()
        extra = range_claims(self.page, self.preset, self.figure, found, missing)
        record(self.page, self.preset, [Claim(
            page=self.page, preset=self.preset, text=r["claim"], paper_value=r["paper"],
            ours=r["ours"], status=STATUS_OF.get(r["verdict"], r["verdict"]))  # type: ignore
            for r in rows] + extra)
        n = len(lines)
        for i, c in enumerate(extra):
            lines.append(f"{n + i + 1}. **{c.text}** (rule: as in the table of the open "
                         f"choices): {c.status}. {c.ours}")
        return "\n".join(lines)

    def closing_numbers(self) -> str:
        from lgm.report.kd_toy_verdicts import reading_verdict

        table = summary(self.headline)
        held = [lb for lb, r in self.readings.items() if reading_verdict(r) == "holds"]
        local, ours = table["local"], table["ours"]
        return (f"Literal reading, {self.source}: local {local['mean'][0]:.2e} nats at L = "
                f"{local['layers'][0]}, {local['mean'][-1]:.2e} at L = {local['layers'][-1]}; "
                f"ours {ours['mean'][0]:.2e} and {ours['mean'][-1]:.2e} (means over seeds). "
                "Readings (reduced budget) under which the figure is reproduced: "
                + (", ".join(f"`{h}`" for h in held) if held else "none") + ".\n\n"
                + self.paper_closing())

    def paper_closing(self) -> str:
        """The paper-preset readings' exact KLs at L = 5, 10, 20 and the CPU time they took."""
        from lgm.experiments.kd_toy import cpu_seconds

        found, missing = self.paper_readings()
        total = sum(cpu_seconds(r) for r in found.values())
        return ("**The paper-preset readings** (exact KL, nats; mean and median over five "
                "seeds): " + lead_statement(found, missing) + "\n\n" + depth_markdown(found)
                + f"\n\nTogether {total:,.0f} s ({total / 3600:.1f} h) of wall time on one "
                "CPU thread (training and evaluation).")

    def paper_readings(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The paper-preset readings found in the cache (committed or local; never trained
        here, whatever the page's preset) and those not yet run; read once."""
        if not hasattr(self, "_paper_readings"):
            from lgm.experiments.kd_toy_sweep import run_readings as paper_readings

            self._paper_readings = paper_readings(self.chain)
        return self._paper_readings

    def lead(self) -> str:
        """The page's leading statement: what holds under which reading and depth range."""
        found, missing = self.paper_readings()
        return ("**What holds, under which reading:** " + lead_statement(found, missing)
                + f"\n\n(Paper preset: L = 1..20, five seeds, 4000 steps of 1024; {RULE}.)")

    def range_section(self) -> str:
        """The verdicts per reading and depth range and the exact KLs at L = 5, 10, 20."""
        found, missing = self.paper_readings()
        grids = ("" if self.chain != "gaussian" else "\n\nThe grid's checks per reading: "
                 + " ".join(f"`{lb}`: {grid_note(r)}" for lb, r in found.items())
                 + " " + evaluation_spread(found))
        return (range_markdown(found, missing) + "\n\nExact KL (nats) at L = 5, 10, 20, mean "
                "and median over seeds:\n\n" + depth_markdown(found) + grids)

    def axis_slider(self, axis: str) -> Any:
        """An offline slider over the λ or the student axis of the paper-preset readings."""
        from lgm.report.slider import slider

        found, _ = self.paper_readings()
        values, frames = axis_frames(found, axis)
        if not values:
            from IPython.display import Markdown

            return Markdown(f"(no paper-preset reading of the {axis} axis is run yet)")
        return slider(axis if axis == "student" else "λ", values, frames, x_label="depth L",
                      y_label="exact KL(teacher y || student y), nats", log_y=True,
                      title=f"{self.figure}, paper preset: the {axis} axis (medians over "
                            "seeds)")

    def provenance(self) -> str:
        from lgm.report.runs import results_provenance

        return results_provenance([self.own, self.headline, *self.readings.values()],
                                  self.preset, self.seeds, self.started,
                                  extra="figures " + ", ".join(f"`{p}`" for p in self.paths))
