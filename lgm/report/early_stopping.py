"""Fig. 3c's question: when does early stopping end a task's training, and why not earlier?

The rule (section 5.1 and the reference code): after every epoch the validation -ELBO is
measured; a seed stops once ``patience`` epochs have passed without a decrease (after a
burn-in of ``min_epochs``) and gets its best weights back, else at ``max_epochs``. Any
decrease counts (``min_delta = 0``), as in the reference, which used patience 50 (a later
branch: burn-in 20, patience 30) and a cap of 200 to 500 epochs.

:func:`stopping_table` reads, from finished runs, how often each method's trainings ran to the
cap and how late their best epoch came: a best epoch close to the cap means the validation
-ELBO was still decreasing when the cap ended training. :func:`replay_rule` replays the rule
with another patience or threshold on a stored validation curve (kept per task since the
curves were recorded, ``training.val_curve``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lgm.training.loop import improves

Results = dict[str, list[dict[str, Any]]]


def trainings(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every task training of ``runs`` (seeds x tasks), with its task index."""
    return [{**t["training"], "task": t["task"]} for r in runs for t in r["tasks"]
            if "training" in t]


def stopping_rows(results: Results, max_epochs: int) -> list[list[str]]:
    """Per method: trainings at the cap, mean epochs, mean best epoch, mean epochs from the
    best epoch to the end."""
    rows = []
    for method, runs in results.items():
        fits = trainings(runs)
        if not fits:
            continue
        epochs = np.array([f["epochs"] for f in fits], float)
        best = np.array([f["best_epoch"] for f in fits], float)
        rows.append([method, f"{int(np.sum(epochs >= max_epochs))} of {len(fits)}",
                     f"{epochs.mean():.0f}", f"{best.mean():.0f}",
                     f"{(epochs - best).mean():.0f}"])
    return rows


def stopping_table(results: Results, max_epochs: int) -> str:
    """:func:`stopping_rows` as Markdown."""
    head = ["method", f"trainings at the cap ({max_epochs})", "mean epochs",
            "mean best epoch", "epochs after the best"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in stopping_rows(results, max_epochs)]
    return "\n".join(lines)


def replay_rule(curve: Sequence[float], patience: int, min_epochs: int = 1,
                min_delta: float = 0.0) -> int:
    """Epochs the early-stopping rule of :func:`lgm.training.loop.train_task` would have run
    on the validation curve ``curve`` (one value per epoch) with these settings."""
    best, best_epoch = float("inf"), 0
    for epoch, value in enumerate(curve):
        if improves(value, best, min_delta):
            best, best_epoch = value, epoch
        elif epoch + 1 >= min_epochs and epoch - best_epoch >= patience:
            return epoch + 1
    return len(curve)


def share_at_cap(runs: Sequence[dict[str, Any]], max_epochs: int) -> float:
    """Fraction of the trainings of ``runs`` that ran to the epoch cap."""
    fits = trainings(runs)
    return float(np.mean([f["epochs"] >= max_epochs for f in fits])) if fits else float("nan")


def decline_claim(page: Any, results: Results, max_epochs: int) -> None:
    """Fig. 3c, second half: the lifelong model needs fewer and fewer epochs per task. Tested
    as a negative slope of its mean epochs over tasks 2..T; untestable when most of its
    trainings ran to the cap (the cap, not early stopping, set their length)."""
    if "lifelong" not in results:
        return
    fits = trainings(results["lifelong"])
    tasks = sorted({f["task"] for f in fits})
    mean = np.array([np.mean([f["epochs"] for f in fits if f["task"] == t]) for t in tasks])
    slope = float(np.polyfit(np.array(tasks[1:], float), mean[1:], 1)[0]) if len(tasks) > 2 \
        else float("nan")
    capped = share_at_cap(results["lifelong"], max_epochs)
    why = (f"{capped:.0%} of the lifelong trainings ran to the cap of {max_epochs} epochs, so "
           "the cap, not early stopping, set their length" if capped >= 0.5 else None)
    page.check("Fig. 3c: the lifelong model needs fewer and fewer epochs per task",
               bool(slope < 0), f"slope {slope:+.1f} epochs per task over tasks 2–{len(tasks)}",
               rule="negative slope", untestable=why)
