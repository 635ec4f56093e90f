"""Result cache: nothing wrong is ever cached, served or lost.

``cached_run(cfg)`` returns the stored result of ``cfg`` when there is a sound one, and
computes (and stores) it otherwise, so a notebook asks for results and the library trains only
what it has not seen. Two places are searched, in order:

1. ``results/`` in the repository: committed results (e.g. paper-preset GPU runs), read-only;
2. ``<cache root>/results/`` (``LGM_CACHE``, default ``runs/``): everything computed locally.

**Key.** A lifelong run's file is ``<experiment>-<method>-seed<s>-<preset>-<config hash>-
<data hash>.json``: the config hash covers every field that changes the result (not the device
or the data root), the data hash the names, sizes and sha256 of the data files the run reads
(:func:`lgm.data.tasks.experiment_fingerprint`, hashed once per file). Any other experiment's
(:func:`cached_call`) is ``<group>/<name>-<params hash>.json``, and records the data files its
computation read. The code is not part of the key.

**What is served.** A stored entry is served only if it is strict JSON with the expected
fields and finite numbers, its stored config (params) equals the one asked for (a file copied
under another key's name is rejected), its data fingerprint equals the current data's (when the
data is at hand: without it nothing could be recomputed anyway, so the entry is served with a
warning), and its **numerics fingerprint** equals the current code's: the output of the entry
module's ``fingerprint()`` (a short float64 CPU computation through the experiment's real code
path, :mod:`lgm.experiments.fingerprints`), compared with a relative tolerance of 1e-9. A
refactor that keeps the numbers keeps every stored result; one that changes them makes them
stale (a warning, then recomputation). An entry module without ``fingerprint()`` falls back to
a hash of its source and the lgm modules it imports (:func:`code_version`).

**What is stored.** Results are written strictly (a NaN or infinite number is an error,
:class:`~lgm.errors.DivergedError`, never a file), through unique temporary files renamed into
place (:func:`lgm.paths.atomic_write`), under a per-key lock (``filelock``): a second identical
run waits for the first and then reads its result instead of computing it again. A cache that
cannot be written raises :class:`~lgm.paths.CacheError` (a full disk
:class:`~lgm.paths.DiskFullError`), saying what, where and what to do.
"""

from __future__ import annotations

import ast
import contextvars
import functools
import hashlib
import importlib
import io
import json
import math
import sys
import tokenize
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import filelock
import numpy as np

from lgm.data.datasets import search_roots
from lgm.data.fingerprint import (
    PACKAGE_ROOT,
    DataFingerprint,
    file_sha256,
    fingerprint_reads,
    recording_reads,
)
from lgm.data.idx import DataNotFoundError
from lgm.data.tasks import experiment_fingerprint
from lgm.errors import DivergedError
from lgm.experiments.bounds import check_result, diverged
from lgm.experiments.config import RunConfig
from lgm.experiments.spec import check_may_train
from lgm.paths import REPO_ROOT, CacheError, atomic_write, cache_root, ensure_folder, store_error
from lgm.training.checkpoint import checkpoint_code

RESULT_PACKAGES = ("data", "models", "losses", "training", "metrics", "experiments")
# Bookkeeping that never changes a result: pages' helpers and this cache itself.
NOT_RESULTS = ("experiments/cache.py",)
COMMITTED_RESULTS = REPO_ROOT / "results"
LIFELONG_ENTRY = "lgm.experiments.lifelong"
FINGERPRINT_RTOL = 1e-9
NO_DATA = "nodata"  # the data part of a key when the data files are not at hand


# ------------------------------------------------------------------ code version (fallback)


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
    """``source`` without docstrings, comments, blank lines and trailing spaces (the same on
    every Python version, unlike ``ast.dump``)."""
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
    """Hash of the source of ``entry`` and the result modules it imports (comments, blank
    lines and docstrings ignored): the fallback for entry modules without ``fingerprint()``."""
    digest = hashlib.sha256()
    for module in code_modules(entry):
        text = normalised_source(_module_path(PACKAGE, module).read_text())
        digest.update(f"{module}\n{text}\n".encode())
    return digest.hexdigest()[:12]


# ------------------------------------------------------------------ numerics fingerprint


def _fingerprint_function(entry: str) -> Callable[[], Sequence[float]] | None:
    module = importlib.import_module(entry)
    function = getattr(module, "fingerprint", None)
    if function is None and entry == LIFELONG_ENTRY:
        from lgm.experiments.fingerprints import lifelong_fingerprint
        function = lifelong_fingerprint
    return function


