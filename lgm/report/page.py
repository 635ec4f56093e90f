"""A page's scaffolding, written once: the header at the top, the verdicts, and at the bottom
the provenance and a "Rerun this page" box.

A notebook reads::

    page = begin("fig3", preset=preset, seeds=seeds, device=device, data_root=data_root,
                 figure_dir=figure_dir)          # header: preset, caveat, seeds, device
    ...                                           # runs, figures: page.figure(fig, "fig3", data)
    page.check("lifelong beats EWC", ok, ours, rule="...")   # or page.add(claims)
    page.show_claims()                            # the verdict table (anchor #verdicts)
    page.end(results)                             # provenance, rerun box, verdicts recorded

Everything is also available as functions returning HTML (``header_html``, ``rerun_html``,
``claims_html``) so that it can be tested without a notebook.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lgm.experiments.experiment import Experiment
from lgm.provenance import git_commit
from lgm.report import claims as claims_mod
from lgm.report.claims import ANCHOR, NOT_YET_RUN, Claim, Kind, status_of
from lgm.report.exercises import page_time_text
from lgm.report.figures import download_link, save_figure
from lgm.report.pages import SUMMARY, info
from lgm.report.parameters import check_injected
from lgm.report.runs import (
    Runs,
    failures_markdown,
    missing_markdown,
    relative_data,
    results_provenance,
    run_all,
    seeds_text,
    surviving,
)
from lgm.report.style import theme
from lgm.report.tables import html_table

CAVEATS: dict[str, str] = {
    "smoke": "seconds of training, for the tests: the numbers mean nothing.",
    "quick": "a CPU budget far below the paper's (less data, few epochs, one seed): the page "
             "shows trends, not the paper's numbers. A claim whose model is not trained at "
             "this budget is marked <i>cannot be tested at this budget</i>, never "
             "<i>does not hold</i>.",
    "paper": "the paper's settings (meant for a GPU).",
    "custom": "settings of your own: compare with the paper only with care.",
}
STATUS_COLOURS = {"holds": "#1a7f37", "does not hold": "#cf222e",
                  "cannot be tested at this budget": "#9a6700",
                  "not yet run at paper scale": "#0969da", "no verdict recorded": "#57606a"}
_BOX = ("border:1px solid {c};border-left:6px solid {c};border-radius:4px;padding:0.6em 1em;"
        "margin:0.5em 0 1em 0;")


def status_badge(status: str) -> str:
    """A status as a coloured label (HTML)."""
    colour = STATUS_COLOURS.get(status, "#57606a")
    return f'<b style="color:{colour}">{html.escape(status)}</b>'


def header_html(name: str, preset: str, seeds: Sequence[int], device: str,
                caveat: str = "") -> str:
    """The box at the top of a page: the preset it shows and why it matters, seeds, device."""
    text = CAVEATS.get(preset, "")
    extra = f" {html.escape(caveat.replace('`', ''))}" if caveat else ""
    return (f'<div class="lgm-page-header" style="{_BOX.format(c="#0969da")}">'
            f"<b>This page shows the <code>{html.escape(preset)}</code> preset</b>: {text}{extra}"
            f"<br>seeds {list(seeds)} · device <code>{html.escape(device)}</code> · page "
            f"<code>notebooks/{html.escape(name)}.py</code> · how to rerun it, and with what "
            f"to experiment: the box at the bottom.</div>")


def rerun_html(name: str, preset: str, *, page_s: float | None = None,
               compute_s: float | None = None, devices: Sequence[str] = ()) -> str:
    """The "Rerun this page" box: exact commands, their measured times, and the parameters
    worth changing (from :data:`lgm.report.pages.PAGES`)."""
    entry = info(name)
    quick = f"make figure NB={name} PRESET=quick"
    paper = f"make figure NB={name} PRESET=paper DEVICE=cuda"
    recorded = page_time_text(name)  # make exercises --pages: cold and warm cache
    if preset == "quick" and page_s is not None:
        measured = f"this build: {page_s:.0f} s for the page"
        if compute_s is not None:
            measured += (f"; the runs it shows took {compute_s:.0f} s of compute when they were "
                         f"made ({html.escape(', '.join(devices) or 'cpu')})")
        measured = f"{html.escape(recorded)}; {measured}" if recorded else measured
    else:
        known = claims_mod.wall_time(name, "quick")
        measured = (html.escape(recorded) if recorded
                    else f"last recorded quick build of this page: {known:.0f} s" if known
                    else "time not recorded yet on this machine")
    gpu = html.escape(entry.paper_gpu) if entry.paper_gpu else "GPU time not measured yet"
    if entry.paper_note:
        gpu += f"; {html.escape(entry.paper_note)}"
    knobs = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>"
                    for k, v in entry.knobs)
    knob_text = (f"<p>Worth changing (in the parameters cell of <code>notebooks/{name}.py"
                 f"</code>, then rerun):</p><ul>{knobs}</ul>" if knobs else "")
    return (f'<div class="lgm-rerun" style="{_BOX.format(c="#8250df")}">'
            f"<p><b>Rerun this page</b> (from the repository root; caches make a rerun fast)</p>"
            f"<ul><li>CPU, 2 cores: <code>{quick}</code> ({measured})</li>"
            f"<li>the paper's settings, on a GPU: <code>{paper}</code> ({gpu})</li></ul>"
            f"{knob_text}</div>")


def claims_html(claims: Sequence[Claim]) -> str:
    """A page's verdict table, anchored at ``#verdicts`` for the summary's links."""
    rows = [[html.escape(c.text), html.escape(c.kind), html.escape(c.paper_value or "–"),
             html.escape(c.ours), status_badge(c.status)] for c in claims]
    table = html_table(["claim", "kind", "paper", "ours (rule)", "verdict"], rows,
                       raw_columns=(0, 1, 2, 3, 4))
    return f'<div id="{ANCHOR}">{table}</div>'


def _display_html(text: str) -> None:
    from IPython.display import HTML, display

    display(HTML(text))


@dataclass
class Page:
    """One executing page: its settings, the claims it checks, the files it writes."""

    name: str
    preset: str
    seeds: list[int]
    device: str
    data_root: str | None = None
    figure_dir: Path = Path("build/figures")
    started: float = field(default_factory=time.perf_counter)
    claims: list[Claim] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    runs: Runs = field(default_factory=Runs)
    asked: dict[str, list[int]] = field(default_factory=dict)

    # --------------------------------------------------------------------------------- runs
    def run(self, experiment: Experiment, variants: Mapping[str, Mapping[str, Any]]
            ) -> dict[str, list[dict[str, Any]]]:
        """Run (or read from the cache) ``experiment`` once per variant (label -> overrides), at
        the page's preset, seeds, device and data root, with the page's quick cut
        (:meth:`Experiment.quick_cut`); diverged runs are listed on the page and left out. Where
        this preset may not be trained here (a paper-scale page on a CPU), only stored runs are
        read and a box lists what is missing. Returns the results by label (an error if no run
        at all is there)."""
        where = {"device": self.device, "data_root": self.data_root,
                 **experiment.quick_cut(self.name, self.preset)}
        configs = {label: experiment.make_config(self.preset, self.seeds, **{**where, **o})
                   for label, o in variants.items()}
        self.asked.update({label: list(self.seeds) for label in configs})
        run_all(experiment, configs, self.runs)
        from IPython.display import Markdown, display

        for text in (missing_markdown(self.runs, self.name, self.asked),
                     failures_markdown(self.runs)):
            if text:
                display(Markdown(text))
        surviving(self.runs, list(configs))
        return self.runs.results

    @property
    def seed_text(self) -> str:
        """The seeds the figures average over: "5 seed(s)", or per variant when partial."""
        return seeds_text(self.runs, self.asked)

    def partial_note(self) -> str:
        """" [partial: lifelong 2, ewc 1 of 5 seeds]" while a variant has only some of the
        seeds the page asked for ("" otherwise): a verdict on fewer seeds says so."""
        partial = any(0 < len(self.runs.results.get(label, [])) < len(seeds)
                      for label, seeds in self.asked.items())
        return f" [partial: {self.seed_text}]" if partial else ""

    def not_yet_run(self, labels: Sequence[str], claims: Sequence[str], *,
                    any_of: bool = False) -> bool:
        """Whether ``claims`` wait for runs not stored yet: a variant among ``labels`` that the
        page asked for has no stored run (with ``any_of``: none of ``labels`` has one). Then
        each claim is recorded as *not yet run at paper scale* and True is returned; a variant
        left out on purpose or diverged is the caller's to judge (False)."""
        have = [label for label in labels if label in self.runs.results]
        pending = [label for label in labels if label not in have and label in self.runs.missing]
        if not pending or (any_of and have):
            return False
        why = f"{', '.join(pending)} not stored at this preset yet (make harvest PAGES={self.name})"
        for text in claims:
            self.claims.append(Claim(page=self.name, preset=self.preset, text=text, ours=why,
                                     status=NOT_YET_RUN))
        return True

    # ------------------------------------------------------------------------------ figures
    def figure(self, fig: Any, stem: str, data: Mapping[str, Sequence[Any]] | None = None,
               *, show: bool = True) -> None:
        """Save ``fig`` as ``<figure_dir>/<stem>.png`` (and its data as ``<stem>.csv``), show
        it, and put the CSV's download link under it."""
        png = Path(self.figure_dir) / f"{stem}.png"
        out = save_figure(fig, png, data)
        self.files.append(png)
        if show:
            import matplotlib.pyplot as plt

            plt.show()
        if data is not None:
            self.files.append(out)
            _display_html(download_link(out))

    # ------------------------------------------------------------------------------- claims
    def check(self, text: str, ok: bool, ours: str, *, rule: str = "",
              untestable: str | None = None, untrained: str | None = None,
              kind: Kind = "claim", paper_value: str = "") -> Claim:
        """Record one check: ``ok`` under ``rule``, unless ``untestable`` says why it cannot be
        tested at this budget. ``untrained`` (why the models are not trained, e.g. every run
        at the epoch cap) turns only a failed check into "cannot be tested at this budget":
        an untrained model that shows the paper's effect still shows it."""
        detail = ours + (f" ({rule})" if rule else "") + self.partial_note()
        if untrained and not ok and not untestable:
            untestable = untrained
        if untestable:
            detail = f"{untestable}. {detail}"
        claim = Claim(page=self.name, preset=self.preset, text=text, kind=kind,
                      paper_value=paper_value, ours=detail, status=status_of(ok, untestable))
        self.claims.append(claim)
        return claim

    def add(self, claims: Iterable[Claim]) -> None:
        """Record claims built elsewhere (e.g. by :mod:`lgm.report.lifelong`)."""
        for c in claims:
            if (c.page, c.preset) != (self.name, self.preset):
                c = c.model_copy(update={"page": self.name, "preset": self.preset})
            self.claims.append(c)

    def anchor(self) -> None:
        """Mark where the page's checks are shown (the summary links to ``#verdicts``), for a
        page that shows them in a table of its own instead of :meth:`show_claims`."""
        _display_html(f'<div id="{ANCHOR}"></div>')

    def show_claims(self, note: str = "") -> None:
        """Display the verdict table (and a note under it)."""
        _display_html(claims_html(self.claims) + (f"<p>{html.escape(note)}</p>" if note else ""))

    # ------------------------------------------------------------------------------- ending
    def record(self, *, show: bool = False) -> float:
        """Record the page's verdicts at its preset for the summary (``show``: and display the
        provenance of its runs in one line, for a second preset shown on the same page);
        returns the page's time."""
        page_s = time.perf_counter() - self.started
        if self.name != SUMMARY.name:
            claims_mod.record(self.name, self.preset, self.claims, wall_s=round(page_s, 1))
        if show:
            from IPython.display import Markdown, display

            text = results_provenance(self.runs.all(), self.preset, self.seeds, self.started)
            display(Markdown(f"*Provenance of the `{self.preset}` runs:* "
                             + relative_data(text.split("\n\ndata:")[0])))
        return page_s

    def end(self, results: Iterable[dict[str, Any]] = (), *, extra: str = "",
            provenance: str | None = None) -> None:
        """Record the verdicts (or "no verdict recorded"), then show the provenance (data paths
        relative to the data root) and the "Rerun this page" box."""
        from IPython.display import Markdown, display

        results = list(results) or self.runs.all()
        if self.runs.failed:
            extra = f"**{len(self.runs.failed)} run(s) diverged** (listed above); " + extra
        page_s = self.record()
        files = ", ".join(f"`{p.name}`" for p in self.files)
        folder = relative_data(str(self.figure_dir))
        extra = "; ".join(x for x in (extra, f"files in `{folder}`: {files}" if files else "")
                          if x)
        if provenance is not None:
            text = relative_data(f"{provenance} · commit {git_commit()} · this page "
                                 f"{page_s:.1f} s" + (f" · {extra}" if extra else ""))
        else:
            text = results_provenance(results, self.preset, self.seeds, self.started, extra)
        display(Markdown("## Provenance\n\n" + text))
        compute = sum(r["provenance"]["wall_s"] for r in results) if results else None
        devices = sorted({r["provenance"]["device"] for r in results})
        _display_html(rerun_html(self.name, self.preset, page_s=page_s, compute_s=compute,
                                 devices=devices))


