"""The KD toy chains' pages (Figs. 2 and 5): verdict lines, KL and readings tables.

Computation is in :mod:`lgm.experiments.kd_toy`; this module only words and tabulates it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lgm.experiments.kd_toy import READINGS, claims, reproduced, summary
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
        from lgm.report.verdict_lines import resolve_seeds

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
        grid = max(float(abs(headline["arrays"][f"kl_check_{m}"]).max())
                   for m in headline["config"]["methods"])
        return (f"At $L = {n}$: local's per-layer errors sum to {joint['local']['mean'][-1]:.2e} "
                f"nats and its output KL is {exact['local']['mean'][-1]:.2e}; ours' sum to "
                f"{joint['ours']['mean'][-1]:.2e} and its output KL is "
                f"{exact['ours']['mean'][-1]:.2e} (means over seeds). The grid's error (largest "
                f"change when the spacing is doubled): {grid:.1e} nats.")

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
        """An offline slider over the depth L (issue 15): the per-layer errors of the L-layer
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
        from lgm.experiments.kd_toy import reading_verdict
        from lgm.report.verdict_lines import save_verdicts, verdict_rows

        lines = verdict_lines(self.headline, self.figure, "literal reading")
        for label, result in self.readings.items():
            lines.append(f"{len(lines) + 1}. **{self.figure} reproduced under the reading "
                         f"`{label}`** (rule: local grows with L and ours is below local at the "
                         f"largest L, exact KL, two or more seeds): {reading_verdict(result)}.")
        save_verdicts(self.page, self.preset,
                      verdict_rows(lines, f"qualitative ({self.figure}, no numbers)"))
        return "\n".join(lines)

    def closing_numbers(self) -> str:
        from lgm.experiments.kd_toy import reading_verdict

        table = summary(self.headline)
        held = [lb for lb, r in self.readings.items() if reading_verdict(r) == "holds"]
        local, ours = table["local"], table["ours"]
        return (f"Literal reading, {self.source}: local {local['mean'][0]:.2e} nats at L = "
                f"{local['layers'][0]}, {local['mean'][-1]:.2e} at L = {local['layers'][-1]}; "
                f"ours {ours['mean'][0]:.2e} and {ours['mean'][-1]:.2e} (means over seeds). "
                "Readings under which the figure is reproduced: "
                + (", ".join(f"`{h}`" for h in held) if held else "none") + ".")

    def provenance(self) -> str:
        from lgm.report.verdict_lines import results_provenance

        return results_provenance([self.own, self.headline, *self.readings.values()],
                                  self.preset, self.seeds, self.started,
                                  extra="figures " + ", ".join(f"`{p}`" for p in self.paths))
