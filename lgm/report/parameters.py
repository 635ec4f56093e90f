"""A page's parameters: the names its ``parameters`` cell declares and the values they may take.

``scripts/render_notebook.py`` checks them before it starts a page, and :func:`check_injected`
checks them again inside the page (called by :func:`lgm.report.page.begin`), so that a page
run by papermill directly (``papermill notebooks/fig3.ipynb out.ipynb -p bogus 1``) refuses an
unknown or bad parameter in one line instead of running on its defaults.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lgm.errors import LgmError
from lgm.paths import REPO_ROOT

PRESETS = ("smoke", "quick", "paper")
COMMON = ("preset", "seeds", "device", "data_root")  # validated by ExperimentConfig
#: The first line of the cell papermill injects with the parameters it was given.
INJECTED = "# Parameters"


class ParameterError(LgmError, ValueError):
    """A page parameter is invalid; the message names it."""


def declared_parameters(source: str) -> list[str]:
    """Names assigned at the top level of a parameters cell's source."""
    return re.findall(r"^([A-Za-z_]\w*)\s*=", source, re.MULTILINE)


def validate_parameters(params: dict[str, Any], declared: list[str], page: str) -> None:
    """Raise :class:`ParameterError` (one line, naming the parameter) on a bad page parameter."""
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ParameterError(f"{page}: unknown parameter(s) {', '.join(unknown)}; "
                             f"this page declares: {', '.join(declared)}")
    if "preset" in params and params["preset"] not in PRESETS:
        raise ParameterError(f"{page}: preset must be one of {', '.join(PRESETS)} "
                             f"(got {params['preset']!r})")
    if "seeds" in params and params["seeds"] is not None and not isinstance(params["seeds"],
                                                                            list):
        raise ParameterError(f"{page}: seeds must be a list of distinct non-negative ints, "
                             f"e.g. [0, 1] (got {params['seeds']!r})")
    common = {k: v for k, v in params.items() if k in COMMON and v is not None}
    if not common:
        return
    from pydantic import ValidationError

    from lgm.experiments.spec import ExperimentConfig, describe

    try:
        ExperimentConfig(**common)
    except ValidationError as err:
        raise ParameterError(f"{page}: {describe(err)}") from None


def page_parameters(page: str, folder: Path = REPO_ROOT / "notebooks") -> list[str] | None:
    """The names the ``parameters`` cell of ``notebooks/<page>.py`` declares (None when the
    source is not at hand)."""
    try:
        text = (folder / f"{page}.py").read_text()
    except OSError:
        return None
    cell = re.search(r'^# %% tags=\["parameters"\]\n(.*?)(?=^# %%)', text, re.S | re.M)
    return declared_parameters(cell.group(1)) if cell else None


def injected(history: list[str], namespace: dict[str, Any]) -> dict[str, Any]:
    """The parameters papermill injected, from the kernel's input ``history`` (its cell
    starts with ``# Parameters``), with their values in ``namespace``."""
    for source in history:
        if source.lstrip().startswith(INJECTED):
            return {n: namespace.get(n) for n in declared_parameters(source)}
    return {}


def check_injected(page: str) -> None:
    """Inside a running page: refuse parameters papermill injected that the page does not
    declare, or whose values are bad (:class:`ParameterError`); nothing outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    declared = page_parameters(page)
    if shell is None or declared is None:
        return
    params = injected(list(shell.user_ns.get("In", [])), shell.user_ns)
    if params:
        validate_parameters(params, declared, page)
