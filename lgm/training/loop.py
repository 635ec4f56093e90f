"""Training one student on one task, with early stopping on a validation split.

An *epoch* is ``ceil(N_train / B)`` optimiser steps of B rows each, as in the reference code:
``B - r`` real rows drawn without replacement from a fresh permutation of the task's data and
``r = replay_count(B, k)`` rows replayed by the teacher. Data stay on the training device and
are indexed in whole minibatches; nothing runs per sample in Python.

Early stopping: after every epoch the negative ELBO is measured on a fixed validation set (the
task's held-out split, plus, for methods with replay, a fixed set of teacher samples in the
replay proportion). Training stops after ``patience`` epochs without improvement (once
``min_epochs`` have passed) and the best weights are restored.

Non-finite losses are caught without a host sync per step: a device-side flag records the
first bad step and is read once per epoch, when the error names task, epoch and step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from lgm.experiments.config import RunConfig
from lgm.metrics.elbo import negative_elbo
from lgm.models.vae import DiscreteContinuousVAE
from lgm.training.objective import TERMS, StudentObjective
from lgm.training.progress import progress
from lgm.training.schedule import gumbel_temperature


class NonFiniteLossError(RuntimeError):
    """Training produced NaN or inf; the last good checkpoint is left untouched."""

    def __init__(self, task: int, epoch: int, step: int) -> None:
        super().__init__(f"non-finite loss in task {task}, epoch {epoch}, step {step}: training "
                         "stopped; the checkpoint of the last finished task was kept. Try a "
                         "smaller learning rate.")
        self.task, self.epoch, self.step = task, epoch, step


@dataclass
class TaskTraining:
    """What training on one task did."""

    epochs: int              # epochs run until early stopping (or max_epochs)
    best_epoch: int
    best_val: float          # validation negative ELBO at the restored weights
    steps: int
    terms: dict[str, float]  # mean loss terms of the last epoch


def minibatch_order(n: int, steps: int, rows: int, generator: torch.Generator,
                    device: torch.device) -> Tensor:
    """[steps, rows] indices into a dataset of ``n``, each pass a fresh permutation."""
    passes = math.ceil(steps * rows / n)
    perms = [torch.randperm(n, generator=generator, device=device) for _ in range(passes)]
    return torch.cat(perms)[: steps * rows].view(steps, rows)


def make_optimiser(model: torch.nn.Module, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel (one kernel for all parameters, CPU and CUDA)."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


def train_task(
    student: DiscreteContinuousVAE,
    objective: StudentObjective,
    train_x: Tensor,
    val_x: Tensor,
    cfg: RunConfig,
    *,
    task: int,
    generator: torch.Generator,
    eval_seed: int,
) -> TaskTraining:
    """Fit ``student`` to ``train_x`` (plus replay) with Adam and early stopping."""
    optimiser = make_optimiser(student, cfg.lr)  # fresh Adam state per student (app. 7.4.1)
    b, n_rep = cfg.batch_size, objective.replay_rows(cfg.batch_size)
    n_real = b - n_rep
    steps = math.ceil(len(train_x) / b)
    best_val, best_epoch, best_state = math.inf, 0, None
    step, epoch = 0, 0
    bad_step = torch.full((), -1, dtype=torch.long, device=train_x.device)
    bar = progress(range(cfg.max_epochs), desc=f"task {task}", leave=False)
    for epoch in bar:
        student.train()
        order = minibatch_order(len(train_x), steps, n_real, generator, train_x.device)
        sums = torch.zeros(len(TERMS), device=train_x.device)
        for s in range(steps):
            tau = gumbel_temperature(step, cfg.tau0, cfg.tau_rate, cfg.tau_min)
            loss, terms = objective(student, train_x[order[s]], tau, generator)
            bad_step = torch.where((bad_step < 0) & ~torch.isfinite(loss), step, bad_step)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            sums += terms
            step += 1
        if bad_step.item() >= 0:
            raise NonFiniteLossError(task, epoch, int(bad_step.item()))
        val = negative_elbo(student, val_x, seed=eval_seed)
        bar.set_postfix(loss=f"{sums[0].item() / steps:.2f}", val=f"{val:.2f}")
        if val < best_val:
            best_val, best_epoch = val, epoch
            best_state = {k: v.detach().clone() for k, v in student.state_dict().items()}
        elif epoch + 1 >= cfg.min_epochs and epoch - best_epoch >= cfg.patience:
            break
    if best_state is not None:
        student.load_state_dict(best_state)
    means = (sums / steps).tolist()
    return TaskTraining(epochs=epoch + 1, best_epoch=best_epoch + 1, best_val=best_val,
                        steps=step, terms=dict(zip(TERMS, means, strict=False)))
