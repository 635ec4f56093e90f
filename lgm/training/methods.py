"""One (experiment, method, seed) run: the sequence of tasks and the per-task metrics.

Methods (section 5):

- ``lifelong``: the student-teacher VAE of eq. 6. z_d starts with one code and grows by one per
  task; after each task the student becomes the frozen teacher and a new student starts from
  its weights (appendix 7.8.2); the student sees real and replayed data (pi = k/(k+1)) with the
  consistency and information-gain terms. ``consistency_direction`` gives the forward-KL
  variant (appendix 7.9), ``likelihood_weight > 0`` the with-LL ablation (appendix 7.3).
- ``ewc``: the same student-teacher set-up with the EWC penalty instead of the consistency
  term, no BatchNorm (appendix 7.4.1), J fixed at the number of tasks.
- ``vanilla``: one VAE fine-tuned task after task, no replay, no regulariser.
- ``upto``: one VAE trained at task t on the union of the training data of tasks 0..t
  (warm-started from task t-1).
- ``full``: one VAE trained once on all tasks' data, then evaluated on each cumulative test set.

After every task: the negative test ELBO on the union of the test sets seen so far, the Frechet
distance of generated samples to that test set (when a scorer is given), epochs to early stop
and the teacher-student agreement on previous tasks.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lgm.data.tasks import TaskSequence, make_tasks
from lgm.device import resolve_device
from lgm.experiments.cache import result_key
from lgm.experiments.config import RunConfig
from lgm.losses.ewc import diagonal_fisher
from lgm.metrics.classifier import FrechetScorer
from lgm.metrics.elbo import importance_weighted_bound, negative_elbo, posterior_agreement
from lgm.metrics.scorer import build_scorer
from lgm.metrics.visuals import final_visuals, samples_per_code
from lgm.models.vae import DiscreteContinuousVAE, frozen_copy
from lgm.paths import cache_root
from lgm.provenance import provenance
from lgm.training.checkpoint import load_checkpoint, save_checkpoint
from lgm.training.loop import train_task
from lgm.training.objective import StudentObjective, Teacher
from lgm.training.progress import progress
from lgm.training.replay import replay, replay_count

EVAL_SEED_OFFSET = 1_000_003  # evaluation noise never shares a stream with training noise


def load_tasks(cfg: RunConfig, device: torch.device) -> TaskSequence:
    """The experiment's task sequence as configured (data on ``device``)."""
    return make_tasks(cfg.experiment, root=cfg.data_root, num_tasks=cfg.num_tasks,
                      class_order=cfg.class_order, val_fraction=cfg.val_fraction, seed=cfg.seed,
                      binarize=cfg.binarize, max_per_task=cfg.max_per_task, device=device)


def new_model(cfg: RunConfig, tasks: TaskSequence, device: torch.device,
              discrete: int | None = None) -> DiscreteContinuousVAE:
    """A model with ``discrete`` codes (default: the first task's J as configured); EWC
    without BatchNorm (appendix 7.4.1)."""
    discrete = discrete or cfg.discrete or (1 if cfg.method == "lifelong" else len(tasks))
    model = DiscreteContinuousVAE(cfg.arch, tasks.image_shape, cfg.continuous, discrete,
                                  batchnorm=cfg.method != "ewc")
    return model.to(device)


def next_student(cfg: RunConfig, model: DiscreteContinuousVAE, fisher: dict[str, Tensor] | None,
                 t: int) -> tuple[DiscreteContinuousVAE, Teacher | None]:
    """Hand over from task t-1 to task t: the new student and its teacher (if any)."""
    if cfg.method == "lifelong":
        return model.grown(1), Teacher(frozen_copy(model), tasks_seen=t)
    if cfg.method == "ewc":
        anchor = {k: v.detach().clone() for k, v in model.named_parameters()}
        return model, Teacher(frozen_copy(model), tasks_seen=t, anchor=anchor, fisher=fisher)
    return model, None


