"""Every figure of the book is legible in the book's text column, checked without a
browser: each figure function of ``lgm/report`` is drawn from tiny fake inputs (at the sizes
the pages use: 10 or 20 tasks, 10 codes, 5 Helmholtz models, 8 λ panels...), under the page's
type sizes (:data:`lgm.report.page.FIGURE_FONTS`) and theme (:func:`lgm.report.style.theme`),
and saved as the notebook's inline backend shows it (``bbox_inches="tight"``). The rule of
``tests/test_book_browser.py``: a figure ``w`` inches wide fills the 772 px column, so its
smallest text of ``pt`` points is ``pt * 772 / (72 * w)`` px on screen, which must be at least
9 px; and, as the browser test reads the type size statically (at most matplotlib's 10 pt),
``w`` is at most :data:`lgm.report.figures.MAX_WIDTH` plus the saving pad.

``LGM_FIGURE_DUMP=<folder>`` also writes each PNG there (to look at them)."""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from lgm.report import (  # noqa: E402
    codes,
    diagrams,
    figures,
    kd_bridge,
    kd_hm,
    kd_lambda,
    kd_table1,
    kd_table2,
    kd_toy_plots,
    kd_vrnn,
    latent,
    ranges,
)
from lgm.report.page import FIGURE_FONTS  # noqa: E402
from lgm.report.style import theme  # noqa: E402

MIN_PX = 9.0
SHOWN_DPI = 100  # the inline backend's figure.dpi (it cancels out of the rule)
#: the widest a figure may show, in inches: MAX_WIDTH plus the tight bbox's pad
WIDEST = figures.MAX_WIDTH + 0.25
LONG_TITLE = ("Fashion-MNIST → MNIST, 20 distributions, conv, preset quick, 3 seed(s) "
              "(mean ± std); dotted: first MNIST task")


