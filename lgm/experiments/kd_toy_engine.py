"""All runs of one toy figure (KD paper, Fig. 2 / Fig. 5) as one tensor program.

Every depth L and every seed of one method are trained together by the project's one loop,
:func:`lgm.training.fit.fit`: the students of one method are one
:class:`~lgm.models.chains.StackedChainStudents` (one chain per (seed, L), deepest first), their
loss the sum of the chains' losses, so one Adam step updates all of them (Adam is elementwise:
this is Adam on each student alone). Per step and seed, one batch of fresh auxiliary noise drives
a 20-layer teacher path; the teacher of depth L is its first L conditionals (z_1 .. z_{L+1},
y = z_{L+1}), so the depths of one seed share their noise, and both methods see the same noise
(common random numbers: each method's fit draws it from generators seeded alike). With
``fixed_samples`` = N > 0, the noise (so the teacher's samples) is a pool of N per seed drawn
once, each step's batch drawn from it with replacement (a finite teacher sample set).
``lr_local`` (where given) is local's Adam learning rate, ``lr`` ours' (a learning rate tuned per
method).

Losses per student chain of depth L (section 3, ``lam`` = lambda), each the weighted sum of its
conditionals' KLs by :func:`lgm.losses.distillation.weighted_sum`:

- ``"ours"`` (eq. 7 = eq. 4 + lambda * eq. 6, the weights of
  :func:`~lgm.losses.distillation.eq7_weights`): teacher and student run ancestral sampling
  with the shared noise, each at its own path; lambda * KL(teacher's at its z_j || student's at
  its z_j) over the L - 1 latent conditionals, plus the same KL (weight 1) for the target y.
  Gaussian: gradients flow along the student's reparameterised path; binomial: the draws are
  integers (inverse CDF of the shared uniform), no gradient through them.
- ``"local"`` (fig. 3d): every conditional of the student at the teacher's samples, weight 1.

After training, per chain: the exact output KL and per-layer errors (:mod:`lgm.metrics.chain_kl`;
the Gaussian grid's error checked by repeating with twice its spacing) and the paper's
density-ratio estimate from ``kl_samples`` samples (:mod:`lgm.metrics.density_ratio`; on
log(1 + y) for counts). The result's arrays are indexed [method, seed, depth(, ...)].
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lgm.device import cpu_threads, resolve_device, thread_count
from lgm.errors import DivergedError
from lgm.losses.distillation import eq7_weights, weighted_sum
from lgm.metrics.chain_kl import (
    conditional_kl,
    law_kl,
    layer_errors,
    mass_outside,
    propagate,
    uniform_grid,
    uniform_root,
)
from lgm.metrics.density_ratio import density_ratio_kl
from lgm.models.chains import (
    BinomialChainTeacher,
    GaussianChainTeacher,
    StackedChainStudents,
    scalar_mlps,
    window_draws,
)
from lgm.provenance import provenance
from lgm.training.fit import Optimiser, fit

DATA = {"gaussian": "synthetic: samples of the Gaussian toy chain of section 3.2 (no data set)",
        "binomial": "synthetic: samples of the binomial toy chain of section 4.1 (no data set)"}
TOTAL_COUNT = 1000
SAMPLES_KEPT = 2000  # output samples stored per method (deepest chain, first seed)
MAX_GRID = 6001
RANGE_CHECK = 2  # the range check's grid is this many times as wide


COMPILE_FROM = 1000  # steps from which the students' networks are compiled (torch.compile)


@functools.lru_cache(maxsize=1)
def _compiled() -> tuple[Any, Any]:
    """:func:`~lgm.models.chains.scalar_mlps` and :func:`~lgm.models.chains.window_draws` fused
    by ``torch.compile`` (several times faster on a CPU; a minute to compile, so only for long
    runs; the same maths, float32 rounding aside)."""
    return (torch.compile(scalar_mlps, dynamic=True),
            torch.compile(window_draws, dynamic=True))


def teacher_for(params: dict[str, Any], layers: int) -> torch.nn.Module:
    """The exact teacher chain of ``layers`` conditionals with the run's noise level / root."""
    if params["chain"] == "gaussian":
        return GaussianChainTeacher(layers, std=params["noise_std"])
    return BinomialChainTeacher(layers, TOTAL_COUNT, root_high=params["root_high"])


