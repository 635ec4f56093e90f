"""Table 1 of the KD paper (data-free compression of a 5-layer ladder VAE): model sizes, the
paper's table from its data, ours, samples, and the claim rules.

``tables`` maps a dataset to :func:`lgm.experiments.kd_compression.run_table1`'s result:
``{"config", "teacher": {...}, "students": {(width, method): [one result per seed]}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lgm.experiments.kd_compression import PAPER, TABLE1_METRICS, metric_values
from lgm.models.ladder import LadderVAE, millions, num_parameters
from lgm.report.claims import teacher_no_better_than_students
from lgm.report.figures import MAX_WIDTH, image_row, suptitle
from lgm.report.page import Page
from lgm.report.tables import fmt, markdown_table

Tables = Mapping[str, dict[str, Any]]
DIGITS = 2
HEADER = ["dataset", "method", "#param", "FID", "EMD", "MMD", "1NN", "FID-T", "EMD-T",
          "MMD-T", "1NN-T"]
DATASET_NAMES = {"celeba": "CelebA", "svhn": "SVHN", "cifar10": "Cifar10"}


def size_rows(page: Page | None = None) -> list[list[Any]]:
    """Our ``LadderVAE`` at each of Table 1's widths (3 input channels) against the paper's
    count; each recorded on ``page`` as a parameter-count check (to the stated digits)."""
    rows = []
    for (side, width), paper in PAPER["parameters"].items():
        count = num_parameters(LadderVAE(side, width))
        stated = f"{paper / 1e6:.3f}M ({paper / 1e6:.2f}M)"
        ok = abs(count - paper) < 500  # the table rounds to thousands
        rows.append([f"{side}×{side}", width, f"{count:,}", millions(count), stated])
        if page is not None:
            page.check(f"Table 1: parameters of the {side}×{side} model of width {width}", ok,
                       f"{count:,} ({millions(count)})", rule="equal to the stated digits",
                       kind="count", paper_value=millions(paper))
    return rows


def sizes_table(page: Page | None = None) -> str:
    """The size table as Markdown (and the count checks on ``page``)."""
    return markdown_table(["input", "width h", "parameters", "ours", "paper (Table 1)"],
                          size_rows(page))


def samples_figure(dataset: str, res: dict[str, Any], preset: str) -> Any:
    """Sixteen samples of the teacher and of every student, on shared noise."""
    import matplotlib.pyplot as plt

    cfg = res["config"]
    rows = [(f"teacher h={cfg['teacher_width']}", res["teacher"]["arrays"]["samples"])]
    rows += [(f"{m} h={w}", runs[0]["arrays"]["samples"])
             for (w, m), runs in res["students"].items()]
    fig, axes = plt.subplots(len(rows), 1, figsize=(MAX_WIDTH, 0.95 * len(rows) + 0.6),
                             constrained_layout=True)
    for ax, (label, grid) in zip(np.atleast_1d(axes), rows, strict=True):
        ax.imshow(image_row(grid[:16]))
        ax.set_yticks([])
        ax.set_xticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    suptitle(fig, f"{dataset}: samples on shared noise, preset {preset}")
    return fig


def ours_rows(tables: Tables) -> list[list[Any]]:
    """Table 1's rows of ours: mean ± std over seeds; the teacher has no "-T" columns."""
    rows = []
    for ds, res in tables.items():
        t = res["teacher"]
        rows.append([ds, "teacher", millions(t["parameters"]),
                     *[fmt(np.array([t["metrics"]["data"][k]]), DIGITS) for k in TABLE1_METRICS],
                     "–", "–", "–", "–"])
        for (w, m), runs in res["students"].items():
            rows.append([ds, f"{m} (h={w})", millions(runs[0]["parameters"]),
                         *[fmt(metric_values(runs, "data", k), DIGITS) for k in TABLE1_METRICS],
                         *[fmt(metric_values(runs, "teacher", k), DIGITS)
                           for k in TABLE1_METRICS]])
    return rows


def ours_table(tables: Tables) -> str:
    return markdown_table(HEADER, ours_rows(tables))