def training_data(cfg: RunConfig, tasks: TaskSequence, t: int) -> tuple[Tensor, Tensor]:
    """Real training and validation images of task t for the method."""
    if cfg.method == "upto":
        return tasks.train_upto(t), tasks.val_upto(t)
    if cfg.method == "full":
        return tasks.train_upto(len(tasks) - 1), tasks.val_upto(len(tasks) - 1)
    return tasks[t].train, tasks[t].val


def validation_set(objective: StudentObjective, val_x: Tensor, seed: int) -> Tensor:
    """Real validation images plus, with replay, fixed teacher samples in the replay share."""
    if not objective.uses_replay:
        return val_x
    k = objective.teacher.tasks_seen
    n = max(1, replay_count(len(val_x) * (k + 1), k))
    g = torch.Generator(device=val_x.device).manual_seed(seed)
    return torch.cat([val_x, replay(objective.teacher.model, n, g)[0]])


def evaluate(cfg: RunConfig, model: DiscreteContinuousVAE, teacher: Teacher | None,
             tasks: TaskSequence, t: int, scorer: FrechetScorer | None) -> dict[str, Any]:
    """The paper's metrics after task t."""
    seed = EVAL_SEED_OFFSET + 1000 * cfg.seed + t
    test = tasks.cumulative_test(t)
    metrics: dict[str, Any] = {"neg_elbo": negative_elbo(model, test, seed=seed),
                               "test_size": len(test), "discrete": model.discrete}
    if cfg.iw_samples:
        metrics["neg_iw_elbo"] = importance_weighted_bound(model, test, cfg.iw_samples, seed=seed)
    if scorer is not None:
        g = torch.Generator(device=test.device).manual_seed(seed)
        n = min(cfg.frechet_samples, len(test))
        generated = model.eval().generate(n, generator=g)
        reference = test[torch.randperm(len(test), generator=g, device=test.device)[:n]]
        metrics["frechet"] = scorer.score(generated, reference)
        metrics["log_frechet"] = math.log(max(metrics["frechet"], 1e-12))
        metrics["frechet_samples"] = n
    if teacher is not None and t > 0:
        metrics["consistency"] = posterior_agreement(model, teacher.model,
                                                     tasks.cumulative_test(t - 1))
    model.train()
    return metrics


def run(cfg: RunConfig, *, tasks: TaskSequence | None = None, scorer: FrechetScorer | None = None,
        checkpoint_dir: Path | None = None, resume: bool = True,
        stop_after: int | None = None) -> dict[str, Any]:
    """Run ``cfg`` and return its result: config, per-task metrics and provenance.

    ``checkpoint_dir``: write a checkpoint after every task there and, with ``resume``,
    continue from the last one. ``stop_after``: return after that many tasks (for tests of
    resuming; the result then has fewer task entries).
    """
    started, device = time.time(), resolve_device(cfg.device)
    tasks = tasks if tasks is not None else load_tasks(cfg, device)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    model = new_model(cfg, tasks, device)
    records: list[dict[str, Any]] = []
    fisher: dict[str, Tensor] | None = None
    ckpt_path = checkpoint_dir / "last.pt" if checkpoint_dir else None
    state = load_checkpoint(ckpt_path, cfg.key()) if ckpt_path and resume else None
    arrays: dict[str, Any] = {}
    if state is not None:
        model, fisher, records, arrays = restore(state, cfg, tasks, device, generator)
    teacher = None
    last = len(tasks) if stop_after is None else min(len(tasks), stop_after)
    for t in progress(range(len(records), last), desc=f"{cfg.method} seed {cfg.seed}",
                      total=last, initial=len(records)):
        if t > 0:
            model, teacher = next_student(cfg, model, fisher, t)
        task_start = time.time()
        if cfg.method == "full" and t > 0:
            fit = records[0]["training"]  # trained once on everything at t = 0
        else:
            fit = fit_task(cfg, model, teacher, tasks, t, generator)
        if cfg.method == "ewc":
            fisher = accumulate_fisher(cfg, model, tasks[t].train, fisher)
        record = {"task": t, "name": tasks[t].name, "epochs": fit["epochs"], "training": fit,
                  **evaluate(cfg, model, teacher, tasks, t, scorer),
                  "wall_s": round(time.time() - task_start, 3)}
        records.append(record)
        if cfg.visuals:
            arrays[f"samples_task{t}"] = samples_per_code(model, cfg.visuals)
            model.train()
        if ckpt_path:
            save_checkpoint(ckpt_path,
                            checkpoint_state(cfg, model, fisher, records, arrays, generator))
    if cfg.visuals and len(records) == len(tasks):
        arrays.update(final_visuals(model, tasks, cfg.visuals))
    result = {"config": cfg.to_dict(), "config_key": cfg.key(), "data": tasks.source,
              "tasks": records, "provenance": provenance(device, started)}
    if arrays:
        result["arrays"] = arrays
    return result