class Layout:
    """Which stacked chain is which, for one method: chains ordered by depth (deepest first),
    then seed.

    ``"ours"`` trains one chain per (seed, L). ``"local"`` trains one chain per seed, of the
    largest depth: its loss is a sum of one independent term per conditional (each at the
    teacher's samples), so the local student of depth L is exactly the first L conditionals of
    the deepest one (same initial weights, same noise, same gradients); all depths are read off
    it. Conditional j of every chain of a seed starts from the same weights (drawn from the seed),
    so both methods start each (seed, L) alike.
    """

    def __init__(self, method: str, layers: list[int], seeds: list[int]) -> None:
        self.method, self.layers, self.seeds = method, list(layers), list(seeds)
        depths = [max(layers)] if method == "local" else layers
        self.chains = sorted(((n, s) for n in depths for s in range(len(seeds))),
                             key=lambda t: (-t[0], t[1]))
        self.depth = torch.tensor([n for n, _ in self.chains])
        self.seed_index = torch.tensor([s for _, s in self.chains])
        self.max_depth = max(layers)
        self.active = [int((self.depth > j).sum()) for j in range(self.max_depth)]

    def chain(self, depth: int, seed_index: int) -> int:
        """The stacked chain holding the student of (depth, seed)."""
        want = (self.max_depth if self.method == "local" else depth, seed_index)
        return self.chains.index(want)

    def weights(self, lam: float) -> Tensor:
        """[C, J]: each chain's loss weight per conditional (0 beyond its depth): eq. 7's for
        "ours" (y = conditional L - 1 the target), 1 for "local"."""
        j, depth = torch.arange(self.max_depth)[None, :], self.depth[:, None]
        if self.method == "local":
            return (j < depth).double()
        return eq7_weights(j == depth - 1, lam) * (j < depth)

    def grid(self, values: Tensor) -> np.ndarray:
        """[C, J] values at every conditional's output as the result's [seed, depth]: depth L
        reads conditional L - 1 of the chain holding (L, seed)."""
        out = np.zeros((len(self.seeds), len(self.layers)))
        for s in range(len(self.seeds)):
            for i, n in enumerate(self.layers):
                out[s, i] = float(values[self.chain(n, s), n - 1])
        return out

    def errors(self, values: Tensor) -> np.ndarray:
        """[C, J] per-conditional values as [seed, depth, J], NaN beyond each depth."""
        out = np.full((len(self.seeds), len(self.layers), self.max_depth), np.nan)
        for s in range(len(self.seeds)):
            for i, n in enumerate(self.layers):
                out[s, i, :n] = values[self.chain(n, s), :n].detach().cpu().double().numpy()
        return out

    def init(self, hidden: int) -> list[int]:
        """Seeds of each chain's initial weights: the run's seed (see the class docstring)."""
        return [self.seeds[s] for _, s in self.chains]


def _noise(chain: str, gens: list[torch.Generator], batch: int, depth: int
           ) -> tuple[Tensor, Tensor]:
    """Per seed: the root's uniform [S, B] and the conditionals' noise [S, J, B]."""
    roots = torch.stack([torch.rand(batch, generator=g) for g in gens])
    if chain == "gaussian":
        draws = torch.stack([torch.randn(depth, batch, generator=g) for g in gens])
    else:
        draws = torch.stack([torch.rand(depth, batch, generator=g) for g in gens])
    return roots, draws


def _pool_batch(pool: tuple[Tensor, Tensor], gens: list[torch.Generator], batch: int
                ) -> tuple[Tensor, Tensor]:
    """A batch drawn (with replacement, per seed) from a fixed pool of noise: the root's
    uniform [S, B] and the conditionals' noise [S, J, B] of the pool's chosen samples."""
    roots, draws = pool
    idx = torch.stack([torch.randint(roots.shape[1], (batch,), generator=g) for g in gens])
    picked = draws.gather(2, idx[:, None, :].expand(-1, draws.shape[1], -1))
    return roots.gather(1, idx), picked