@functools.lru_cache(maxsize=32)
def _entry_fingerprint(entry: str) -> tuple[float, ...] | str:
    function = _fingerprint_function(entry)
    if function is None:
        return code_version(entry)
    from lgm.experiments.fingerprints import silent

    with silent():  # nothing a user did not ask for prints
        values = tuple(float(v) for v in function())
    if not values or not all(math.isfinite(v) for v in values):
        raise DivergedError(f"{entry}.fingerprint() must return finite floats, got "
                            f"{list(values)[:8]}", "fingerprint")
    return values


def entry_fingerprint(entry: str) -> list[float] | str:
    """The numerics fingerprint of entry module ``entry`` (computed once per process): its
    ``fingerprint()`` as floats, else its :func:`code_version`."""
    found = _entry_fingerprint(entry)
    return found if isinstance(found, str) else list(found)


def same_fingerprint(stored: Any, current: list[float] | str) -> bool:
    """Whether a stored fingerprint equals the current one: floats within a relative tolerance
    of 1e-9, of the value or of the fingerprint's largest magnitude (a small term computed
    from large ones, such as a KL between two posteriors, carries their rounding; the
    fingerprint of the scalar CPU kernels differs from the AVX2/AVX-512 ones by ~1e-9 there)."""
    if isinstance(current, str) or isinstance(stored, str):
        return stored == current
    if not isinstance(stored, list) or len(stored) != len(current) or not all(
            isinstance(s, (int, float)) and not isinstance(s, bool) for s in stored):
        return False
    scale = FINGERPRINT_RTOL * max(abs(c) for c in current) if current else 0.0
    return all(math.isclose(s, c, rel_tol=FINGERPRINT_RTOL, abs_tol=scale)
               for s, c in zip(stored, current, strict=True))


# ------------------------------------------------------------------ strict JSON files


def _non_finite(value: Any, where: str) -> str | None:
    """Path of the first NaN/inf inside ``value`` (``tasks[3].neg_elbo``), else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else where
    if isinstance(value, dict):
        items: Iterator[tuple[str, Any]] = ((f"{where}.{k}" if where else str(k), v)
                                            for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    return next((bad for w, v in items if (bad := _non_finite(v, w)) is not None), None)


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (for ``json.dumps``)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def strict_json(record: dict[str, Any], what: str) -> bytes:
    """``record`` as strict JSON; :class:`~lgm.errors.DivergedError` naming the first NaN/inf."""
    plain = json.loads(json.dumps(record, default=_plain))  # numpy scalars -> floats
    bad = _non_finite(plain, "")
    if bad is not None:
        value = _lookup_path(plain, bad)
        raise DivergedError(f"{what}: {bad} is {value!r}; a non-finite result is never stored "
                            "(the run diverged or a metric overflowed)", "result")
    return json.dumps(plain, indent=1, allow_nan=False).encode()


def _lookup_path(value: Any, path: str) -> Any:
    for part in path.replace("[", ".").replace("]", "").split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} overflows to {value}")
    return value


def read_json(path: Path) -> Any:
    """Strict JSON (``NaN``/``Infinity``, and numbers that overflow to them, are an error)."""
    return json.loads(path.read_text(), parse_constant=_reject_constant,
                      parse_float=_finite_float)


def save_result(path: Path, result: dict[str, Any]) -> None:
    """Write ``result`` strictly and atomically (unique temporary file, then rename); arrays
    go to ``<stem>.npz`` first, so a JSON file always has its arrays beside it."""
    record = {k: v for k, v in result.items() if k not in ("arrays", "cache")}
    blob = strict_json(record | {"arrays_file": path.with_suffix(".npz").name}
                       if result.get("arrays") else record, f"result {path.name}")
    if result.get("arrays"):
        atomic_write(path.with_suffix(".npz"),
                     lambda f: np.savez_compressed(f, **result["arrays"]), "result arrays")
    atomic_write(path, lambda f: f.write(blob), "result")


RUN_KEYS = ("config", "tasks", "provenance")
CALL_KEYS = ("params", "provenance")


def load_result(path: Path, required: tuple[str, ...] = RUN_KEYS) -> dict[str, Any] | None:
    """The stored result, or None (with a warning) when it is unreadable, incomplete, not
    strict JSON or holds a non-finite number."""
    try:
        result = read_json(path)
        if not isinstance(result, dict) or not set(required) <= set(result):
            raise ValueError(f"missing one of {'/'.join(required)}")
        if result.get("arrays_file"):
            with np.load(path.with_suffix(".npz")) as npz:
                result["arrays"] = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        warnings.warn(f"cache entry {path} is corrupt ({err}); recomputing it", stacklevel=3)
        return None
    return result


# ------------------------------------------------------------------ validity of an entry


def _canonical(value: Any) -> Any:
    """JSON round trip (tuples -> lists, numpy -> Python), the form a stored value has."""
    return json.loads(json.dumps(value, sort_keys=True, default=_plain))


def config_params(cfg: RunConfig) -> dict[str, Any]:
    """What a lifelong run's key covers: every field but the device and the data root."""
    return {k: v for k, v in _canonical(cfg.to_dict()).items() if k not in ("device",
                                                                             "data_root")}