#: Type sizes (points) of the book's figures. A figure is at most
#: :data:`lgm.report.figures.MAX_WIDTH` (11.5 in) wide and fills the 772 px text column, so
#: its 11-14 pt text shows at 10-13 px (at least 9 px).
FIGURE_FONTS = {"font.size": 13, "axes.titlesize": 13, "axes.labelsize": 13,
                "legend.fontsize": 11, "xtick.labelsize": 11, "ytick.labelsize": 11,
                "figure.titlesize": 14}


def _readable_figures() -> None:
    import matplotlib

    matplotlib.rcParams.update(FIGURE_FONTS)
    theme()


def begin(name: str, *, preset: str, seeds: Sequence[int], device: str,
          data_root: str | None = None, figure_dir: str | Path = "build/figures",
          caveat: str = "", show: bool = True) -> Page:
    """Start page ``name``: show its header (preset and caveat, seeds, device) at the top,
    and return the :class:`Page` that records its figures and claims."""
    info(name)  # an unknown page is an error before any compute
    check_injected(name)  # a page run by papermill directly: its parameters as render checks
    _readable_figures()
    page = Page(name, preset, list(seeds), device, data_root, Path(figure_dir))
    page.figure_dir.mkdir(parents=True, exist_ok=True)
    if show:
        _display_html(header_html(name, preset, page.seeds, device, caveat))
    return page