def _teacher_path(teacher: torch.nn.Module, roots: Tensor, draws: Tensor
                  ) -> tuple[Tensor, list[dict[str, Tensor]]]:
    """The teacher's path [S, J + 1, B] and its conditionals' parameters per layer."""
    z = teacher.root(roots)  # type: ignore[operator]
    path, params = [z], []
    for j in range(draws.shape[1]):
        p = teacher.conditional(j, z)  # type: ignore[operator]
        z = teacher.draw(p, draws[:, j])  # type: ignore[operator]
        path.append(z)
        params.append(p)
    return torch.stack(path, 1), params


def _student_path(student: StackedChainStudents, root: Tensor, draws: Tensor,
                  active: list[int]) -> tuple[list[dict[str, Tensor]], list[Tensor]]:
    """Each student at its own path from the shared root [C, B] and noise [C, J, B]: the
    parameters of conditional j and its draw, [active[j], B] each."""
    z, params, drawn = root, [], []
    for j, n in enumerate(active):
        p = student.conditional(j, z[:n])
        params.append(p)
        z = student.draw(p, draws[:n, j])
        drawn.append(z)
    return params, drawn


def chain_losses(kind: str, student: StackedChainStudents, layout: Layout, path: Tensor,
                 t_params: list[dict[str, Tensor]], draws: Tensor, weights: Tensor) -> Tensor:
    """[C] each chain's loss: its conditionals' KLs (mean over the batch) summed with
    ``weights`` [C, J] (:meth:`Layout.weights`: eq. 7 for "ours", the local loss of fig. 3d for
    "local")."""
    idx = layout.seed_index.to(path.device)
    if layout.method == "ours":
        s_params, _ = _student_path(student, path[idx, 0], draws[idx], layout.active)
    kls = []
    for j, n in enumerate(layout.active):
        t = {k: v[idx[:n]] for k, v in t_params[j].items()}
        s = s_params[j] if layout.method == "ours" else student.conditional(j, path[idx[:n], j])
        kl = conditional_kl(kind, t, s, TOTAL_COUNT).mean(-1)
        kls.append(torch.nn.functional.pad(kl, (0, student.chains - n)))
    return weighted_sum(kls, weights.unbind(1))


def method_lr(params: dict[str, Any], method: str) -> float:
    """The learning rate of ``method``: ``lr``, or ``lr_local`` for local where it is given
    (a learning rate tuned per method)."""
    if method == "local" and params.get("lr_local"):
        return float(params["lr_local"])
    return float(params["lr"])


def train(params: dict[str, Any], dtype: torch.dtype = torch.float32
          ) -> tuple[dict[str, StackedChainStudents], dict[str, np.ndarray],
                     dict[str, Layout]]:
    """Distil every (method, seed, L) student, one method after the other; the students, the
    loss records (per method, [S, nL, T], every ``steps // 200``-th step) and the layouts."""
    layouts = {m: Layout(m, params["layers"], params["seeds"]) for m in params["methods"]}
    students, records = {}, {}
    for m, lay in layouts.items():
        students[m], records[m] = train_method(params, lay, dtype)
    return students, records, layouts


