"""Claim rules and analyses of the *Lifelong Generative Modeling* pages.

Each ``*_claims`` function checks one page's claims on its results and records them on the
:class:`~lgm.report.page.Page` (rules stated with each claim); the other functions compute what
the pages tabulate. Results are the result dicts of :func:`lgm.experiments.cache.cached_run`
(``tasks``: one record per task with ``neg_elbo``, ``log_frechet``, ``frechet``, ``epochs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lgm.report.claims import all_at_cap
from lgm.report.page import Page
from lgm.report.tables import band, fmt, markdown_table, series

Results = Mapping[str, list[dict[str, Any]]]


def mean_curve(results: Results, label: str, key: str) -> np.ndarray:
    """Mean over seeds, per task, of metric ``key`` of ``results[label]``."""
    return np.nanmean(series(results[label], key), axis=0)


def untrained(results: Results, labels: Sequence[str], max_epochs: int | None = None
              ) -> str | None:
    """Why the models of ``labels`` are not trained at this budget: every task training of
    every one of them stopped at the epoch cap ``max_epochs`` (default: the runs' own, when
    they share one), i.e. early stopping never triggered."""
    if max_epochs is None:
        caps = {r["config"]["max_epochs"] for lb in labels for r in results.get(lb, [])}
        if len(caps) != 1:
            return None
        max_epochs = caps.pop()
    epochs = [e for lb in labels if lb in results for e in series(results[lb], "epochs").ravel()]
    return all_at_cap(epochs, max_epochs)


def seeds_note(results: Results, labels: Sequence[str]) -> str:
    """"seeds [0, 1, 2]" when every label has the same seeds, else each label's (a partial
    paper-scale variant is shown as partial)."""
    by_label = {lb: [r["config"]["seed"] for r in results[lb]] for lb in labels if lb in results}
    if len({tuple(v) for v in by_label.values()}) <= 1:
        return f"seeds {next(iter(by_label.values()), [])}"
    return "seeds: " + "; ".join(f"{lb} {v}" for lb, v in by_label.items())


def final_table(results: Results, methods: Sequence[str], *, epochs_sum: bool = True) -> str:
    """Our values after the last distribution (mean ± std over seeds), as Markdown."""
    rows = []
    for m in methods:
        elbo, lf, ep = (series(results[m], k) for k in ("neg_elbo", "log_frechet", "epochs"))
        row = [m, fmt(elbo[:, -1]), fmt(lf[:, -1], 2), fmt(ep[:, -1])]
        if epochs_sum:
            row.append(fmt(np.nansum(ep, axis=1) if m != "full" else ep[:, 0]))
        rows.append(row)
    header = ["method", "−ELBO", "log-Fréchet", "epochs, last task"]
    header += ["epochs, sum"] if epochs_sum else []
    n_tasks = series(results[methods[0]], "neg_elbo").shape[1]
    return markdown_table(header, rows) + f"\n\n({n_tasks} tasks, {seeds_note(results, methods)}.)"


def _oracles_best(page: Page, results: Results, label: str) -> None:
    """full/upto, which see past data, are the best attainable (Figs. 3 and 4)."""
    have = set(results)
    text = f"{label}: full/upto are the best attainable"
    if page.not_yet_run(["full", "upto"], [text], any_of=True):
        return
    oracles = [m for m in ("full", "upto") if m in have]
    others = [m for m in ("lifelong", "ewc", "vanilla") if m in have]
    if not (oracles and others):
        return
    parts = [(name, min(mean_curve(results, m, key)[-1] for m in oracles),
              min(mean_curve(results, m, key)[-1] for m in others))
             for key, name in (("neg_elbo", "−ELBO"), ("log_frechet", "log-Fréchet"))]
    page.check(text, all(a <= b for _, a, b in parts),
               "; ".join(f"{n}: {a:.2f} vs best sequential {b:.2f}" for n, a, b in parts),
               rule="the better of full/upto ≤ every sequential method, last task")


def fig3_claims(page: Page, results: Results, max_epochs: int, label: str = "Fig. 3") -> None:
    """Section 5.1 (Fig. 3): (a) lifelong at least as good as EWC on the test ELBO; (b)
    clearly better on log-Fréchet; (c) EWC converges faster at first; full/upto best."""
    texts = [f"{label}a: lifelong at least as good as EWC on the test ELBO",
             f"{label}b: lifelong clearly better than EWC on log-Fréchet",
             f"{label}c: EWC converges faster at first"]
    if not page.not_yet_run(["lifelong", "ewc"], texts) and {"lifelong", "ewc"} <= set(results):
        why = untrained(results, ["lifelong", "ewc"], max_epochs)
        le, ee = mean_curve(results, "lifelong", "neg_elbo"), mean_curve(results, "ewc",
                                                                          "neg_elbo")
        page.check(texts[0], le[-1] <= ee[-1] * 1.01,
                   f"last task {le[-1]:.1f} vs {ee[-1]:.1f} nats; within 1 % or better at "
                   f"{int(np.sum(le <= ee * 1.01))} of {len(le)} tasks",
                   rule="last task within 1 %", untrained=why)
        lf, ef = (mean_curve(results, m, "log_frechet") for m in ("lifelong", "ewc"))
        wins = int(np.sum(lf < ef))
        page.check(texts[1], lf[-1] < ef[-1] and wins > len(lf) / 2,
                   f"last task {lf[-1]:.2f} vs {ef[-1]:.2f}; lower at {wins} of {len(lf)} tasks",
                   rule="lower at the last task and at most tasks", untrained=why)
        lp, ep = (mean_curve(results, m, "epochs") for m in ("lifelong", "ewc"))
        early = slice(1, max(2, len(lp) // 2))  # task 1 trains both from scratch
        capped = int(np.sum(lp >= max_epochs) + np.sum(ep >= max_epochs))
        page.check(texts[2], bool(ep[early].mean() < lp[early].mean()),
                   f"EWC {ep[early].mean():.1f} vs lifelong {lp[early].mean():.1f} epochs over "
                   f"tasks 2–{early.stop}; {capped} of {2 * len(lp)} trainings hit the cap of "
                   f"{max_epochs}", rule="fewer mean epochs", untestable=why)
    _oracles_best(page, results, label)


def fig4_claims(page: Page, results: Results, max_epochs: int) -> None:
    """Section 5.2 (Fig. 4): lifelong beats every sequential baseline on (1) the test ELBO and
    (2) log-Fréchet; (3) full/upto are the best attainable; (4) EWC suffers on disparate
    tasks (its gap to lifelong grows)."""
    have = set(results)
    why = untrained(results, ["lifelong", "ewc", "vanilla"], max_epochs)
    sequential = [m for m in ("ewc", "vanilla") if m in have]
    if "lifelong" in have and sequential:
        for key, name, digits in (("neg_elbo", "−ELBO", 1), ("log_frechet", "log-Fréchet", 2)):
            lc = mean_curve(results, "lifelong", key)
            parts, ok = [], True
            for m in sequential:
                oc = mean_curve(results, m, key)
                ok &= bool(lc[-1] < oc[-1])
                parts.append(f"{m} {oc[-1]:.{digits}f} (lifelong lower at "
                             f"{int(np.sum(lc < oc))} of {len(lc)} tasks)")
            page.check(f"Fig. 4: {name}, lifelong better than every sequential baseline", ok,
                       f"last task lifelong {lc[-1]:.{digits}f} vs " + "; ".join(parts),
                       rule=f"lower than {' and '.join(sequential)} at the last task",
                       untrained=why)
    _oracles_best(page, results, "Fig. 4")
    if {"lifelong", "ewc"} <= have:
        gap = mean_curve(results, "ewc", "neg_elbo") - mean_curve(results, "lifelong",
                                                                  "neg_elbo")
        short = "fewer than three distributions" if len(gap) < 3 else None
        ok = len(gap) >= 3 and gap[-1] > 0 and gap[-1] > gap[1]
        page.check("Fig. 4: EWC suffers on disparate tasks", ok,
                   "EWC − lifelong −ELBO gap per task: " + ", ".join(f"{g:+.1f}" for g in gap),
                   rule="EWC's −ELBO above lifelong's at the last task, by more than after the "
                        "second distribution", untestable=short, untrained=why)


def no_difference_claims(page: Page, results: Results, labels: tuple[str, str],
                         label: str) -> None:
    """'No difference' between two variants (Fig. 9), per metric: at each task the difference
    of the means is within the seed spread (the larger std), at the last task and at most
    tasks; with one seed per variant there is no spread, so it cannot be tested."""
    a, b = labels
    n_seeds = min(len(results.get(lb, [])) for lb in labels)
    for key, name, digits in (("neg_elbo", "test ELBO", 1), ("log_frechet", "log-Fréchet", 2)):
        text = f"{label}: no difference between {b} and {a} KL on the {name}"
        if page.not_yet_run(labels, [text]):
            continue
        if n_seeds == 0:
            page.check(text, False, "", untestable="a variant has no result")
            continue
        (ma, sa), (mb, sb) = (band(series(results[lb], key)) for lb in (a, b))
        diff, spread = mb - ma, np.maximum(sa, sb)
        within = np.abs(diff) < spread
        page.check(text, bool(within[-1] and within.sum() > len(within) / 2),
                   f"last task {b} {mb[-1]:.{digits}f} vs {a} {ma[-1]:.{digits}f} (difference "
                   f"{diff[-1]:+.{digits}f}, spread {spread[-1]:.{digits}f}); within the spread "
                   f"at {int(within.sum())} of {len(within)} tasks",
                   rule=f"|{b} − {a}| < larger seed std, at the last task and at most tasks",
                   untestable="one seed per variant: no spread to compare with"
                   if n_seeds < 2 else None)


def worse_claims(page: Page, results: Results, worse: str, better: str, label: str,
                 n_seeds: int) -> None:
    """``worse`` does worse than ``better`` (app. 7.3: with-LL vs without-LL), per metric:
    higher mean at the last task and at most tasks; when every training of both ran to the
    epoch cap, a failed check cannot be tested at this budget."""
    for key, name, digits in (("neg_elbo", "test ELBO", 1), ("log_frechet", "log-Fréchet", 2)):
        text = f"{label}: {worse} worse than {better} on the {name}"
        if page.not_yet_run([worse, better], [text]):
            continue
        if worse not in results or better not in results:
            page.check(text, False, "", untestable="a variant has no result")
            continue
        w, wo = mean_curve(results, worse, key), mean_curve(results, better, key)
        n_worse = int(np.sum(w > wo))
        ours = (f"last task {w[-1]:.{digits}f} ({worse}) vs {wo[-1]:.{digits}f} ({better}); "
                f"{worse} higher at {n_worse} of {len(w)} tasks")
        if n_seeds > 1:
            spread = max(np.nanstd(series(results[v], key)[:, -1], ddof=1)
                         for v in (worse, better))
            ours += (f"; last-task difference {w[-1] - wo[-1]:+.{digits}f} "
                     f"{'beyond' if abs(w[-1] - wo[-1]) > spread else 'within'} the seed "
                     f"spread {spread:.{digits}f}")
        page.check(text, bool(w[-1] > wo[-1] and n_worse > len(w) / 2), ours,
                   rule="higher at the last task and at most tasks",
                   untrained=untrained(results, [worse, better]))


def per_task_values(results: Results, labels: Sequence[str]) -> str:
    """Per task: each label's −ELBO and log-Fréchet (mean ± std), and the difference of the
    second label minus the first where there are two, as Markdown."""
    n_tasks = max(series(results[lb], "neg_elbo").shape[1] for lb in labels)
    header, rows = ["task"], []
    for name in ("−ELBO", "log-Fréchet"):
        header += [f"{name}, {lb}" for lb in labels]
        header += [f"{labels[1]} − {labels[0]}"] if len(labels) == 2 else []
    for t in range(n_tasks):
        row: list[Any] = [t + 1]
        for key, digits in (("neg_elbo", 1), ("log_frechet", 2)):
            row += [fmt(series(results[lb], key)[:, t], digits) for lb in labels]
            if len(labels) == 2:
                diff = (np.nanmean(series(results[labels[1]], key)[:, t])
                        - np.nanmean(series(results[labels[0]], key)[:, t]))
                row.append(f"{diff:+.{digits}f}")
        rows.append(row)
    return markdown_table(header, rows) + f"\n\n({seeds_note(results, labels)}.)"


# ------------------------------------------------------------------------------ appendix 7.7
APP77_PAPER = {("neg_elbo", "ewc"): 149.0, ("neg_elbo", "lifelong"): 165.0,
               ("frechet", "lifelong"): 128.42, ("frechet", "ewc"): 193.09}
APP77_NAMES = {"neg_elbo": "best −test ELBO (nats)", "frechet": "Fréchet distance"}


def last_and_best(results: Results, m: str, key: str) -> tuple[np.ndarray, float, float, int]:
    """Per-seed values at the last task, their mean, and the lowest mean over tasks with its
    task (1-based)."""
    values = series(results[m], key)
    curve = np.nanmean(values, axis=0)
    t = int(np.nanargmin(curve))
    return values[:, -1], float(curve[-1]), float(curve[t]), t + 1


def app77_table(results: Results) -> str:
    """The paper's four numbers of appendix 7.7 beside ours (last task and best over tasks)."""
    rows = []
    for (key, m), paper in APP77_PAPER.items():
        if m not in results:
            rows.append([APP77_NAMES[key], m, f"{paper:g}", "not run", "not run", "–"])
            continue
        last_values, last, best, t_best = last_and_best(results, m, key)
        d = 2 if key == "frechet" else 1
        note = (f"ours {last - paper:+.0f} nats (last task): preset and pixel model differ, "
                "not comparable" if key == "neg_elbo"
                else "not comparable: our own classifier's features (and preset)")
        rows.append([APP77_NAMES[key], m, f"{paper:g}", fmt(last_values, d),
                     f"{best:.{d}f} (after {t_best} digit{'s' if t_best > 1 else ''})", note])
    n_tasks = series(next(iter(results.values())), "neg_elbo").shape[1]
    return markdown_table(["quantity", "method", "paper", f"ours, last task ({n_tasks} digits, "
                           "full test set)", "ours, best over tasks", "absolute value"],
                          rows) + f"\n\n({seeds_note(results, list(results))}.)"


