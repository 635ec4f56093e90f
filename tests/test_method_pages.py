"""Docs that cannot rot: every function the two method pages name exists, every test exists.

The method pages (``book/lifelong/method.md``, ``book/kd/method.md``) map the papers'
equations to code in tables whose columns are *paper | lgm | tested in*. A qualified name
(``lgm.models.vae.gumbel_softmax``) must import; a short one (``build_decoder``,
``DiscreteContinuousVAE.grown``) must be an attribute of the module named before it in the
row, or of some ``lgm`` module or class. A test file must exist; a test name must be defined
in ``tests/``.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from pathlib import Path

import pytest

import lgm

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "book" / "lifelong" / "method.md", ROOT / "book" / "kd" / "method.md"]
TICKS = re.compile(r"`([^`]+)`")


def rows(page: Path) -> list[tuple[str, str]]:
    """(lgm cell, tested-in cell) of every three-column table row after a 'tested in' header."""
    out, in_table = [], False
    for line in page.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3 and cells[-1] == "tested in":
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if in_table and not set(cells[0]) <= set("- "):
            out.append((cells[1], cells[-1]))
    return out


def all_modules() -> list[object]:
    """Every module of the package (its sub-packages may be namespace packages)."""
    names = [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
             for p in sorted((ROOT / "lgm").rglob("*.py"))]
    return [importlib.import_module(n) for n in names if not n.endswith("__main__")]


def resolve(name: str, context: object | None, modules: list[object]) -> object | None:
    """The object ``name`` stands for, or None."""
    name = re.sub(r"\(.*\)$", "", name.strip())
    if name.startswith("lgm."):
        parts = name.split(".")
        for cut in range(len(parts), 1, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr, None)
            return obj
        return None
    first, *rest = name.split(".")
    places = [context] if context is not None else []
    places += modules + [v for m in modules for v in vars(m).values() if isinstance(v, type)]
    for place in places:
        obj = getattr(place, first, None)
        if obj is not None:
            for attr in rest:
                obj = getattr(obj, attr, None)
            if obj is not None:
                return obj
    return None


def code_names(cell: str) -> list[str]:
    return [t for t in TICKS.findall(cell) if re.fullmatch(r"[\w.]+(\(.*\))?", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.parent.name)
def test_every_function_named_on_the_method_page_exists(page):
    modules = all_modules()
    missing = []
    for code, _ in rows(page):
        context = None
        for name in code_names(code):
            obj = resolve(name, context, modules)
            if obj is None:
                missing.append(name)
            elif name.startswith("lgm."):
                context = importlib.import_module(getattr(obj, "__module__", None) or name) \
                    if not hasattr(obj, "__path__") and not isinstance(obj, type(lgm)) else obj
    assert rows(page), f"no code table found on {page}"
    assert not missing, f"{page.name} names what the code does not have: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.parent.name)
def test_every_test_named_on_the_method_page_exists(page):
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    missing = []
    for _, tested in rows(page):
        for name in TICKS.findall(tested):
            if name.startswith("tests/"):
                path = name.split("::")[0]
                if not (ROOT / path).exists():
                    missing.append(name)
                if "::" in name and f"def {name.split('::')[1]}(" not in tests:
                    missing.append(name)
            elif name.endswith(".py") and not (ROOT / "tests" / name).exists():
                missing.append(name)
            elif name.startswith("test_") and not name.endswith(".py") and not fnmatch.filter(
                    re.findall(r"def (test_\w+)\(", tests), name):
                missing.append(name)
    assert not missing, f"{page.name} names tests that do not exist: {missing}"