def train_method(params: dict[str, Any], layout: Layout, dtype: torch.dtype
                 ) -> tuple[StackedChainStudents, np.ndarray]:
    """The stacked students of one method trained by :func:`lgm.training.fit.fit` (a NaN/inf
    loss raises :class:`~lgm.errors.DivergedError`); their loss record [S, nL, T]."""
    kind, device, depth = params["chain"], resolve_device(params["device"]), layout.max_depth
    teacher = teacher_for(params, depth).to(device=device, dtype=dtype)
    zero_init = kind == "gaussian" and params["student"] == "residual"
    student = StackedChainStudents(kind, layout.init(params["hidden"]), depth, params["hidden"],
                                   params["student"], zero_init, total_count=TOTAL_COUNT,
                                   dtype=dtype).to(device)
    if dtype == torch.float32 and params["steps"] >= COMPILE_FROM:
        student.mlp, student.window = _compiled()
    weights = layout.weights(params["lam"]).to(device=device, dtype=dtype)
    gens = [torch.Generator().manual_seed(int(s)) for s in params["seeds"]]
    fixed = int(params.get("fixed_samples") or 0)
    pool = _noise(kind, gens, fixed, depth) if fixed else None
    every, kept = max(1, params["steps"] // 200), []

    def loss_at(step: int) -> Tensor:
        roots, draws = (_noise(kind, gens, params["batch"], depth) if pool is None
                        else _pool_batch(pool, gens, params["batch"]))
        roots, draws = roots.to(device, dtype), draws.to(device, dtype)
        with torch.no_grad():
            path, t_params = _teacher_path(teacher, roots, draws)
        per_chain = chain_losses(kind, student, layout, path, t_params, draws, weights)
        if step % every == every - 1 or step == params["steps"] - 1:
            kept.append(per_chain.detach())
        return per_chain.sum()

    fit(student, loss_at, steps=params["steps"], opt=Optimiser(method_lr(params, layout.method)),
        check_every=every, desc=f"kd_toy {kind} {layout.method}", loss_name="toy distillation loss")
    # a chain's loss, for local: the partial sum over its first L conditionals
    record = [layout.grid(v.cpu().double()[:, None].expand(-1, depth)) for v in kept]
    return student, np.stack(record, -1)


# ------------------------------------------------------------------------------ evaluation
def _sample_paths(params: dict[str, Any], students: dict[str, StackedChainStudents],
                  layouts: dict[str, Layout], n: int) -> tuple[Tensor, dict[str, Tensor]]:
    """Samples of every variable: the teacher's [S, J + 1, n] and each method's students'
    [C, J + 1, n] (NaN beyond a chain's depth; independent noise for teacher and students)."""
    kind, depth = params["chain"], max(params["layers"])
    teacher = teacher_for(params, depth).double()
    gens = [torch.Generator().manual_seed(10_000 + int(s)) for s in params["seeds"]]
    roots, draws = _noise(kind, gens, n, depth)
    with torch.no_grad():
        t_path, _ = _teacher_path(teacher, roots.double(), draws.double())
        out = {}
        for i, (m, student) in enumerate(students.items()):
            lay = layouts[m]
            g2 = [torch.Generator().manual_seed(20_000 + 100 * i + int(s))
                  for s in params["seeds"]]
            roots2, draws2 = _noise(kind, g2, n, depth)
            idx = lay.seed_index
            root = teacher.root(roots2.double())[idx]
            _, drawn = _student_path(student.double(), root, draws2.double()[idx], lay.active)
            full = torch.full((student.chains, depth + 1, n), math.nan, dtype=torch.float64)
            full[:, 0] = root
            for j, z in enumerate(drawn):
                full[: len(z), j + 1] = z
            out[m] = full
    return t_path, out
def _grid_for(params: dict[str, Any], students: dict[str, StackedChainStudents],
              samples: list[Tensor], coarse: bool = False, widen: int = 1
              ) -> tuple[Tensor, Tensor]:
    """A grid covering every sample with a margin of 12 widest stds; spacing the narrowest
    std / 8 (or / 4 for the check), at most MAX_GRID points. ``widen`` = k > 1: the range k
    times as wide about the same centre (the range check), at most k * MAX_GRID points."""
    with torch.no_grad():
        stds = [params["noise_std"]] + [float(s.log_std.exp().min()) for s in students.values()]
        widest = max([params["noise_std"]] + [float(s.log_std.exp().max())
                                              for s in students.values()])
    lo = min(float(x.min()) for x in samples) - 12 * widest
    hi = max(float(x.max()) for x in samples) + 12 * widest
    if widen > 1:
        centre, half = (lo + hi) / 2, widen * (hi - lo) / 2
        lo, hi = centre - half, centre + half
    step = max(min(stds) / (4 if coarse else 8), (hi - lo) / (widen * MAX_GRID - 1))
    return uniform_grid(lo, hi, step)


def _range_check(out: dict[str, np.ndarray], method: str, lay: Layout, exact: list[Tensor],
                 outside: list[Tensor]) -> None:
    """The grid's range check, in ``out``: ``kl_range_<m>`` = |KL on the coarse grid - KL on
    the coarse grid RANGE_CHECK times as wide| [S, nL], and the mass each law leaves outside
    the grid (1 - its integral on the grid): ``mass_out_<m>`` [S, nL] and ``mass_out_teacher``
    [nL] on the main grid, ``mass_out_wide_<m>`` / ``mass_out_wide_teacher`` on the wide one
    (binomial: the mass the pmfs' pruning lost; no range to widen, the check is 0)."""
    wide = outside[-1] if len(outside) > 2 else outside[0]
    out[f"mass_out_{method}"] = lay.grid(outside[0][:-1])
    out[f"mass_out_wide_{method}"] = lay.grid(wide[:-1])
    depths = [n - 1 for n in lay.layers]
    out["mass_out_teacher"] = outside[0][-1, depths].numpy()
    out["mass_out_wide_teacher"] = wide[-1, depths].numpy()
    diff = (exact[1] - exact[2]).abs() if len(exact) > 2 else torch.zeros_like(exact[0])
    out[f"kl_range_{method}"] = lay.grid(diff)


def evaluate(params: dict[str, Any], students: dict[str, StackedChainStudents],
             layouts: dict[str, Layout], density_ratio: bool = True) -> dict[str, np.ndarray]:
    """Per method, [S, nL] arrays: the exact output KL, its check (coarser grid / root
    quadrature), the density-ratio estimate and its standard error, the per-layer errors
    [S, nL, J] and their sum (the joint KL); the exact output laws of the deepest chains (first
    seed) and output samples."""
    kind, depth = params["chain"], max(params["layers"])
    teacher = teacher_for(params, depth).double()
    t_fn = teacher.conditional  # elementwise in parent values of any shape
    students = {m: s.double() for m, s in students.items()}
    root = (uniform_root(-1.0, 1.0) if kind == "gaussian"
            else uniform_root(0.0, params["root_high"], 256))
    t_path, s_paths = _sample_paths(params, students, layouts, params["kl_samples"])
    if kind == "gaussian":
        samples = [t_path.flatten()] + [p[p.isfinite()] for p in s_paths.values()]
        setups = [(root, _grid_for(params, students, samples)),
                  (root, _grid_for(params, students, samples, coarse=True)),
                  (root, _grid_for(params, students, samples, coarse=True, widen=RANGE_CHECK))]
    else:
        setups = [(root, None), (uniform_root(0.0, params["root_high"], 128), None)]
    out: dict[str, np.ndarray] = {}
    for m, student in students.items():
        lay = layouts[m]
        exact, outside = [], []
        for i, (rt, grid) in enumerate(setups):
            t_laws = propagate(kind, t_fn, [1] * depth, rt, grid, TOTAL_COUNT)
            s_laws = propagate(kind, student.conditional, lay.active, rt, grid, TOTAL_COUNT)
            w = grid[1] if grid is not None else None
            kl = torch.full((student.chains, depth), math.nan, dtype=torch.float64)
            lost = torch.full((student.chains + 1, depth), math.nan, dtype=torch.float64)
            for j, law in enumerate(s_laws):
                kl[: len(law), j] = law_kl(t_laws[j][0].expand_as(law), law, w)
                lost[: len(law), j] = mass_outside(law, w)
                lost[-1, j] = mass_outside(t_laws[j][0], w)
            exact.append(kl)
            outside.append(lost)
            if i == 0:
                errors = layer_errors(kind, t_fn, student.conditional, lay.active, rt, t_laws,
                                      grid, TOTAL_COUNT)
                c0 = lay.chain(depth, 0)
                out["law_teacher"] = t_laws[depth - 1][0].numpy()
                out[f"law_{m}"] = s_laws[depth - 1][c0].numpy()
                out["law_states"] = (grid[0] if grid is not None
                                     else torch.arange(TOTAL_COUNT + 1.0)).numpy()
        out[f"kl_exact_{m}"] = lay.grid(exact[0])
        out[f"kl_check_{m}"] = lay.grid((exact[0] - exact[1]).abs())
        _range_check(out, m, lay, exact, outside)
        out[f"layer_error_{m}"] = lay.errors(errors)
        out[f"kl_joint_{m}"] = np.nansum(out[f"layer_error_{m}"], -1)
        est = np.zeros((len(lay.seeds), len(lay.layers)))
        se = np.zeros_like(est)
        if density_ratio:
            for s in range(len(lay.seeds)):
                for i, n in enumerate(lay.layers):
                    y_t, y_s = t_path[s, n], s_paths[m][lay.chain(n, s), n]
                    if kind == "binomial":
                        y_t, y_s = torch.log1p(y_t), torch.log1p(y_s)
                    r = density_ratio_kl(y_t, y_s, degree=params["kl_degree"],
                                         folds=params["kl_folds"],
                                         generator=torch.Generator().manual_seed(
                                             30_000 + 100 * s + n))
                    est[s, i], se[s, i] = r.value, r.stderr
        out[f"kl_est_{m}"], out[f"kl_se_{m}"] = est, se
        out[f"y_{m}"] = s_paths[m][lay.chain(depth, 0), depth, :SAMPLES_KEPT].numpy()
    out["y_teacher"] = t_path[0, depth, :SAMPLES_KEPT].numpy()
    return out


def run_figure(params: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate every run of one toy figure (the cache's ``compute``)."""
    started = time.time()
    device = resolve_device(params["device"])
    with cpu_threads(thread_count(), device):  # the thread rule (lgm/device.py)
        students, losses, layouts = train(params)
        trained = time.time()
        arrays = evaluate(params, {m: s.cpu() for m, s in students.items()}, layouts)
    arrays.update({f"loss_{m}": v for m, v in losses.items()})
    summary = {k: v.tolist() for k, v in arrays.items()
               if k.startswith(("kl_exact_", "kl_est_", "kl_se_", "kl_joint_", "kl_check_",
                                "kl_range_", "mass_out_"))}
    return {"provenance": provenance(device, started), "data": DATA[params["chain"]],
            "wall_train_s": round(trained - started, 1),
            "wall_eval_s": round(time.time() - trained, 1), **summary, "arrays": arrays}


def run_figure_or_diverged(params: dict[str, Any]) -> dict[str, Any]:
    """:func:`run_figure`, or, where training diverges, a result saying so (``diverged``: the
    error; no numbers), so that a learning-rate grid remembers its diverged points."""
    started = time.time()
    try:
        return run_figure(params)
    except DivergedError as err:
        return {"provenance": provenance(resolve_device(params["device"]), started),
                "data": DATA[params["chain"]], "diverged": str(err)}


def fingerprint() -> list[float]:
    """A tiny float64 CPU run of both chains through the real code path: the numerics
    fingerprint the result cache stores with every result of this module."""
    numbers: list[float] = []
    for chain in ("gaussian", "binomial"):
        params = {"chain": chain, "layers": [1, 2], "methods": ["ours", "local"], "seeds": [0],
                  "steps": 2, "batch": 16, "lr": 1e-2, "lam": 0.1, "hidden": 4,
                  "student": "residual", "noise_std": 0.1, "root_high": 1.0,
                  "kl_samples": 50, "kl_degree": 2, "kl_folds": 2, "device": "cpu"}
        with cpu_threads(1):
            students, losses, layouts = train(params, torch.float64)
            ev = evaluate(params, students, layouts, density_ratio=False)
        for m in ("ours", "local"):
            numbers += [float(x) for x in losses[m][..., -1].ravel()]
            numbers += [float(x) for x in ev[f"kl_exact_{m}"].ravel()]
            numbers += [float(x) for x in np.nan_to_num(ev[f"layer_error_{m}"]).ravel()]
    return [x if math.isfinite(x) else 0.0 for x in numbers]