def app77_claims(page: Page, results: Results, max_epochs: int) -> None:
    """Appendix 7.7's two orderings: EWC's −ELBO below lifelong's (149 < 165), lifelong's
    Fréchet distance below EWC's (128.42 < 193.09); tested at the last task."""
    why = untrained(results, ["lifelong", "ewc"], max_epochs)
    for key, low, high in (("neg_elbo", "ewc", "lifelong"), ("frechet", "lifelong", "ewc")):
        d = 2 if key == "frechet" else 1
        paper = f"{APP77_PAPER[key, low]:g} < {APP77_PAPER[key, high]:g}"
        text = f"App. 7.7: {APP77_NAMES[key].split(' (')[0]}, {low} < {high}"
        if page.not_yet_run([low, high], [text]):
            continue
        if low not in results or high not in results:
            page.check(text, False, "", untestable="a method was not run or diverged",
                       paper_value=paper)
            continue
        _, l_last, l_best, _ = last_and_best(results, low, key)
        _, h_last, h_best, _ = last_and_best(results, high, key)
        page.check(text, l_last < h_last,
                   f"last task {low} {l_last:.{d}f} vs {high} {h_last:.{d}f}; best over tasks "
                   f"{low} {l_best:.{d}f} vs {high} {h_best:.{d}f}",
                   rule="ordering of the last-task means", untrained=why, paper_value=paper)