def shown(fig: Any) -> tuple[float, float]:
    """(width in inches as the notebook shows it, smallest font size in points of its
    visible non-empty texts)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=SHOWN_DPI, bbox_inches="tight")
    width_px = struct.unpack(">I", buf.getvalue()[16:20])[0]
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    return width_px / SHOWN_DPI, min(sizes)


# ----------------------------------------------------------------------------- fake inputs
RNG = np.random.default_rng(0)


def images(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def task_runs(n_tasks: int, seeds: int = 2, scale: float = 1.0) -> list[dict[str, Any]]:
    return [{"tasks": [{"task": t, "neg_elbo": scale * (100 + t + s), "log_frechet": 3.0 + t / 9,
                        "epochs": 5 + t % 3} for t in range(n_tasks)], "config": {"seed": s}}
            for s in range(seeds)]


def lifelong_result(n_tasks: int, j: int = 10, n: int = 8) -> dict[str, Any]:
    names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
             "Bag", "Ankle boot"]
    arrays = {f"samples_task{t}": images(t + 1, n, 1, 28, 28) for t in range(n_tasks)}
    arrays["reconstructions"] = images(n_tasks, 2, 8, 3, 32, 32)
    arrays["interpolation"] = images(n_tasks, 10, 10, 3, 32, 32)
    return {"tasks": [{"name": names[t % 10]} for t in range(n_tasks)], "arrays": arrays,
            "config": {"seed": 0}}


def posterior_result(j: int) -> dict[str, Any]:
    n = 500
    return {"arrays": {"posterior_mu": RNG.standard_normal((n, 2)),
                       "posterior_label": RNG.integers(0, 10, n),
                       "posterior_code": RNG.integers(0, j, n),
                       "interpolation": images(1, 10, 10, 1, 28, 28),
                       "samples_task0": images(j, 10, 1, 28, 28)},
            "config": {"seed": 0}}


def metrics_run(*groups: str) -> dict[str, Any]:
    return {"metrics": {g: {k: float(RNG.uniform(0.1, 2)) for k in ("fid", "emd", "mmd", "1nn")}
                        for g in groups}}


def toy_result(chain: str = "binomial", seeds: int = 3) -> dict[str, Any]:
    layers, methods, steps = [1, 2, 5, 10, 20], ["ours", "local"], 400
    out: dict[str, Any] = {"config": {"chain": chain, "layers": layers, "methods": methods,
                                      "seeds": list(range(seeds)), "steps": steps}}
    states = np.arange(60.0)
    arrays: dict[str, Any] = {"law_states": states,
                              "law_teacher": np.exp(-0.5 * ((states - 20) / 5) ** 2) / 12}
    for k, m in enumerate(methods):
        kl = 1e-3 * (1 + k) * np.outer(1 + RNG.uniform(0, 0.1, seeds), layers)
        out.update({f"kl_exact_{m}": kl, f"kl_est_{m}": kl * 1.1, f"kl_se_{m}": kl * 0.1,
                    f"kl_joint_{m}": kl * 2})
        arrays[f"layer_error_{m}"] = RNG.uniform(1e-4, 1e-3, (seeds, len(layers), max(layers)))
        arrays[f"law_{m}"] = arrays["law_teacher"] * (1 + 0.05 * k)
        arrays[f"loss_{m}"] = RNG.uniform(0.1, 1.0, (seeds, len(layers), 40))
    out["arrays"] = arrays
    return out


def fig_sequential() -> Any:
    methods = ["lifelong", "ewc", "vanilla", "full", "upto"]
    return figures.sequential_figure({m: task_runs(10) for m in methods}, methods, max_epochs=8,
                                     xlabel="number of distributions seen", title=LONG_TITLE)


def fig_per_task(n_panels: int, n_tasks: int = 20) -> Callable[[], Any]:
    def draw() -> Any:
        panels = [("epochs", "(a) epochs to early stopping"),
                  ("neg_elbo", "(b) negative test ELBO"),
                  ("log_frechet", "(c) log-Fréchet distance")][:n_panels]
        methods = ["lifelong", "ewc", "vanilla"]
        return figures.per_task_figure({m: task_runs(n_tasks) for m in methods}, methods, panels,
                                       title=LONG_TITLE)[0]
    return draw


def fig_ranges() -> Any:
    grids = {"ewc": [1, 10, 100, 1000, 10000], "lifelong": [0.0, 0.001, 0.01, 0.1, 1.0]}
    results = {ranges.label(m, float(v)): task_runs(10) for m, vs in grids.items() for v in vs}
    return ranges.figure(results, grids, [ranges.label("lifelong", 1.0)], LONG_TITLE)[0]


def fig_kd_hm_samples() -> Any:
    models = ["teacher", "ours", "local", "scratch"]
    arrays = {"data": np.column_stack([RNG.uniform(1.5, 5, 272), RNG.uniform(45, 95, 272)])}
    arrays |= {f"samples_{m}": arrays["data"] + RNG.normal(0, 0.3, (272, 2)) for m in models}
    return kd_hm.samples_figure(arrays, models, "Old Faithful, preset quick, seed 0: "
                                "samples of each model over the data")[0]


def fig_lambda() -> Any:
    lambdas = [0.0, 0.01, 0.1, 1.0, 10.0]
    sweep = {"ours": {lam: [metrics_run("data", "teacher") for _ in range(2)] for lam in lambdas},
             "baselines": {m: [metrics_run("data", "teacher") for _ in range(2)]
                           for m in ("local", "scratch")}}
    return kd_lambda.figure(sweep, lambdas, "fashion: ours at width 8 against λ, preset quick, "
                            "2 seeds (mean ± std)")[0]


def fig_table1() -> Any:
    res = {"config": {"teacher_width": 64},
           "teacher": {"arrays": {"samples": images(16, 1, 28, 28)}},
           "students": {(w, m): [{"arrays": {"samples": images(16, 1, 28, 28)}}]
                        for w in (8, 16) for m in ("ours", "local", "scratch")}}
    return kd_table1.samples_figure("fashion", res, "quick")


def fig_table2() -> Any:
    splits, methods = ["male", "mnist-5to9"], ["ours", "local", "finetune", "scratch"]
    side = {"samples_old": images(8, 1, 32, 32), "samples_new": images(8, 1, 32, 32)}
    result = {"splits": {s: {"before": [{"arrays": side}],
                             "methods": {m: [{"arrays": side}] for m in methods}}
                         for s in splits}}
    values = {s: {m: {"fid": (5.0, 1.0, 6.0)} for m in methods} for s in splits}
    return kd_table2.figure(result, values, splits, methods,
                            "Continual learning by distillation, preset quick, seed 0", 0)[0]


def fig_toy(tmp: Path) -> Any:
    return kd_toy_plots.toy_figure(toy_result(), "Binomial chain (KD paper, Fig. 5), committed "
                                   "paper-preset result: 5 seed(s)", tmp / "toy.png")


def fig_readings(tmp: Path) -> Any:
    from lgm.experiments.kd_toy import READINGS

    readings = {label: toy_result("gaussian", seeds=1 + k % 2)
                for k, (label, _, _) in enumerate(READINGS["gaussian"])}
    return kd_toy_plots.readings_figure(readings, "gaussian", tmp / "readings.png")


def fig_strokes(n_cols: int) -> Callable[[], Any]:
    def draw() -> Any:
        models = ["teacher", "ours", "local", "scratch"]
        seq = np.column_stack([np.arange(30) % 10 == 9, RNG.normal(0, 1, (30, 2))]).astype(float)
        arrays: dict[str, Any] = {"data_examples": np.stack([seq] * n_cols),
                                  "data_lengths": np.full(n_cols, 30)}
        arrays |= {f"samples_{m}": np.stack([seq] * n_cols) for m in models}
        return kd_vrnn.strokes_figure(arrays, models, "Strokes: held-out data and samples of "
                                      "each model, preset quick, seed 0")
    return draw


def fig_teacher_student() -> Any:
    from lgm.models.vae import DiscreteContinuousVAE
    from lgm.training.objective import StudentObjective, Teacher
    from lgm.training.settings import ObjectiveWeights

    model = DiscreteContinuousVAE("dense", (1, 28, 28), 4, 2)
    return diagrams.draw_teacher_student(StudentObjective(ObjectiveWeights(),
                                                          Teacher(model, tasks_seen=2)))


def fig_task_sequence() -> Any:
    from tests.conftest import tiny_sequence

    return diagrams.draw_task_sequence(tiny_sequence(5, n_train=8, n_val=2, n_test=2))


def curve_arrays(*models: str) -> dict[str, np.ndarray]:
    return {f"loss_{m}": RNG.uniform(1, 2, 50) for m in models}


FIGURES: dict[str, Callable[..., Any]] = {
    "fig3/app77 sequential_figure": fig_sequential,
    "app75 per_task_figure, 3 panels, 20 tasks": fig_per_task(3),
    "fig9 per_task_figure, 2 panels": fig_per_task(2, 10),
    "fig4 per_task_figure, 1 panel": fig_per_task(1, 10),
    "fig5 transfer_figure": lambda: codes.transfer_figure(lifelong_result(2), LONG_TITLE),
    "fig6 per_code_figure, 10 tasks": lambda: codes.per_code_figure(lifelong_result(10),
                                                                    LONG_TITLE),
    "fig1b posterior_figure": lambda: latent.posterior_figure(
        {m: posterior_result(j) for m, j in latent.MODELS.items()}, LONG_TITLE)[0],
    "fig1b codes_figure": lambda: latent.codes_figure(posterior_result(10), 10),
    "fig1b samples_figure": lambda: latent.samples_figure(
        {m: posterior_result(j) for m, j in latent.MODELS.items()}),
    "fig1b shares_figure": lambda: latent.shares_figure(
        {m: (0.2, np.full(10, 0.1)) for m in latent.MODELS})[0],
    "app76 ranges.figure": fig_ranges,
    "kd_hm samples_figure": fig_kd_hm_samples,
    "kd_hm curves_figure": lambda: kd_hm.curves_figure(
        curve_arrays("teacher", "scratch", "ours", "local"))[0],
    "kd_lambda figure": fig_lambda,
    "kd_table1 samples_figure": fig_table1,
    "kd_table2 figure": fig_table2,
    "kd_fig2/kd_fig5 toy_figure": fig_toy,
    "kd_fig2/kd_fig5 readings_figure": fig_readings,
    "kd_vrnn strokes_figure, 4 samples": fig_strokes(4),
    "kd_vrnn strokes_figure, 10 samples": fig_strokes(10),
    "kd_vrnn curves_figure": lambda: kd_vrnn.curves_figure(
        curve_arrays("teacher", "scratch", "ours", "local"))[0],
    "fig1b draw_task_sequence": fig_task_sequence,
    "fig1b draw_teacher_student": fig_teacher_student,
    "kd_fig1 draw_distillation": lambda: diagrams.draw_distillation(
        diagrams.distillation_panels()),
    "kd_fig1 draw_structures": lambda: diagrams.draw_structures(
        diagrams.structure_graphs(diagrams.model_structures())),
    "kd_bridge curves_figure": lambda: kd_bridge.curves_figure(
        {"ours": RNG.uniform(90, 100, (2, 5)), "local": RNG.uniform(90, 100, (2, 5))},
        "Split MNIST, preset quick, 2 seeds: −ELBO after each task (mean ± std)")[0],
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_text_is_at_least_9_px_in_the_text_column(name, tmp_path):
    draw = FIGURES[name]
    with plt.rc_context(FIGURE_FONTS):
        theme()  # as lgm.report.page.begin does
        fig = draw(tmp_path) if draw.__code__.co_argcount else draw()
        try:
            width, pt = shown(fig)
            dump = os.environ.get("LGM_FIGURE_DUMP")
            if dump:
                Path(dump).mkdir(parents=True, exist_ok=True)
                slug = "".join(c if c.isalnum() else "_" for c in name)
                fig.savefig(Path(dump) / f"{slug}.png", dpi=SHOWN_DPI, bbox_inches="tight")
        finally:
            plt.close(fig)
    px = figures.text_px(pt, width)
    assert px >= MIN_PX, f"{name}: {pt:g} pt text in a {width:.2f} in figure shows {px:.1f} px"
    assert width <= WIDEST, f"{name}: {width:.2f} in wide (> {WIDEST:g} in)"


def test_the_rule_of_the_browser_test():
    """8 pt needs at most 9.5 in, 10 pt 11.9 in (the browser test's docstring)."""
    assert figures.text_px(8, 9.5) >= MIN_PX > figures.text_px(8, 9.6)
    assert figures.text_px(10, 11.9) >= MIN_PX > figures.text_px(10, 12.0)
    assert figures.text_px(10, WIDEST) >= MIN_PX


def test_wrapped_titles_fit_their_width():
    text = wrapped = figures.wrapped(LONG_TITLE, 4.0, 13)
    assert text.replace("\n", " ") == LONG_TITLE
    assert max(len(line) for line in wrapped.split("\n")) <= int(4.0 * 72 / (0.6 * 13))
    assert figures.wrapped("a\nb", 4.0, 13) == "a\nb"
