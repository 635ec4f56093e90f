"""Numerics fingerprints: what a result's validity depends on is the numbers, not the source.

A fingerprint is a short (well under 2 s), deterministic float64 CPU computation through an
experiment's real code path, returned as a list of floats. The result cache
(:mod:`lgm.experiments.cache`) stores it with every result of the experiment and serves a
stored result only while the current code reproduces it (relative tolerance 1e-9): a refactor
that keeps the numbers keeps the committed results valid, one that changes them invalidates
them. This replaces the hash of the source of the import closure.

:func:`lifelong_fingerprint` covers the lifelong paper's runs (section 5, eq. 6): a tiny
:class:`~lgm.models.vae.DiscreteContinuousVAE` (dense and conv) trained for two tasks of two
steps each by the student objective of each method (lifelong: eq. 6 with the consistency and
information-gain terms and replay from the teacher; EWC: the penalty of section 5 with the
diagonal Fisher; vanilla), then evaluated (negative test ELBO, eq. 5; teacher-student
agreement). Changing anything it runs changes its numbers; keep it equal through a refactor.
Its values were computed with the code of commit 25231c6 (which produced the committed
``results/fashion``) and with the code after the lifelong refactor: they are equal float for
float, and ``tests/test_store_fingerprint.py`` checks that the current code still gives them.

Adding a fingerprint for an experiment module (the cache's "entry" module: the module of the
``compute`` handed to ``cached_call``, or ``entry=``): define ``fingerprint() -> list[float]``
in it, a deterministic computation that

- runs on the CPU in float64 (``torch.set_default_dtype`` inside ``try``/``finally``; it is
  process-wide, so compute fingerprints before starting threads), on one thread;
- builds a tiny model from fixed seeds and fixed synthetic data (never files), and takes a few
  optimiser steps through the experiment's real training and evaluation functions;
- returns the numbers that the results depend on (losses, metrics), finite, in under 2 s.

The cache computes it once per process, silently (:func:`silent`: no progress lines, nothing
on stdout or stderr), so a student's snippet prints only what it asked for. Stored results of
the module stay valid while the fingerprint stays equal; when a change of the numbers is
intended, the results computed before are stale and are recomputed (committed ones must be
recomputed and committed again).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from lgm.data.tasks import TaskSequence


def _synthetic_tasks(seed: int, n_train: int, num_tasks: int) -> TaskSequence:
    """``num_tasks`` tasks of ``n_train`` train, ``n_train / 4`` val and ``n_train / 2`` test
    binary 28x28 band images, fixed by ``seed``."""
    from lgm.data.tasks import Task, TaskSequence

    g = torch.Generator().manual_seed(seed)
    tasks = []
    for t in range(num_tasks):
        parts = []
        for n in (n_train, n_train // 4, n_train // 2):
            x = (torch.rand(n, 1, 28, 28, generator=g, dtype=torch.float64) < 0.1).double()
            x[:, :, 4 + 8 * t: 10 + 8 * t, 4:24] = 1.0
            parts.append(x)
        tasks.append(Task(t, f"band{t}", *parts))
    return TaskSequence("fashion", "fingerprint bands", (1, 28, 28), tasks, "in-memory")


@contextlib.contextmanager
def silent() -> Iterator[None]:
    """A block that prints nothing: progress off (``LGM_PROGRESS=0``) and Python's stdout and
    stderr captured (then dropped); both restored after. Numbers are unaffected."""
    before = os.environ.get("LGM_PROGRESS")
    os.environ["LGM_PROGRESS"] = "0"
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        if before is None:
            os.environ.pop("LGM_PROGRESS", None)
        else:
            os.environ["LGM_PROGRESS"] = before


def _run_floats(result: dict[str, Any]) -> list[float]:
    """The numbers of one run: per task the training summary and the evaluation metrics."""
    out: list[float] = []
    for record in result["tasks"]:
        training = record["training"]
        out += [float(training["best_val"]), *map(float, training["terms"].values())]
        out += [float(record["neg_elbo"]), float(record.get("consistency", 0.0))]
    return out


def lifelong_fingerprint() -> list[float]:
    """Numbers of the lifelong runs' code path, float64 on one CPU thread: lifelong, EWC and
    vanilla with the dense networks, two tasks of two steps each (batch 8 of 16 images; the
    second task has a teacher, replay and EWC's Fisher), and lifelong with the conv networks,
    one task of two steps (batch 2 of 4 images: conv layers are slow in float64); after every
    task the evaluation of section 5."""
    from lgm.experiments.config import RunConfig
    from lgm.experiments.lifelong import run_stack

    runs = [("lifelong", "dense", 8, 2), ("ewc", "dense", 8, 2), ("vanilla", "dense", 8, 2),
            ("lifelong", "conv", 2, 1)]
    previous_dtype, previous_threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    values: list[float] = []
    try:
        with silent():
            for i, (method, arch, batch, num_tasks) in enumerate(runs):
                cfg = RunConfig(experiment="fashion", method=method, seed=i, preset="custom",
                                arch=arch, num_tasks=num_tasks, continuous=2,
                                batch_size=batch, max_epochs=1, min_epochs=1, patience=1,
                                fisher_samples=batch, frechet_samples=2, classifier_epochs=0,
                                tau_rate=0.1, ewc_gamma=10.0, info_gain_weight=0.5)
                result = run_stack([cfg], tasks=[_synthetic_tasks(i, 2 * batch, num_tasks)])[0]
                values += _run_floats(result)
        return values
    finally:
        torch.set_default_dtype(previous_dtype)
        torch.set_num_threads(previous_threads)
