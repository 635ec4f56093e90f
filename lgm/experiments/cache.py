"""Result cache: a run's result is stored under a key of its full parameters and the code.

``cached_run(cfg)`` returns the stored result when one exists for ``cfg`` and the current code
version, and computes (and stores) it otherwise, so a notebook asks for results and the
library trains only for keys it has not seen. Two places are searched, in order:

1. ``results/`` in the repository: committed results (e.g. paper-preset GPU runs), read-only;
2. ``<cache root>/results/`` (``LGM_CACHE``, default ``runs/``): everything computed locally.

The code version is a hash of the modules a result depends on: the experiment's entry module
and every ``lgm`` module it imports, transitively, among the result packages (data, models,
losses, training, metrics, experiments), with docstrings, comments and blank lines removed.
Editing prose or comments keeps cached results, changing code they run invalidates them, and code of
another experiment (the other paper's, say) does not touch them. A corrupt entry is reported
and recomputed, never silently used.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import os
import tokenize
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lgm.experiments.config import RunConfig
from lgm.paths import REPO_ROOT, cache_root

RESULT_PACKAGES = ("data", "models", "losses", "training", "metrics", "experiments")
# Bookkeeping that never changes a result: pages' helpers and this cache itself.
NOT_RESULTS = ("experiments/report.py", "experiments/plots.py", "experiments/cache.py")
COMMITTED_RESULTS = REPO_ROOT / "results"


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers (1-based) of every module, class and function docstring."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)):
            lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def normalised_source(source: str) -> str:
    """``source`` without docstrings, comments, blank lines and trailing spaces.

    Built from line numbers and comment tokens only, which every Python version reports the
    same way (``ast.dump`` does not: a hash of it differed between 3.11 and 3.12), so a result
    computed on another machine's Python is found here.
    """
    lines = source.splitlines()
    drop = _docstring_lines(ast.parse(source))
    comments: dict[int, int] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.start[1]
    kept = []
    for number, line in enumerate(lines, start=1):
        if number in drop:
            continue
        line = line[: comments.get(number, len(line))].rstrip()
        if line:
            kept.append(line)
    return "\n".join(kept)


LIFELONG_ENTRY = "lgm.training.methods"


def _module_path(package: Path, module: str) -> Path | None:
    """File of an ``lgm.<sub>[.<name>]`` module inside a result package, else None."""
    parts = module.split(".")
    if not 2 <= len(parts) <= 3 or parts[0] != "lgm" or parts[1] not in RESULT_PACKAGES:
        return None
    path = package / parts[1] / (f"{parts[2]}.py" if len(parts) == 3 else "__init__.py")
    if not path.exists() or f"{parts[1]}/{path.name}" in NOT_RESULTS:
        return None
    return path


def _imports(tree: ast.AST) -> set[str]:
    """Modules named by ``import lgm.x.y``, ``from lgm.x.y import ...``, ``from lgm.x import y``
    (the last may name a module or an object: both are tried)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in names if n.startswith("lgm.")}


PACKAGE = Path(__file__).resolve().parent.parent


def code_modules(entry: str = LIFELONG_ENTRY) -> list[str]:
    """``entry`` and the result modules it imports, transitively, sorted."""
    todo, seen = [entry], set()
    while todo:
        module = todo.pop()
        path = _module_path(PACKAGE, module)
        if module in seen or path is None:
            continue
        seen.add(module)
        todo.extend(_imports(ast.parse(path.read_text())))
    return sorted(seen)


@functools.lru_cache(maxsize=16)
def code_version(entry: str = LIFELONG_ENTRY) -> str:
    """Hash of the code that determines the results of ``entry`` (a module name): the module
    and every result module it imports, transitively (comments, blank lines and docstrings
    ignored). Editing code that an experiment does not import keeps its cached results."""
    package = PACKAGE
    digest = hashlib.sha256()
    for module in code_modules(entry):
        text = normalised_source(_module_path(package, module).read_text())
        digest.update(f"{module}\n{text}\n".encode())
    return digest.hexdigest()[:12]


def result_key(cfg: RunConfig) -> str:
    """File stem of ``cfg``'s result: readable prefix, config hash and code version."""
    return f"{cfg.experiment}-{cfg.method}-seed{cfg.seed}-{cfg.preset}-{cfg.key()}-{code_version()}"


def result_paths(cfg: RunConfig) -> list[Path]:
    """Where the result of ``cfg`` may be stored: committed first, then the local cache."""
    name = f"{result_key(cfg)}.json"
    return [COMMITTED_RESULTS / cfg.experiment / name, cache_root() / "results" / name]


RUN_KEYS = ("config", "tasks", "provenance")


