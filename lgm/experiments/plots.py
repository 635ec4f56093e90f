"""Former home of the shared plots, now :mod:`lgm.report.figures` (re-exports until the last
page has moved)."""

from __future__ import annotations

from lgm.report.figures import METHOD_STYLE, curve_with_band, finish_axis, sequential_figure

__all__ = ["METHOD_STYLE", "curve_with_band", "finish_axis", "sequential_figure"]
