"""Training one (stacked) student on one task, with early stopping per seed.

An *epoch* is ``ceil(N_train / B)`` optimiser steps of B rows each, as in the reference code:
``B - r`` real rows drawn without replacement from a fresh permutation of the task's data and
``r = replay_count(B, k)`` rows replayed by the teacher. Data stay on the training device and
are indexed in whole minibatches; nothing runs per sample in Python.

Seeds. The student holds S seeds (:mod:`lgm.models.stacked`). Each seed draws its data order
and noise from its own generator, seeded by (seed, task), an epoch's worth at a time, so a
stack of S seeds trains seed for seed the models that S one-seed runs train (up to float
rounding; ``tests/test_stacked.py``).

Early stopping per seed: after every epoch the negative ELBO is measured on each seed's fixed
validation set (the task's held-out split, plus, for methods with replay, fixed teacher samples
in the replay proportion). A seed without improvement for ``patience`` epochs (once
``min_epochs`` have passed) gets its best weights back and is frozen: after every later step
its parameters and BatchNorm statistics are reset to those weights, while the other seeds go
on. Training ends when every seed has stopped or at ``max_epochs``.

The step on a GPU is captured once per task in a CUDA graph (:class:`GraphedStep`): it reads
its minibatch, noise and temperature from static buffers through a device-side step counter,
so an epoch is ``steps`` graph replays and one host sync (reading the validation losses).
Non-finite losses are caught without a host sync per step: a device-side flag per seed records
the first bad step and is read once per epoch, when the error names task, epoch and step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from lgm.errors import DivergedError
from lgm.losses.elbo import stacked_negative_elbo
from lgm.models.vae import DiscreteContinuousVAE
from lgm.progress import progress
from lgm.training.objective import TERMS, StepNoise, StudentObjective
from lgm.training.schedule import gumbel_temperature
from lgm.training.settings import Schedule


def task_diverged(task: int, epoch: int, step: int, seed: int, what: str = "non-finite loss",
                  stage: str = "training step") -> DivergedError:
    """The error of a lifelong run that diverged in ``task`` (a NaN/inf loss, a validation
    -ELBO never finite, a non-finite metric): the checkpoint of the last finished task is kept,
    nothing is cached."""
    at = f", step {step}" if step >= 0 else ""
    kept = f"the checkpoint after task {task - 1}" if task > 0 else "nothing (no task finished)"
    return DivergedError(f"{what} in task {task}, epoch {epoch}{at} (seed {seed}): training "
                         "stopped; try a smaller learning rate", stage, kept)


@dataclass
class TaskTraining:
    """What training on one task did, for one seed."""

    epochs: int              # epochs run until early stopping (or max_epochs)
    best_epoch: int
    best_val: float          # validation negative ELBO at the restored weights
    steps: int
    terms: dict[str, float]  # mean loss terms of the last epoch the seed trained
    val_curve: list[float] = field(default_factory=list)  # validation -ELBO after each epoch


def minibatch_order(n: int, steps: int, rows: int, generator: torch.Generator,
                    device: torch.device) -> Tensor:
    """[steps, rows] indices into a dataset of ``n``, each pass a fresh permutation."""
    passes = math.ceil(steps * rows / n)
    perms = [torch.randperm(n, generator=generator, device=device) for _ in range(passes)]
    return torch.cat(perms)[: steps * rows].view(steps, rows)


def task_generators(seeds: Sequence[int], task: int, device: torch.device
                    ) -> list[torch.Generator]:
    """One generator per seed for task ``task``: its own stream, whatever the stack holds."""
    return [torch.Generator(device=device).manual_seed(10_007 * int(s) + task) for s in seeds]


def make_optimiser(model: torch.nn.Module, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel (one kernel for all parameters, CPU and CUDA); on CUDA its
    state lives on the device so that the step can be captured in a graph."""
    cuda = next(model.parameters()).is_cuda
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True, capturable=cuda)


