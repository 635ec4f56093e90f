"""Result cache: a run's result is stored under a key of its full parameters and the code.

``cached_run(cfg)`` returns the stored result when one exists for ``cfg`` and the current code
version, and computes (and stores) it otherwise, so a notebook asks for results and the
library trains only for keys it has not seen. Two places are searched, in order:

1. ``results/`` in the repository: committed results (e.g. paper-preset GPU runs), read-only;
2. ``<cache root>/results/`` (``LGM_CACHE``, default ``runs/``): everything computed locally.

The code version is a hash of the package's result-relevant modules (data, models, losses,
training, metrics, experiments) parsed with ``ast``, docstrings removed: editing prose or
comments keeps cached results, changing code invalidates them. A corrupt entry is reported
and recomputed, never silently used.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lgm.experiments.config import RunConfig
from lgm.paths import REPO_ROOT, cache_root

RESULT_PACKAGES = ("data", "models", "losses", "training", "metrics", "experiments")
NOT_RESULTS = ("experiments/report.py", "experiments/plots.py")  # pages' bookkeeping only
COMMITTED_RESULTS = REPO_ROOT / "results"


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the code that determines results (formatting, comments, docstrings ignored)."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for sub in RESULT_PACKAGES:
        for path in sorted((package / sub).glob("*.py")):
            if f"{sub}/{path.name}" in NOT_RESULTS:
                continue
            tree = _strip_docstrings(ast.parse(path.read_text()))
            digest.update(f"{sub}/{path.name}\n{ast.dump(tree)}".encode())
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
    found = lookup(cfg)
    if found is not None:
        found["cache"] = "hit"
        return found
    if not compute:
        raise LookupError(f"no cached result for {result_key(cfg)}; run it with compute=True")
    from lgm.training.methods import run_experiment  # late: training imports experiments

    result = run_experiment(cfg, resume=resume)
    result["code_version"] = code_version()
    save_result(result_paths(cfg)[1], result)
    result["cache"] = "computed"
    return result


# --------------------------------------------------------------------------- any experiment
CALL_KEYS = ("params", "provenance")


def params_hash(params: dict[str, Any]) -> str:
    """Short hash of a JSON-able parameter dict (key order irrelevant)."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def call_paths(group: str, name: str, params: dict[str, Any]) -> list[Path]:
    """Committed then local paths of the result of experiment ``name`` with ``params``."""
    stem = f"{name}-{params_hash(params)}-{code_version()}.json"
    return [COMMITTED_RESULTS / group / stem, cache_root() / "results" / group / stem]


def cached_call(group: str, name: str, params: dict[str, Any],
                compute: Callable[[dict[str, Any]], dict[str, Any]], *,
                recompute: bool = True) -> dict[str, Any]:
    """``compute(params)`` through the result cache (same rules as :func:`cached_run`).

    For experiments that are not a lifelong :class:`RunConfig` (the KD paper's). ``compute``
    must return a dict with ``provenance`` (see :func:`lgm.provenance.provenance`); numpy
    arrays go under ``arrays``. The stored result also records ``params`` and the code
    version. ``recompute=False`` raises ``LookupError`` when nothing is cached.
    """
    paths = call_paths(group, name, params)
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
    result = {**result, "params": params, "code_version": code_version()}
    save_result(paths[1], result)
    result["cache"] = "computed"
    return result