def run_experiment(cfg: RunConfig, *, resume: bool = True) -> dict[str, Any]:
    """``run`` with the defaults: the configured data, the experiment's Frechet scorer (a
    classifier trained on the experiment's data, cached) and a checkpoint folder per config."""
    device = resolve_device(cfg.device)
    tasks = load_tasks(cfg, device)
    scorer = None
    if cfg.classifier_epochs > 0:
        key = f"{cfg.experiment}-{cfg.preset}-s{cfg.seed}"
        scorer = build_scorer(tasks, key=key, epochs=cfg.classifier_epochs, device=device)
    ckpt = cache_root() / "ckpt" / result_key(cfg)  # config and code version: never mixed
    result = run(cfg, tasks=tasks, scorer=scorer, checkpoint_dir=ckpt,
                 resume=resume)
    if scorer is not None:
        result["frechet_extractor"] = (f"FeatureClassifier trained {cfg.classifier_epochs} "
                                       f"epochs on the experiment's training data")
    return result


def fit_task(cfg: RunConfig, model: DiscreteContinuousVAE, teacher: Teacher | None,
             tasks: TaskSequence, t: int, generator: torch.Generator) -> dict[str, Any]:
    """Train on task t; the training summary as plain data."""
    objective = StudentObjective(cfg, teacher)
    train_x, val_x = training_data(cfg, tasks, t)
    seed = EVAL_SEED_OFFSET + 1000 * cfg.seed + t
    val_x = validation_set(objective, val_x, seed)
    fit = train_task(model, objective, train_x, val_x, cfg, task=t, generator=generator,
                     eval_seed=seed)
    return {"epochs": fit.epochs, "best_epoch": fit.best_epoch, "best_val": fit.best_val,
            "steps": fit.steps, "terms": fit.terms}


def accumulate_fisher(cfg: RunConfig, model: DiscreteContinuousVAE, train_x: Tensor,
                      fisher: dict[str, Tensor] | None) -> dict[str, Tensor]:
    """Add this task's diagonal Fisher to the sum over past tasks (section 5)."""
    tau = cfg.tau_min
    new = diagonal_fisher(model, train_x[: cfg.fisher_samples], tau=tau)
    if fisher is None:
        return new
    return {k: fisher[k] + new[k] for k in new}


def checkpoint_state(cfg: RunConfig, model: DiscreteContinuousVAE,
                     fisher: dict[str, Tensor] | None, records: list[dict[str, Any]],
                     arrays: dict[str, Any], generator: torch.Generator) -> dict[str, Any]:
    """Everything needed to continue after the last finished task."""
    return {"config_key": cfg.key(), "discrete": model.discrete, "model": model.state_dict(),
            "fisher": fisher, "records": records, "arrays": arrays,
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def restore(state: dict[str, Any], cfg: RunConfig, tasks: TaskSequence, device: torch.device,
            generator: torch.Generator) -> tuple[DiscreteContinuousVAE, Any, list[dict], dict]:
    """Rebuild the model and random states from a checkpoint."""
    model = new_model(cfg, tasks, device, discrete=state["discrete"])
    model.load_state_dict(state["model"])
    fisher = state["fisher"]
    if fisher is not None:
        fisher = {k: v.to(device) for k, v in fisher.items()}
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return model, fisher, state["records"], state["arrays"]