class EpochBuffers:
    """One epoch's data order and noise for every seed, [steps, S, ...], refilled in place."""

    def __init__(self, student: DiscreteContinuousVAE, teacher_codes: int, steps: int,
                 batch: int, n_rep: int, device: torch.device) -> None:
        s, zc, j = student.num_seeds, student.continuous, student.discrete
        self.steps, self.batch, self.n_rep, self.teacher_codes = steps, batch, n_rep, teacher_codes
        self.eps = torch.empty(steps, s, batch, zc, device=device)
        self.u = torch.empty(steps, s, batch, j, device=device)
        self.z_rep = torch.empty(steps, s, n_rep, zc, device=device)
        self.codes = torch.zeros(steps, s, n_rep, dtype=torch.long, device=device)
        self.order = torch.empty(steps, s, batch - n_rep, dtype=torch.long, device=device)

    def refill(self, generators: Sequence[torch.Generator], n_train: int) -> None:
        """Draw the next epoch: per seed, order, then Gaussian, uniform and replay noise."""
        dev = self.eps.device
        for i, g in enumerate(generators):
            self.order[:, i] = minibatch_order(n_train, self.steps, self.order.shape[-1], g, dev)
            self.eps[:, i] = torch.randn(self.eps[:, i].shape, generator=g, device=dev)
            self.u[:, i] = torch.rand(self.u[:, i].shape, generator=g, device=dev)
            if self.n_rep:
                self.z_rep[:, i] = torch.randn(self.z_rep[:, i].shape, generator=g, device=dev)
                self.codes[:, i] = torch.randint(self.teacher_codes, self.codes[:, i].shape,
                                                 generator=g, device=dev)

    def at(self, k: Tensor) -> StepNoise:
        """The noise of step ``k`` (a 0-d device tensor, so the read can be graph-captured)."""
        def pick(t: Tensor) -> Tensor:
            return t.index_select(0, k.view(1)).squeeze(0)
        return StepNoise(pick(self.eps), pick(self.u), pick(self.z_rep), pick(self.codes),
                         pick(self.order))


class TrainStep:
    """One optimiser step of the stacked student, reading everything from device state.

    State: the step counter within the epoch ``k``, the student's step count ``global_step``
    (for the temperature), per-seed ``active`` flags, the per-seed sums of the loss terms and
    the first bad step per seed. Frozen seeds are reset to ``frozen`` after every step.
    """

    def __init__(self, student: DiscreteContinuousVAE, objective: StudentObjective,
                 optimiser: torch.optim.Optimizer, schedule: Schedule, train_x: Tensor,
                 buffers: EpochBuffers) -> None:
        dev, s = train_x.device, student.num_seeds
        self.student, self.objective, self.optimiser = student, objective, optimiser
        self.schedule = schedule
        self.train_x, self.buffers = train_x, buffers
        self.seed_index = torch.arange(s, device=dev)[:, None]
        self.k = torch.zeros((), dtype=torch.long, device=dev)
        self.global_step = torch.zeros((), dtype=torch.long, device=dev)
        self.active = torch.ones(s, dtype=torch.bool, device=dev)
        self.sums = torch.zeros(len(TERMS), s, device=dev)
        self.bad_step = torch.full((s,), -1, dtype=torch.long, device=dev)
        self.state = [*student.parameters(), *student.buffers()]
        self.frozen = [t.detach().clone() for t in self.state]
        self.reset_frozen = False  # eager: skip the reset while no seed is frozen

    def __call__(self) -> None:
        noise = self.buffers.at(self.k)
        x_real = self.train_x[self.seed_index, noise.order]
        tau = gumbel_temperature(self.global_step, self.schedule.tau0,
                                 self.schedule.tau_rate, self.schedule.tau_min)
        loss, terms = self.objective(self.student, x_real, tau, noise)
        bad = (self.bad_step < 0) & ~torch.isfinite(terms[0])
        self.bad_step.copy_(torch.where(bad, self.global_step, self.bad_step))
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        with torch.no_grad():
            if self.reset_frozen:
                for t, f in zip(self.state, self.frozen, strict=True):
                    mask = self.active.view(-1, *([1] * (t.dim() - 1)))
                    t.copy_(torch.where(mask, t, f))
            self.sums += terms
            self.k += 1
            self.global_step += 1

    def start_epoch(self) -> None:
        self.k.zero_()
        self.sums.zero_()

    def freeze(self, index: int, best: list[Tensor]) -> None:
        """Seed ``index`` gets its best weights back and stops training."""
        with torch.no_grad():
            for t, f, b in zip(self.state, self.frozen, best, strict=True):
                t[index].copy_(b[index])
                f[index].copy_(b[index])
        self.active[index] = False
        self.reset_frozen = True


class GraphedStep:
    """A :class:`TrainStep` captured in a CUDA graph (static shapes; one capture per task).

    Capturing needs a few warm-up steps; the weights, BatchNorm statistics, Adam state and
    counters are put back afterwards, so the captured run trains exactly the steps it counts.
    """

    def __init__(self, step: TrainStep, warmup: int = 3) -> None:
        self.step = step
        step.reset_frozen = True  # the graph must contain the reset for later epochs
        saved = [t.detach().clone() for t in step.state]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                step.k.zero_()
                step()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        step.optimiser.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            step()
        with torch.no_grad():
            for t, v in zip(step.state, saved, strict=True):
                t.copy_(v)
            for st in step.optimiser.state.values():
                for v in st.values():
                    if torch.is_tensor(v):
                        v.zero_()
            step.global_step.zero_()
            step.bad_step.fill_(-1)
        step.start_epoch()

    def __call__(self) -> None:
        self.graph.replay()


