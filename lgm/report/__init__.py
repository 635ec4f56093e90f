"""The report layer: what the book's pages show, apart from what the experiments compute.

- :mod:`lgm.report.tables`: series over seeds, means ± std, Markdown and HTML tables;
- :mod:`lgm.report.runs`: a page's runs through the result cache, seeds, provenance;
- :mod:`lgm.report.claims`: the paper's claims checked as data (:class:`Claim`) and the rules
  that say when a claim cannot be tested at a budget;
- :mod:`lgm.report.figures`: the shared plots, image tilers, figures saved with their data;
- :mod:`lgm.report.page`: a page's scaffolding (header at the top, rerun box and provenance at
  the bottom, verdicts recorded for the summary);
- :mod:`lgm.report.pages`: the registry of the book's pages (paper, title, knobs, GPU times);
- :mod:`lgm.report.summary`: the summary page's dashboard;
- the claim rules, tables and figures of the pages: lifelong paper in
  :mod:`~lgm.report.lifelong` (Figs. 3, 4, 9, apps. 7.3, 7.5, 7.7), :mod:`~lgm.report.latent`
  (Fig. 1b), :mod:`~lgm.report.codes` (Figs. 5, 6), :mod:`~lgm.report.ranges` (app. 7.6),
  :mod:`~lgm.report.table741`; KD paper in ``lgm.report.kd_*`` (one module per page).

Layering: this package imports from the experiments layer and below, never the reverse.
"""
