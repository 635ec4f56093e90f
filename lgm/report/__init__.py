"""The report layer: what the book's pages show, apart from what the experiments compute.

- :mod:`lgm.report.tables`: series over seeds, means ± std, Markdown and HTML tables;
- :mod:`lgm.report.runs`: a page's runs through the result cache, seeds, provenance;
- :mod:`lgm.report.claims`: the paper's claims checked as data (:class:`Claim`) and the rules
  that say when a claim cannot be tested at a budget;
- :mod:`lgm.report.figures`: the shared plots, image tilers, figures saved with their data;
- :mod:`lgm.report.page`: a page's scaffolding (header at the top, rerun box and provenance at
  the bottom, verdicts recorded for the summary);
- :mod:`lgm.report.summary`: the summary page's dashboard;
- :mod:`lgm.report.lifelong` and :mod:`lgm.report.kd`: the claim rules and analyses of the two
  papers' pages.

Layering: this package imports from the experiments layer and below, never the reverse.
"""