def train_task(
    student: DiscreteContinuousVAE,
    objective: StudentObjective,
    train_x: Tensor,
    val_x: Tensor,
    schedule: Schedule,
    *,
    task: int,
    generators: Sequence[torch.Generator],
    eval_seeds: Sequence[int],
    graphs: bool | None = None,
) -> list[TaskTraining]:
    """Fit every seed of ``student`` to its ``train_x[s]`` (plus replay) with early stopping.

    ``train_x`` [S, N, C, H, W] and ``val_x`` [S, M, C, H, W] hold each seed's own split;
    ``generators`` draw each seed's order and noise; ``eval_seeds`` seed the validation noise.
    ``graphs``: capture the step in a CUDA graph (default: on CUDA devices).
    """
    s, dev = student.num_seeds, train_x.device
    if train_x.shape[0] != s or val_x.shape[0] != s or len(generators) != s:
        raise ValueError(f"need one training set, validation set and generator per seed ({s})")
    optimiser = make_optimiser(student, schedule.lr)  # fresh Adam state per student (app. 7.4.1)
    b, n_rep = schedule.batch_size, objective.replay_rows(schedule.batch_size)
    steps = math.ceil(train_x.shape[1] / b)
    teacher_codes = objective.teacher.model.discrete if objective.teacher else 1
    buffers = EpochBuffers(student, teacher_codes, steps, b, n_rep, dev)
    step = TrainStep(student, objective, optimiser, schedule, train_x, buffers)
    graphs = dev.type == "cuda" if graphs is None else graphs
    if graphs:
        buffers.refill(generators, train_x.shape[1])  # warm-up reads real shapes
    run_step = GraphedStep(step) if graphs else step
    best = [t.detach().clone() for t in step.state]
    best_val = [math.inf] * s
    best_epoch, stopped = [0] * s, [0] * s
    last_terms: list[list[float]] = [[math.nan] * len(TERMS) for _ in range(s)]
    curves: list[list[float]] = [[] for _ in range(s)]
    bar = progress(range(schedule.max_epochs), desc=f"task {task}", leave=False)
    for epoch in bar:
        student.train()
        buffers.refill(generators, train_x.shape[1])
        step.start_epoch()
        for _ in range(steps):
            run_step()
        bad = step.bad_step.tolist()
        for i, at in enumerate(bad):
            if at >= 0 and step.active[i]:
                raise task_diverged(task, epoch, at, student.seeds[i])
        val = stacked_negative_elbo(student, val_x, list(eval_seeds)).tolist()
        means = (step.sums / steps).T.tolist()
        active = step.active.tolist()
        for i in range(s):
            if not active[i]:
                continue
            last_terms[i] = means[i]
            curves[i].append(val[i])
            if improves(val[i], best_val[i], schedule.min_delta):
                best_val[i], best_epoch[i] = val[i], epoch
                for t, bt in zip(step.state, best, strict=True):
                    bt[i].copy_(t[i].detach())
            elif epoch + 1 >= schedule.min_epochs and epoch - best_epoch[i] >= schedule.patience:
                step.freeze(i, best)
                stopped[i] = epoch + 1
        bar.set_postfix(val=f"{sum(val) / s:.2f}", active=int(step.active.sum()))
        if not step.active.any():
            break
    for i in range(s):
        if not math.isfinite(best_val[i]):
            raise task_diverged(task, epoch, -1, student.seeds[i],
                                "the validation -ELBO never became finite", "validation")
    with torch.no_grad():
        for t, bt in zip(step.state, best, strict=True):
            t.copy_(bt)
    return [TaskTraining(epochs=stopped[i] or epoch + 1, best_epoch=best_epoch[i] + 1,
                         best_val=best_val[i], steps=(stopped[i] or epoch + 1) * steps,
                         terms=dict(zip(TERMS, last_terms[i], strict=True)),
                         val_curve=curves[i])
            for i in range(s)]


def improves(value: float, best: float, min_delta: float = 0.0) -> bool:
    """Early stopping's test: ``value`` beats ``best`` by more than ``min_delta`` relative
    (0: any decrease counts, as in the reference code)."""
    if not math.isfinite(best):
        return value < best
    return value < best - min_delta * abs(best)