def params_hash(params: dict[str, Any], length: int = 12) -> str:
    """Short hash of a JSON-able parameter dict (key order irrelevant)."""
    blob = json.dumps(_canonical(params), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def _stale_reason(entry: dict[str, Any], asked: dict[str, Any], stored_asked: Any,
                  fingerprint: list[float] | str, data: str | None) -> str | None:
    """Why ``entry`` may not be served for the key ``asked`` (None: it may)."""
    if _canonical(stored_asked) != asked:
        return "it holds the result of another configuration (a file copied or renamed?)"
    stored = entry.get("fingerprint", entry.get("code_version"))
    if not same_fingerprint(stored, fingerprint):
        return ("it was computed by code whose numbers differ from the current code's "
                "(numerics fingerprint changed)")
    stored_data = (entry.get("data_fingerprint") or {}).get("digest")
    if data is not None and stored_data != data:
        return "it was computed from other data files (data fingerprint differs)"
    return None


def _check_entry(path: Path, required: tuple[str, ...], asked: dict[str, Any], field: str,
                 fingerprint: list[float] | str, data: str | None, family: str,
                 same: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None
                 ) -> dict[str, Any] | None:
    """The entry at ``path`` if it is sound and belongs to this key; else None (warned).
    ``same(stored, asked)``: whether a stored config serves the one asked for (default:
    equality)."""
    entry = load_result(path, required)
    if entry is None:
        return None
    if field == "config":
        stored_asked = {k: v for k, v in entry["config"].items()
                        if k not in ("device", "data_root")}
    else:
        stored_asked = entry[field]
    if same is not None and same(_canonical(stored_asked), asked):
        stored_asked = asked
    reason = _stale_reason(entry, asked, stored_asked, fingerprint, data)
    beyond = diverged(entry, family) if reason is None else None
    if beyond is not None:
        reason = (f"it holds a diverged result ({beyond[0]} = {beyond[1]:.4g}, beyond the "
                  f"bound {beyond[2].limit:.4g})")
    if reason is not None:
        warnings.warn(f"cache entry {path} is not used: {reason}; recomputing it",
                      stacklevel=3)
        return None
    return entry


# ------------------------------------------------------------------ lifelong runs


def data_fingerprint(cfg: RunConfig) -> DataFingerprint | None:
    """Fingerprint of the data files ``cfg`` reads, None when they are not at hand."""
    try:
        return experiment_fingerprint(cfg.experiment, cfg.data_root, num_tasks=cfg.num_tasks,
                                      class_order=cfg.class_order)
    except DataNotFoundError:
        return None


def _data_part(fp: DataFingerprint | None) -> str:
    return fp.digest[:12] if fp is not None else NO_DATA


def _stem(cfg: RunConfig, data: str) -> str:
    return (f"{cfg.experiment}-{cfg.method}-seed{cfg.seed}-{cfg.preset}-"
            f"{params_hash(config_params(cfg), 16)}-{data}")


def result_key(cfg: RunConfig, fp: DataFingerprint | None = None) -> str:
    """File stem of ``cfg``'s result: readable prefix, config hash and data hash."""
    return _stem(cfg, _data_part(fp if fp is not None else data_fingerprint(cfg)))


def result_paths(cfg: RunConfig, fp: DataFingerprint | None = None) -> list[Path]:
    """Where the result of ``cfg`` may be stored: committed first, then the local cache."""
    name = f"{result_key(cfg, fp)}.json"
    return [COMMITTED_RESULTS / cfg.experiment / name, _local() / name]


def _local() -> Path:
    return cache_root(create=False) / "results"


_unchecked_warned: set[str] = set()


DISPLAY_FIELDS = ("visuals",)  # what a run keeps for display only: never splits a result


def serves(stored: dict[str, Any], asked: dict[str, Any]) -> bool:
    """Whether a stored run's config serves the one asked for: equal but for what is kept
    for display, of which it keeps at least as much (a run with 8 images per code serves a
    request for 0 or 4; training never reads ``visuals``)."""
    rest = [k for k in {*stored, *asked} if k not in DISPLAY_FIELDS]
    return (all(stored.get(k) == asked.get(k) for k in rest)
            and all(isinstance(stored.get(k), int) and isinstance(asked.get(k), int)
                    and stored[k] >= asked[k] for k in DISPLAY_FIELDS))


def _candidates(cfg: RunConfig, fp: DataFingerprint | None) -> list[Path]:
    """Files that may hold ``cfg``'s result: its key's, or, without the data at hand, any
    data's (committed first); then those of the same run with other display settings
    (:func:`serves` decides which may serve it)."""
    own = (result_paths(cfg, fp) if fp is not None else
           [*sorted((COMMITTED_RESULTS / cfg.experiment).glob(f"{_stem(cfg, '*')}.json")),
            *sorted(_local().glob(f"{_stem(cfg, '*')}.json"))])
    data = _data_part(fp) if fp is not None else "*"
    prefix = f"{cfg.experiment}-{cfg.method}-seed{cfg.seed}-{cfg.preset}-*-{data}.json"
    others = [p for folder in (COMMITTED_RESULTS / cfg.experiment, _local())
              for p in sorted(folder.glob(prefix)) if p not in own]
    return own + [p for p in others if _may_serve(p, config_params(cfg))]


def _may_serve(path: Path, asked: dict[str, Any]) -> bool:
    """Whether the stored config in ``path`` serves ``asked`` (a quiet first look at a file
    of another key; the full checks, with their warnings, follow for those that may)."""
    try:
        stored = read_json(path)["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not isinstance(stored, dict):
        return False
    stored = {k: v for k, v in stored.items() if k not in ("device", "data_root")}
    return serves(_canonical(stored), asked)


_FIND = "find"


def lookup(cfg: RunConfig, fp: DataFingerprint | None | str = _FIND) -> dict[str, Any] | None:
    """The cached result of ``cfg`` if there is a sound one (see the module docstring).
    ``fp``: the data fingerprint of ``cfg`` if already known (None: the data is not at hand);
    by default it is computed."""
    found = find(cfg, fp)
    return found[1] if found is not None else None


def find(cfg: RunConfig, fp: DataFingerprint | None | str = _FIND
         ) -> tuple[Path, dict[str, Any]] | None:
    """Where :func:`lookup` finds ``cfg``'s result (committed or local file), and the result."""
    if isinstance(fp, str):
        fp = data_fingerprint(cfg)
    fingerprint = entry_fingerprint(LIFELONG_ENTRY)
    asked = config_params(cfg)
    data = fp.digest if fp is not None else None
    for path in _candidates(cfg, fp):
        if not path.exists():
            continue
        entry = _check_entry(path, RUN_KEYS, asked, "config", fingerprint, data,
                             cfg.experiment, serves)
        if entry is not None:
            if fp is None and path.name not in _unchecked_warned:
                _unchecked_warned.add(path.name)
                warnings.warn(f"the data of {cfg.experiment} is not at hand: serving {path} "
                              "without checking the data it was computed from", stacklevel=4)
            return path, entry
    return None


@contextmanager
def key_locks(stems: Sequence[str]) -> Iterator[None]:
    """Hold one lock per key (in sorted order, so that overlapping groups cannot deadlock);
    says so on stderr when another process holds one."""
    folder = ensure_folder(cache_root() / "locks", "cache locks")
    with ExitStack() as stack:
        for stem in sorted(set(stems)):
            lock = filelock.FileLock(str(folder / f"{stem}.lock"))
            try:
                try:
                    lock.acquire(timeout=0)
                except filelock.Timeout:
                    print(f"lgm: waiting for another process computing {stem}", file=sys.stderr)
                    lock.acquire()
            except OSError as err:
                raise store_error(err, folder / f"{stem}.lock", "cache lock") from err
            stack.callback(lock.release)
        yield


_FRESH: contextvars.ContextVar[bool] = contextvars.ContextVar("lgm_fresh", default=False)


@contextmanager
def fresh_checkpoints(fresh: bool = True) -> Iterator[None]:
    """Inside the block (``--fresh``), runs computed through the cache discard their
    checkpoints and start afresh instead of resuming."""
    token = _FRESH.set(fresh)
    try:
        yield
    finally:
        _FRESH.reset(token)


def try_key_locks(stems: Sequence[str]) -> ExitStack | None:
    """The locks of every key in ``stems`` taken now (an ``ExitStack`` releasing them), or
    None, holding nothing, when another process holds one of them (no waiting: a driver that
    holds other keys meanwhile cannot deadlock)."""
    folder = ensure_folder(cache_root() / "locks", "cache locks")
    held = ExitStack()
    for stem in sorted(set(stems)):
        lock = filelock.FileLock(str(folder / f"{stem}.lock"))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            held.close()
            return None
        except OSError as err:
            held.close()
            raise store_error(err, folder / f"{stem}.lock", "cache lock") from err
        held.callback(lock.release)
    return held


def cached_run(cfg: RunConfig, *, compute: bool = True, resume: bool = True) -> dict[str, Any]:
    """The result of ``cfg``: from the cache, else computed by ``run_experiments``.

    ``compute=False`` raises ``LookupError`` instead of training (for a book build that must
    only show stored results). A computation resumes from its last checkpoint (``resume``).
    """
    return cached_runs([cfg], compute=compute, resume=resume)[0]


def cached_runs(cfgs: list[RunConfig], *, compute: bool = True, resume: bool = True
                ) -> list[dict[str, Any]]:
    """Results of ``cfgs`` (in order). Those not in the cache are computed, configs that differ
    only in their seed together, as one stacked model (``run_experiments``), under the locks
    of their keys; each seed's result is stored under its own config, exactly as a lone run
    would store it."""
    fps = [data_fingerprint(c) for c in cfgs]
    found: list[dict[str, Any] | None] = [lookup(c, f) for c, f in zip(cfgs, fps, strict=True)]
    for r in found:
        if r is not None:
            r["cache"] = "hit"
    missing = [c for c, r in zip(cfgs, found, strict=True) if r is None]
    if missing and not compute:
        raise LookupError(f"no cached result for {result_key(missing[0])}; run it with "
                          "compute=True")
    from lgm.experiments.lifelong import run_experiments  # late: lifelong uses this cache

    fp_of = {id(c): f for c, f in zip(cfgs, fps, strict=True)}
    for group in seed_groups(missing):
        with key_locks([result_key(c, fp_of[id(c)]) for c in group]):
            done = {id(c): lookup(c, fp_of[id(c)]) for c in group}  # computed meanwhile?
            todo = [c for c in group if done[id(c)] is None]
            with checkpoint_code(params_hash(entry_fingerprint(LIFELONG_ENTRY), 12)):
                results = (run_experiments(todo, resume=resume and not _FRESH.get(),
                                           checkpoint_dir=checkpoint_dir(todo,
                                                                         fp_of[id(todo[0])]))
                           if todo else [])
            bad: list[DivergedError] = []
            for c, result in zip(todo, results, strict=True):
                try:  # a diverged seed is never stored; the sound seeds of its stack are
                    check_result(result, c.experiment,
                                 f"{c.experiment} {c.method} seed {c.seed} (preset {c.preset})")
                except DivergedError as err:
                    bad.append(err)
                    continue
                result["fingerprint"] = entry_fingerprint(LIFELONG_ENTRY)
                result["fingerprint_entry"] = LIFELONG_ENTRY
                fp = fp_of[id(c)]
                if fp is not None:
                    result["data_fingerprint"] = fp.to_dict()
                save_result(result_paths(c, fp)[1], result)
                result["cache"] = "computed"
                done[id(c)] = result
            if bad:
                raise bad[0]
        for c in group:
            if done[id(c)].get("cache") != "computed":
                done[id(c)]["cache"] = "hit"
            for i, other in enumerate(cfgs):
                if found[i] is None and other == c:  # a config asked for twice: one result
                    found[i] = done[id(c)]
    return found  # type: ignore[return-value]


def checkpoint_dir(stack: Sequence[RunConfig], fp: DataFingerprint | None) -> Path:
    """The checkpoint folder of a stack of seeds: its first key, the stack's seeds and the
    numerics fingerprint (a checkpoint of code with other numbers is never resumed)."""
    name = result_key(stack[0], fp)
    if len(stack) > 1:
        name += f"-stack{len(stack)}-{params_hash([config_params(c) for c in stack])}"
    return cache_root() / "ckpt" / f"{name}-{params_hash(entry_fingerprint(LIFELONG_ENTRY), 8)}"


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


# ------------------------------------------------------------------ any experiment


def call_paths(group: str, name: str, params: dict[str, Any]) -> list[Path]:
    """Committed then local paths of the result of experiment ``name`` with ``params``."""
    stem = f"{name}-{params_hash(params)}.json"
    return [COMMITTED_RESULTS / group / stem, _local() / group / stem]


def _data_unchanged(entry: dict[str, Any], roots: Sequence[Path]) -> bool:
    """Whether the data files an entry records still have their recorded contents (files not
    at hand cannot be checked and count as unchanged)."""
    for f in (entry.get("data_fingerprint") or {}).get("files", []):
        path = Path(f["path"])
        here = [path] if path.is_absolute() else [r / path for r in roots]
        existing = [p for p in here if p.is_file()]
        # a copy with the recorded contents under any of the roots is the file it read
        if existing and not any(p.stat().st_size == f["size"] and file_sha256(p) == f["sha256"]
                                for p in existing):
            return False
    return True


def cached_call(group: str, name: str, params: dict[str, Any],
                compute: Callable[[dict[str, Any]], dict[str, Any]], *,
                recompute: bool = True, entry: str | None = None,
                guard: bool = True, data_root: str | None = None) -> dict[str, Any]:
    """``compute(params)`` through the result cache (same rules as :func:`cached_run`).

    For experiments that are not a lifelong :class:`RunConfig` (the KD paper's). The numerics
    fingerprint is that of the entry module, ``entry`` or else ``compute``'s module (its
    ``fingerprint()``, else its code version). ``compute`` must return a dict with
    ``provenance`` (see :func:`lgm.provenance.provenance`); numpy arrays go under ``arrays``.
    The data files it reads through :mod:`lgm.data` are recorded (``data_fingerprint``: paths
    relative to the data root, sizes, sha256; or what ``compute`` returns there) and checked
    on every lookup: an entry whose files changed since is recomputed. The stored result also
    records ``params`` and the fingerprint. ``recompute=False`` raises ``LookupError`` when
    nothing is cached.
    """
    entry_module = entry or compute.__module__
    fingerprint = entry_fingerprint(entry_module)
    paths = call_paths(group, name, params)
    asked = _canonical(params)
    # where the recorded data files are checked: the root the computation reads from (given
    # apart when it is left out of the key), else the params' own
    roots = [*search_roots(data_root or params.get("data_root")), PACKAGE_ROOT, Path.cwd()]

    def sound() -> dict[str, Any] | None:
        for path in paths:
            if path.exists():
                found = _check_entry(path, CALL_KEYS, asked, "params", fingerprint, None,
                                     group)
                if found is not None and not _data_unchanged(found, roots):
                    warnings.warn(f"cache entry {path} is not used: its data files changed; "
                                  "recomputing it", stacklevel=3)
                    found = None
                if found is not None:
                    found["cache"] = "hit"
                    return found
        return None

    hit = sound()
    if hit is not None:
        return hit
    if not recompute:
        raise LookupError(f"no cached result for {paths[1].name}; run it with recompute=True")
    with key_locks([f"{group}-{paths[1].stem}"]):
        hit = sound()  # computed by another process while we waited?
        if hit is not None:
            return hit
        with recording_reads() as reads:
            if guard:  # a record of parts that are guarded themselves needs none
                check_may_train(f"{group}/{name}")
            result = compute(params)
        if "provenance" not in result:
            raise ValueError(f"{name}: compute() must return a 'provenance' entry")
        read = fingerprint_reads(reads)
        if read is not None and "data_fingerprint" not in result:
            result = {**result, "data_fingerprint": read.to_dict()}
        result = {**result, "params": params, "fingerprint": fingerprint,
                  "fingerprint_entry": entry_module}
        check_result(result, group, f"{group}/{name}")
        save_result(paths[1], result)
    result["cache"] = "computed"
    return result


def seed_params(cfg: Any, seed: int, skip: Sequence[str] = ("device", "seeds")
                ) -> dict[str, Any]:
    """What determines one seed's result of an experiment config (its cache key): the config
    without the fields in ``skip`` (the device, the seed list, ...), with ``seed``."""
    return {"seed": seed, **{k: v for k, v in cfg.to_dict().items() if k not in skip}}


def cached_seed(group: str, name: str, cfg: Any, seed: int | None,
                compute: Callable[[Any, int], dict[str, Any]],
                skip: Sequence[str] = ("device", "seeds")) -> dict[str, Any]:
    """One seed of an experiment through the cache, under ``<name>-seed<s>-<preset>``:
    computed by ``compute(cfg, seed)`` only if not stored. ``seed`` defaults to the config's
    only seed."""
    if seed is None:
        if len(cfg.seeds) != 1:
            raise ValueError(f"seeds: {name} runs one seed at a time, got {list(cfg.seeds)}; "
                             "use run()")
        seed = cfg.seeds[0]
    return cached_call(group, f"{name}-seed{seed}-{cfg.preset}", seed_params(cfg, seed, skip),
                       lambda _: compute(cfg, seed), entry=compute.__module__)


__all__ = ["CacheError", "cached_call", "cached_run", "cached_runs", "cached_seed",
           "code_version", "entry_fingerprint", "lookup", "result_key", "result_paths"]


# ------------------------------------------------------------------ checking a stored file


def stored_problem(path: Path, group: str | None = None) -> str | None:
    """Why the stored result at ``path`` would not be served (None: it would be), by the
    rules serving applies: strict JSON with finite numbers, within its divergence bound,
    filed under its own key, computed by code with the current numerics fingerprint and from
    the data at hand. ``group``: the cache sub-folder of a non-lifelong result (None: a
    lifelong run). For ``scripts/commit_results.py``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if group is None:
            entry = load_result(path, RUN_KEYS)
            problem = None if entry is None else _run_problem(path, entry)
        else:
            entry = load_result(path, CALL_KEYS)
            problem = None if entry is None else _call_problem(path, entry, group)
    if entry is None:
        return str(caught[-1].message) if caught else f"{path} cannot be read"
    return problem


def _run_problem(path: Path, entry: dict[str, Any]) -> str | None:
    try:
        cfg = RunConfig(**{k: tuple(v) if isinstance(v, list) else v
                           for k, v in entry["config"].items()})
    except (TypeError, ValueError) as err:
        return f"its config is not a valid run config ({str(err).splitlines()[0]})"
    fp = data_fingerprint(cfg)
    if path.stem != result_key(cfg, fp) and not path.match(f"{_stem(cfg, '*')}.json"):
        return f"it is filed under another key than its config's ({result_key(cfg, fp)})"
    if fp is not None and path.stem != result_key(cfg, fp):
        return "it was computed from other data files (data fingerprint differs)"
    beyond = diverged(entry, cfg.experiment)
    if beyond is not None:
        return f"it holds a diverged result ({beyond[0]} = {beyond[1]:.4g})"
    return _stale_reason(entry, config_params(cfg), config_params(cfg),
                         entry_fingerprint(LIFELONG_ENTRY), fp.digest if fp else None)


def _call_problem(path: Path, entry: dict[str, Any], group: str) -> str | None:
    params = entry["params"]
    if path.stem.rsplit("-", 1)[-1] != params_hash(params):
        return f"it is filed under another key than its params' ({params_hash(params)})"
    module = entry.get("fingerprint_entry")
    if not isinstance(module, str) or not module.startswith("lgm."):
        return "it does not name the module whose numerics fingerprint it holds"
    try:
        current = entry_fingerprint(module)
    except ImportError:
        return f"its fingerprint module {module} does not exist"
    if not same_fingerprint(entry.get("fingerprint"), current):
        return ("it was computed by code whose numbers differ from the current code's "
                "(numerics fingerprint changed)")
    roots = [*search_roots(params.get("data_root")), PACKAGE_ROOT, Path.cwd()]
    if not _data_unchanged(entry, roots):
        return "its data files changed since (data fingerprint differs)"
    beyond = diverged(entry, group)
    if beyond is not None:
        return f"it holds a diverged result ({beyond[0]} = {beyond[1]:.4g})"
    return None