def load_result(path: Path, required: tuple[str, ...] = RUN_KEYS) -> dict[str, Any] | None:
    """The stored result, or None (with a warning) when the file is unreadable or incomplete.

    A result with arrays (``RunConfig.visuals``, samples) has them in ``<stem>.npz`` beside
    the JSON.
    """
    try:
        result = json.loads(path.read_text())
        if not isinstance(result, dict) or not set(required) <= set(result):
            raise ValueError(f"missing one of {'/'.join(required)}")
        if result.get("arrays_file"):
            with np.load(path.with_suffix(".npz")) as npz:
                result["arrays"] = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        warnings.warn(f"cache entry {path} is corrupt ({err}); recomputing it", stacklevel=2)
        return None
    return result


def save_result(path: Path, result: dict[str, Any]) -> None:
    """Write atomically (a kill mid-write leaves no half file); arrays go to ``.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {k: v for k, v in result.items() if k != "arrays"}
    if result.get("arrays"):
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **result["arrays"])
        os.replace(tmp, path.with_suffix(".npz"))
        record["arrays_file"] = path.with_suffix(".npz").name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def lookup(cfg: RunConfig) -> dict[str, Any] | None:
    """The cached result of ``cfg`` if there is a sound one."""
    for path in result_paths(cfg):
        if path.exists():
            result = load_result(path)
            if result is not None:
                return result
    return None


def cached_run(cfg: RunConfig, *, compute: bool = True, resume: bool = True) -> dict[str, Any]:
    """The result of ``cfg``: from the cache, else computed by ``run_experiment``.

    ``compute=False`` raises ``LookupError`` instead of training (for a book build that must
    only show stored results). A computation resumes from its last checkpoint (``resume``).
    """
    return cached_runs([cfg], compute=compute, resume=resume)[0]


def cached_runs(cfgs: list[RunConfig], *, compute: bool = True, resume: bool = True
                ) -> list[dict[str, Any]]:
    """Results of ``cfgs`` (in order). Those not in the cache are computed, configs that differ
    only in their seed together, as one stacked model (``run_experiments``); each seed's
    result is stored under its own config, exactly as a lone run would store it."""
    found: list[dict[str, Any] | None] = [lookup(c) for c in cfgs]
    for r in found:
        if r is not None:
            r["cache"] = "hit"
    missing = [c for c, r in zip(cfgs, found, strict=True) if r is None]
    if missing and not compute:
        raise LookupError(f"no cached result for {result_key(missing[0])}; run it with "
                          "compute=True")
    from lgm.training.methods import run_experiments  # late: training imports experiments

    for group in seed_groups(missing):
        for c, result in zip(group, run_experiments(group, resume=resume), strict=True):
            result["code_version"] = code_version()
            save_result(result_paths(c)[1], result)
            result["cache"] = "computed"
            found[cfgs.index(c)] = result
    return found  # type: ignore[return-value]


def seed_groups(cfgs: list[RunConfig]) -> list[list[RunConfig]]:
    """``cfgs`` grouped by everything but the seed (each seed once per group), in order."""
    groups: dict[str, list[RunConfig]] = {}
    for c in cfgs:
        base = json.dumps({k: v for k, v in c.to_dict().items() if k != "seed"},
                          sort_keys=True)
        group = groups.setdefault(base, [])
        if all(g.seed != c.seed for g in group):
            group.append(c)
    return list(groups.values())


# --------------------------------------------------------------------------- any experiment
CALL_KEYS = ("params", "provenance")


def params_hash(params: dict[str, Any]) -> str:
    """Short hash of a JSON-able parameter dict (key order irrelevant)."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def call_paths(group: str, name: str, params: dict[str, Any],
               entry: str = LIFELONG_ENTRY) -> list[Path]:
    """Committed then local paths of the result of experiment ``name`` with ``params``, for
    code whose entry module is ``entry``."""
    stem = f"{name}-{params_hash(params)}-{code_version(entry)}.json"
    return [COMMITTED_RESULTS / group / stem, cache_root() / "results" / group / stem]


def cached_call(group: str, name: str, params: dict[str, Any],
                compute: Callable[[dict[str, Any]], dict[str, Any]], *,
                recompute: bool = True) -> dict[str, Any]:
    """``compute(params)`` through the result cache (same rules as :func:`cached_run`).

    For experiments that are not a lifelong :class:`RunConfig` (the KD paper's). The code
    version is that of ``compute``'s module and what it imports. ``compute``
    must return a dict with ``provenance`` (see :func:`lgm.provenance.provenance`); numpy
    arrays go under ``arrays``. The stored result also records ``params`` and the code
    version. ``recompute=False`` raises ``LookupError`` when nothing is cached.
    """
    entry = compute.__module__
    paths = call_paths(group, name, params, entry)
    for path in paths:
        if path.exists():
            found = load_result(path, CALL_KEYS)
            if found is not None:
                found["cache"] = "hit"
                return found
    if not recompute:
        raise LookupError(f"no cached result for {paths[1].name}; run it with recompute=True")
    result = compute(params)
    if "provenance" not in result:
        raise ValueError(f"{name}: compute() must return a 'provenance' entry")
    result = {**result, "params": params, "code_version": code_version(entry)}
    save_result(paths[1], result)
    result["cache"] = "computed"
    return result
