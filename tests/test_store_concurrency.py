"""Concurrent writers on one cache. Three identical runs and three
different ones start at once (separate processes): all succeed, each key is computed once (the
identical ones wait for the first and read its result), every entry is valid, and no temporary
file is left."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from pathlib import Path

LOG = "computations.log"


def fingerprint() -> list[float]:
    """This module is the entry of its cached_call computations: a constant fingerprint."""
    return [1.0, 2.0]


def slow_square(params: dict) -> dict:
    """A cheap computation that takes long enough for the six processes to overlap."""
    with open(Path(os.environ["LGM_CACHE"]) / LOG, "a") as f:
        f.write(f"call {params['x']}\n")
    time.sleep(0.5)
    return {"value": params["x"] ** 2, "provenance": {"pid": os.getpid()}}


def _environment(cache_dir: str) -> None:
    os.environ.update(LGM_CACHE=cache_dir, LGM_DATA=str(Path(cache_dir) / "no-data"),
                      LGM_PROGRESS="0", OMP_NUM_THREADS="1")


def call_worker(cache_dir: str, x: int, start: float, out: mp.Queue) -> None:
    _environment(cache_dir)
    from lgm.experiments import cache

    time.sleep(max(0.0, start - time.time()))
    result = cache.cached_call("concurrency", "square", {"x": x}, slow_square)
    out.put((x, result["value"], result["cache"]))


def run_worker(cache_dir: str, seed: int, lr: float, start: float, out: mp.Queue) -> None:
    _environment(cache_dir)
    import torch

    torch.set_num_threads(1)
    import lgm.experiments.lifelong as lifelong
    from lgm.experiments import cache, make_config
    from tests.conftest import tiny_sequence

    def in_memory(cfgs, *, resume=True, checkpoint_dir=None):
        with open(Path(cache_dir) / LOG, "a") as f:
            f.write(f"run {cfgs[0].seed} {cfgs[0].lr}\n")
        return lifelong.run_stack(cfgs, tasks=[tiny_sequence(2, n_train=32) for _ in cfgs],
                                  checkpoint_dir=checkpoint_dir, resume=resume)

    lifelong.run_experiments = in_memory
    cache.entry_fingerprint = lambda entry: [3.0]
    cfg = make_config("smoke", method="vanilla", batch_size=16, max_epochs=1, seed=seed, lr=lr)
    time.sleep(max(0.0, start - time.time()))
    result = cache.cached_run(cfg)
    out.put(((seed, lr), result["tasks"][-1]["neg_elbo"], result["cache"]))


def run_all(target, args_list: list[tuple], cache_dir: Path) -> list[tuple]:
    ctx = mp.get_context("forkserver")  # imports once in the server; children are forks of it
    ctx.set_forkserver_preload(["torch", "lgm.experiments.cache", "lgm.experiments.lifelong",
                                "tests.conftest", __name__])
    out = ctx.Queue()
    start = time.time() + 2.0  # all start together
    procs = [ctx.Process(target=target, args=(str(cache_dir), *a, start, out))
             for a in args_list]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def check_store(cache_dir: Path) -> list[dict]:
    from lgm.experiments.cache import read_json

    assert not [p for p in cache_dir.rglob("*.tmp")], "temporary files left behind"
    entries = [read_json(p) for p in (cache_dir / "results").rglob("*.json")]
    assert all("provenance" in e and "fingerprint" in e for e in entries)
    return entries


def test_three_identical_and_three_different_calls_at_once(tmp_path):
    results = run_all(call_worker, [(1,), (1,), (1,), (2,), (3,), (4,)], tmp_path)
    assert sorted((x, v) for x, v, _ in results) == [(1, 1), (1, 1), (1, 1), (2, 4), (3, 9),
                                                     (4, 16)]
    calls = (tmp_path / LOG).read_text().split("\n")[:-1]
    assert sorted(calls) == ["call 1", "call 2", "call 3", "call 4"]  # each key computed once
    assert sorted(c for x, _, c in results if x == 1) == ["computed", "hit", "hit"]
    entries = check_store(tmp_path)
    assert sorted(e["value"] for e in entries) == [1, 4, 9, 16]


def test_three_identical_and_three_different_runs_at_once(tmp_path):
    args = [(0, 1e-3), (0, 1e-3), (0, 1e-3), (1, 1e-3), (2, 1e-3), (0, 2e-3)]
    results = run_all(run_worker, args, tmp_path)
    runs = sorted((tmp_path / LOG).read_text().split("\n")[:-1])
    assert runs == ["run 0 0.001", "run 0 0.002", "run 1 0.001", "run 2 0.001"]
    same = [r for r in results if r[0] == (0, 1e-3)]
    assert sorted(c for *_, c in same) == ["computed", "hit", "hit"]
    assert len({v for _, v, _ in same}) == 1  # the waiting runs read the first one's result
    entries = check_store(tmp_path)
    assert len(entries) == 4
    assert all(json.dumps(e, allow_nan=False) for e in entries)
