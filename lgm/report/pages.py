"""The book's pages as data: paper, title, parameters worth changing, known GPU times.

The summary lists every page of this registry (a test checks it against ``notebooks/``), and
each page's "Rerun this page" box reads its entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Paper = Literal["lifelong", "kd"]
PAPER_TITLES: dict[str, str] = {
    "lifelong": "Lifelong Generative Modeling",
    "kd": "A Unified Knowledge Distillation Framework for Deep Directed Graphical Models",
}


@dataclass(frozen=True)
class PageInfo:
    """One book page: ``notebooks/<name>.py`` rendered to ``book/notebooks/<name>``."""

    name: str
    paper: Paper
    title: str
    #: (parameter of the notebook's parameters cell, what changing it shows)
    knobs: tuple[tuple[str, str], ...] = ()
    #: the paper preset's measured GPU time, with its device ("" where not measured)
    paper_gpu: str = ""
    #: notes on the paper preset (e.g. "a CPU run: the tiny layers gain nothing on a GPU")
    paper_note: str = ""
    extra: dict[str, str] = field(default_factory=dict)


PAGES: tuple[PageInfo, ...] = (
    PageInfo("table741", "lifelong", "Model sizes (appendix 7.4.1)"),
    PageInfo("fig1b", "lifelong",
             "The setting (Figs. 1a, 2), two shortcomings of a Gaussian latent (Fig. 1b)",
             (("arch", '"conv" for the convolutional encoder/decoder'),
              ("seeds", "[0, 1, 2]: are the shares of the prior stable across seeds?"))),
    PageInfo("fig3", "lifelong", "Split Fashion-MNIST (Fig. 3)",
             (("methods", 'e.g. ["lifelong", "vanilla"] for a faster run'),
              ("seeds", "[0, 1, 2] for error bands"),
              ("arch", '"conv" (appendix 7.4.1)')),
             paper_gpu="lifelong 143 s, EWC 132 s, vanilla 155 s for 5 seeds on one H100 "
                       "(committed in results/fashion/; full and upto not yet)"),
    PageInfo("fig4", "lifelong", "Permuted MNIST (Fig. 4)",
             (("methods", "drop the oracles (full, upto) for a faster run"),
              ("seeds", "[0, 1, 2] for error bands"))),
    PageInfo("fig5", "lifelong", "SVHN to MNIST (Fig. 5)",
             (("arch", '"conv", the paper\'s choice for SVHN'),)),
    PageInfo("fig6", "lifelong", "Generation per code (Fig. 6)",
             (("seeds", "another seed: which codes are reused?"),)),
    PageInfo("app73", "lifelong", "With vs without the likelihood regulariser (app. 7.3)",
             (("ll_weight", "0.5 or 2.0: how strongly the regulariser pulls"),
              ("seeds", "[0, 1] for error bands"))),
    PageInfo("app75", "lifelong", "Twenty distributions: Fashion then MNIST (app. 7.5)",
             (("methods", '["lifelong"] alone halves the time'),)),
    PageInfo("app76", "lifelong", "Ranges of EWC's gamma and lifelong's lambda (app. 7.6)",
             (("ewc_gammas", "a finer grid around the best gamma"),
              ("lifelong_lambdas", "[0.0, 0.01]: is the information gain's effect within "
                                   "the spread of seeds?"),
              ("seeds", "[0, 1] for error bands"))),
    PageInfo("app77", "lifelong", "Split MNIST (app. 7.7)",
             (("methods", 'add "vanilla" for the forgetting baseline'),)),
    PageInfo("fig9", "lifelong", "Forward vs reverse KL (Fig. 9)",
             (("seeds", "[0, 1, 2]: is the gap larger than the spread?"),
              ("arch", '"conv"'))),
    PageInfo("kd_fig1", "kd",
             "Four forms of a deep DGM, what each method pairs, four models (Figs. 1, 3, 4)"),
    PageInfo("kd_fig2", "kd", "Error accumulation, Gaussian chain (Fig. 2)",
             paper_note="runs on CPU cores: the tiny layers gain nothing from a GPU"),
    PageInfo("kd_fig5", "kd", "Error accumulation, binomial chain (Fig. 5)",
             paper_note="runs on CPU cores: the tiny layers gain nothing from a GPU"),
    PageInfo("kd_table1", "kd", "Hierarchical VAE compression (Table 1)",
             (("datasets", '["mnist"] for another stand-in'),
              ("seeds", "[0, 1, 2] as in the paper"))),
    PageInfo("kd_lambda", "kd", "Sensitivity to lambda (Fig. 7)",
             (("dataset", '"mnist" for another stand-in'),)),
    PageInfo("kd_vrnn", "kd", "VRNN compression on handwriting (Fig. 8)",
             (("seeds", "[0, 1] for a spread"),)),
    PageInfo("kd_hm", "kd", "Helmholtz machine on Old Faithful (app. H)",
             (("seeds", "[0, 1, 2] for a spread"),)),
    PageInfo("kd_table2", "kd", "KD-based continual learning (Table 2)",
             (("seeds", "[0, 1] for a spread"),)),
    PageInfo("kd_bridge", "kd", "Where the two papers meet",
             (("seeds", "[0, 1] for a spread"),)),
)
BY_NAME: dict[str, PageInfo] = {p.name: p for p in PAGES}
SUMMARY = PageInfo("summary", "lifelong", "Reproduction summary (both papers)")


def info(name: str) -> PageInfo:
    """The registry entry of page ``name`` (an error naming the page if it has none)."""
    if name == SUMMARY.name:
        return SUMMARY
    if name in BY_NAME:
        return BY_NAME[name]
    from lgm.experiments.registry import by_page

    shows = by_page().get(name)  # a page that only an experiment declares (a new one's)
    if shows:
        return PageInfo(name, "kd" if shows[0].paper == "kd" else "lifelong", shows[0].title)
    raise KeyError(f"page {name!r} is not in lgm.report.pages.PAGES nor declared by an "
                   f"experiment; known: {', '.join(BY_NAME)}")