def paper_table() -> str:
    """The paper's Table 1 (Inception-v3 features, mean ± std over 3 seeds), from its data in
    :data:`lgm.experiments.kd_compression.PAPER`."""
    def cell(v: Any) -> str:
        mean = v[0] if isinstance(v, tuple) else v
        d = 3 if abs(mean) < 0.1 else 2
        return f"{mean:.{d}f} ± {v[1]:.{d}f}" if isinstance(v, tuple) else f"{mean:.{d}f}"

    rows = []
    for ds, entries in PAPER["table1"].items():
        first = True
        for key, row in entries.items():
            method = "teacher" if key == "teacher" else key[1].replace("ours", "our")
            teacher = row.get("teacher")
            rows.append([DATASET_NAMES.get(ds, ds) if first else "", method,
                         f"{row['params_m']:.2f}M",
                         *[cell(row["data"][k]) for k in TABLE1_METRICS],
                         *([cell(teacher[k]) for k in TABLE1_METRICS] if teacher
                           else ["–"] * 4)])
            first = False
    return markdown_table(HEADER, rows)


def _paper_pair(dataset: str, width: int, baseline: str, against: str) -> str:
    """The paper's FID (or FID-T) of ours vs the baseline at this dataset and width, if any."""
    entries = PAPER["table1"].get(dataset, {})
    ours, base = entries.get((width, "ours")), entries.get((width, baseline))
    if not ours or not base:
        return ""
    part = "data" if against == "data" else "teacher"
    name = "FID-T" if part == "teacher" else "FID"
    return f"{name} {ours[part]['fid'][0]} vs {base[part]['fid'][0]}"


CLAIMS = [("teacher", "local", "ours imitates the teacher better than local distillation"),
          ("teacher", "scratch", "ours imitates the teacher better than the scratch student"),
          ("data", "local", "ours generates better than local distillation"),
          ("data", "scratch", "ours (data-free) generates better than scratch (on data)")]


def claims(page: Page, tables: Tables, n_seeds: int) -> str:
    """At each dataset and width, ours lower than the baseline on all four columns (against
    the teacher: "-T"; against the data). A data-column claim cannot be tested when the
    teacher generates no better than its best student (imitating it cannot help). Returns a
    sentence on the teachers."""
    def beats(ds: str, width: int, baseline: str, against: str) -> tuple[int, list[str]]:
        runs = tables[ds]["students"]
        worse = [f"{k}{'-T' if against == 'teacher' else ''}" for k in TABLE1_METRICS
                 if not metric_values(runs[(width, "ours")], against, k).mean()
                 < metric_values(runs[(width, baseline)], against, k).mean()]
        return len(TABLE1_METRICS) - len(worse), worse

    weak = {ds: teacher_no_better_than_students(
        res["teacher"]["metrics"]["data"]["fid"],
        [metric_values(r, "data", "fid").mean() for r in res["students"].values()])
        for ds, res in tables.items()}
    for against, baseline, text in CLAIMS:
        cols = "-T columns" if against == "teacher" else "columns vs data"
        cells = [(ds, w, *beats(ds, w, baseline, against)) for ds, res in tables.items()
                 for w in res["config"]["student_widths"]
                 if (w, "ours") in res["students"] and (w, baseline) in res["students"]]
        if not cells:
            page.check(f"Table 1: {text}", False, "",
                       untestable=f"the runs of ours or {baseline} are missing")
            continue
        ok = all(n == len(TABLE1_METRICS) for _, _, n, _ in cells)
        detail = "; ".join(f"{ds} h={w}: {n}/4" + (f" (not on {', '.join(bad)})" if bad else "")
                           for ds, w, n, bad in cells)
        paper = "; ".join(p for ds, w, *_ in cells if (p := _paper_pair(ds, w, baseline,
                                                                         against)))
        why = next((weak[ds] for ds, *_ in cells if weak[ds]), None) \
            if against == "data" else None
        page.check(f"Table 1: {text}", ok, detail,
                   rule=f"all 4 {cols} lower, per dataset and width, {n_seeds} seed(s)",
                   untrained=why, paper_value=paper or "ours lower on all 4 columns")
    return "Teacher against its students on the data: " + "; ".join(
        f"{ds}: teacher FID {res['teacher']['metrics']['data']['fid']:.2f}" for ds, res in
        tables.items()) + "".join(f" ({ds}: {w})" for ds, w in weak.items() if w) + "."


def extractors(tables: Tables, missing: Mapping[str, str]) -> str:
    """Which features the metrics used, and the datasets not at hand."""
    names = sorted({r["extractor"] for res in tables.values()
                    for runs in res["students"].values() for r in runs})
    return "Features: " + "; ".join(names) + "." + (
        "" if not missing else "\n\nNot at hand: " + "; ".join(f"{k} ({v})"
                                                           for k, v in missing.items()))


def all_results(tables: Tables) -> Sequence[dict[str, Any]]:
    """Every cached result of the tables (teachers and students), for the provenance."""
    return [r for res in tables.values()
            for r in [res["teacher"], *[x for runs in res["students"].values() for x in runs]]]