# ------------------------------------------------------------------------------ appendix 7.5
def app75_claims(page: Page, results: Results, max_epochs: int, n_first: int) -> None:
    """Appendix 7.5: over twenty distributions the lifelong model eventually needs fewer epochs
    per task than EWC (mean over the last third of the tasks)."""
    if not {"lifelong", "ewc"} <= set(results):
        page.check("App. 7.5: lifelong eventually needs fewer epochs than EWC", False, "",
                   untestable="lifelong or EWC has no result")
        return
    lp, ep = (mean_curve(results, m, "epochs") for m in ("lifelong", "ewc"))
    late = slice(len(lp) - max(1, len(lp) // 3), len(lp))
    early = slice(1, max(2, min(n_first, len(lp)) // 2))
    capped = int(np.sum(lp[late] >= max_epochs) + np.sum(ep[late] >= max_epochs))
    page.check("App. 7.5: lifelong eventually needs fewer epochs than EWC",
               bool(lp[late].mean() < ep[late].mean()),
               f"tasks {late.start + 1}–{late.stop}: lifelong {lp[late].mean():.1f} vs EWC "
               f"{ep[late].mean():.1f} epochs per task ({capped} of {2 * len(lp[late])} at the "
               f"cap of {max_epochs}); tasks {early.start + 1}–{early.stop}: lifelong "
               f"{lp[early].mean():.1f} vs EWC {ep[early].mean():.1f}",
               rule="mean epochs over the last third of the tasks",
               untestable="every late task of both methods ran to max_epochs"
               if capped == 2 * len(lp[late]) else None)


def epochs_table(results: Results, methods: Sequence[str], seeds: Sequence[int],
                 n_first: int, names: tuple[str, str] = ("Fashion", "MNIST")) -> str:
    """Per task: epochs and −ELBO of each method (mean ± std), and the epochs' sum; tasks up
    to ``n_first`` are of the first dataset."""
    curves = {m: {k: series(results[m], k) for k in ("epochs", "neg_elbo")} for m in methods}
    n_tasks = max(c["epochs"].shape[1] for c in curves.values())
    rows: list[list[Any]] = []
    for t in range(n_tasks):
        rows.append([f"{t + 1} ({names[0] if t < n_first else names[1]})"]
                    + [fmt(curves[m]["epochs"][:, t]) for m in methods]
                    + [fmt(curves[m]["neg_elbo"][:, t]) for m in methods])
    rows.append(["sum"] + [fmt(np.nansum(curves[m]["epochs"], axis=1)) for m in methods]
                + [""] * len(methods))
    return markdown_table(["task"] + [f"epochs, {m}" for m in methods]
                          + [f"−ELBO, {m}" for m in methods], rows) + \
        f"\n\n({n_tasks} tasks, seeds {list(seeds)}.)"
