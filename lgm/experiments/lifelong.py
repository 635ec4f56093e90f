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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lgm.data.tasks import TaskSequence, make_tasks
from lgm.device import resolve_device, rule_threads
from lgm.experiments.config import RunConfig
from lgm.experiments.spec import check_may_train
from lgm.losses.ewc import diagonal_fisher
from lgm.metrics.classifier import FrechetScorer
from lgm.metrics.elbo import importance_weighted_bound, negative_elbo, posterior_agreement
from lgm.metrics.scorer import build_scorer
from lgm.metrics.visuals import final_visuals, samples_per_code
from lgm.models.stacked import seed_generators
from lgm.models.vae import DiscreteContinuousVAE, frozen_copy
from lgm.progress import progress
from lgm.provenance import provenance
from lgm.training.checkpoint import (
    CheckpointMeta,
    load_checkpoint,
    restoring_from,
    save_checkpoint,
)
from lgm.training.loop import task_diverged, task_generators, train_task
from lgm.training.objective import StudentObjective, Teacher
from lgm.training.replay import replay, replay_count

EVAL_SEED_OFFSET = 1_000_003  # evaluation noise never shares a stream with training noise


def check_stack(cfgs: Sequence[RunConfig]) -> None:
    """A stack trains configs that differ in their seed only, each seed once."""
    if not cfgs:
        raise ValueError("need at least one config")
    seeds = [c.seed for c in cfgs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"each seed at most once in a stack, got {seeds}")
    base = {k: v for k, v in cfgs[0].to_dict().items() if k != "seed"}
    for c in cfgs[1:]:
        other = {k: v for k, v in c.to_dict().items() if k != "seed"}
        if other != base:
            diff = sorted(k for k in base if base[k] != other.get(k))
            raise ValueError(f"configs of a stack may differ only in the seed; they differ in "
                             f"{diff}")


def stack_key(cfgs: Sequence[RunConfig]) -> str:
    """Key of a stack (its configs' keys, in order)."""
    return "+".join(c.key() for c in cfgs)


def load_tasks(cfg: RunConfig, device: torch.device) -> TaskSequence:
    """The experiment's task sequence as configured (data on ``device``)."""
    return make_tasks(cfg.experiment, root=cfg.data_root, num_tasks=cfg.num_tasks,
                      class_order=cfg.class_order, val_fraction=cfg.val_fraction, seed=cfg.seed,
                      binarize=cfg.binarize, max_per_task=cfg.max_per_task, device=device)


def new_model(cfg: RunConfig, tasks: TaskSequence, device: torch.device,
              discrete: int | None = None, seeds: Sequence[int] | None = None
              ) -> DiscreteContinuousVAE:
    """A stacked model with ``discrete`` codes (default: the first task's J as configured),
    one slice per seed (default: ``cfg.seed``); EWC without BatchNorm (appendix 7.4.1)."""
    discrete = discrete or cfg.discrete or (1 if cfg.method == "lifelong" else len(tasks))
    model = DiscreteContinuousVAE(cfg.arch, tasks.image_shape, cfg.continuous, discrete,
                                  batchnorm=cfg.method != "ewc",
                                  seeds=list(seeds) if seeds is not None else [cfg.seed])
    return model.to(device)


def next_student(cfg: RunConfig, model: DiscreteContinuousVAE, fisher: dict[str, Tensor] | None,
                 t: int) -> tuple[DiscreteContinuousVAE, Teacher | None]:
    """Hand over from task t-1 to task t: the new student and its teacher (if any)."""
    if cfg.method == "lifelong":
        gens = seed_generators([10_007 * s + 5_000 + t for s in model.seeds])
        return model.grown(1, gens), Teacher(frozen_copy(model), tasks_seen=t)
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


def validation_set(objective: StudentObjective, val_x: Tensor, seed: int, index: int) -> Tensor:
    """Real validation images plus, with replay, fixed teacher samples in the replay share
    (from the teacher of the seed at ``index`` of the stack)."""
    if not objective.uses_replay:
        return val_x
    k = objective.teacher.tasks_seen
    n = max(1, replay_count(len(val_x) * (k + 1), k))
    g = torch.Generator(device=val_x.device).manual_seed(seed)
    return torch.cat([val_x, replay(objective.teacher.model.select(index), n, g)[0]])


def eval_seed(cfg: RunConfig, t: int) -> int:
    return EVAL_SEED_OFFSET + 1000 * cfg.seed + t


def evaluate(cfg: RunConfig, model: DiscreteContinuousVAE,
             teacher: DiscreteContinuousVAE | None, tasks: TaskSequence, t: int,
             scorer: FrechetScorer | None) -> dict[str, Any]:
    """The paper's metrics after task t (one-seed model and teacher)."""
    seed = eval_seed(cfg, t)
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
        metrics["consistency"] = posterior_agreement(model, teacher,
                                                     tasks.cumulative_test(t - 1))
    model.train()
    return metrics


def check_finite(metrics: dict[str, Any], t: int, epochs: int, seed: int) -> None:
    """A diverged model is an error, never a result: every metric after task t must be finite."""
    bad = sorted(k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v))
    if bad:
        raise task_diverged(t, epochs, -1, seed, f"non-finite evaluation ({', '.join(bad)})",
                            "evaluation")


def run(cfg: RunConfig, *, tasks: TaskSequence | None = None, scorer: FrechetScorer | None = None,
        checkpoint_dir: Path | None = None, resume: bool = True,
        stop_after: int | None = None) -> dict[str, Any]:
    """Run ``cfg`` alone: :func:`run_stack` with one seed."""
    return run_stack([cfg], tasks=None if tasks is None else [tasks],
                     scorers=None if scorer is None else [scorer],
                     checkpoint_dir=checkpoint_dir, resume=resume, stop_after=stop_after)[0]


def run_stack(cfgs: Sequence[RunConfig], *, tasks: Sequence[TaskSequence] | None = None,
              scorers: Sequence[FrechetScorer | None] | None = None,
              checkpoint_dir: Path | None = None, resume: bool = True,
              stop_after: int | None = None) -> list[dict[str, Any]]:
    """Run the seeds of ``cfgs`` as one stacked model; one result per config, each the result
    the config gives alone (config, per-task metrics, provenance).

    ``checkpoint_dir``: write a checkpoint after every task there and, with ``resume``,
    continue from the last one. ``stop_after``: return after that many tasks (for tests of
    resuming; the results then have fewer task entries).
    """
    check_stack(cfgs)
    cfg, n = cfgs[0], len(cfgs)
    started, device = time.time(), resolve_device(cfg.device)
    tasks = list(tasks) if tasks is not None else [load_tasks(c, device) for c in cfgs]
    scorers = list(scorers) if scorers is not None else [None] * n
    seeds = [c.seed for c in cfgs]
    model = new_model(cfg, tasks[0], device, seeds=seeds)
    records: list[list[dict[str, Any]]] = [[] for _ in cfgs]
    arrays: list[dict[str, Any]] = [{} for _ in cfgs]
    fisher: dict[str, Tensor] | None = None
    ckpt_path = checkpoint_dir / "last.pt" if checkpoint_dir else None
    meta = checkpoint_meta(cfgs, len(tasks[0])) if ckpt_path else None
    state = load_checkpoint(ckpt_path, meta) if ckpt_path and resume else None
    if state is not None:
        with restoring_from(ckpt_path):
            model, fisher, records, arrays = restore(state, cfg, tasks[0], device, seeds)
    teacher = None
    done, total = len(records[0]), len(tasks[0])
    last = total if stop_after is None else min(total, stop_after)
    label = f"{cfg.method} seed{'s' if n > 1 else ''} {','.join(map(str, seeds))}"
    for t in progress(range(done, last), desc=label, total=last, initial=done):
        if t > 0:
            model, teacher = next_student(cfg, model, fisher, t)
        task_start = time.time()
        if cfg.method == "full" and t > 0:
            fits = [r[0]["training"] for r in records]  # trained once on everything at t = 0
        else:
            fits = fit_task(cfgs, model, teacher, tasks, t)
        if cfg.method == "ewc":
            fisher = accumulate_fisher(cfgs, model, [ts[t].train for ts in tasks], fisher, t)
        task_wall = time.time() - task_start
        for i, c in enumerate(cfgs):
            one = model.select(i)
            one_teacher = teacher.model.select(i) if teacher is not None else None
            metrics = evaluate(c, one, one_teacher, tasks[i], t, scorers[i])
            check_finite(metrics, t, fits[i]["epochs"], c.seed)
            records[i].append({"task": t, "name": tasks[i][t].name, "epochs": fits[i]["epochs"],
                               "training": fits[i], **metrics,
                               "wall_s": round(task_wall / n, 3)})
            if c.visuals:
                arrays[i][f"samples_task{t}"] = samples_per_code(one, c.visuals)
        if ckpt_path:
            save_checkpoint(ckpt_path, checkpoint_state(cfgs, model, fisher, records, arrays),
                            meta)
    results = []
    wall = time.time() - started
    for i, c in enumerate(cfgs):
        if c.visuals and len(records[i]) == total:
            arrays[i].update(final_visuals(model.select(i), tasks[i], c.visuals))
        prov = provenance(device, started)
        prov["wall_s"] = round(wall / n, 2)  # this seed's share of the stack
        result = {"config": c.to_dict(), "config_key": c.key(), "data": tasks[i].source,
                  "tasks": records[i], "provenance": prov,
                  "stack": {"seeds": seeds, "wall_s": round(wall, 2)}}
        if arrays[i]:
            result["arrays"] = arrays[i]
        results.append(result)
    return results


def run_experiments(cfgs: Sequence[RunConfig], *, resume: bool = True,
                    checkpoint_dir: Path | None = None) -> list[dict[str, Any]]:
    """``run_stack`` with the defaults: each seed's data and the experiment's Frechet scorer (a
    classifier trained on the seed's data, cached). The result cache hands over the stack's
    ``checkpoint_dir`` (None: no checkpoints)."""
    check_stack(cfgs)
    check_may_train(f"the {cfgs[0].experiment} {cfgs[0].method} run at preset "
                    f"{cfgs[0].preset}, seeds {[c.seed for c in cfgs]}", cfgs[0].preset)
    device = resolve_device(cfgs[0].device)
    with rule_threads():  # LGM_THREADS torch threads, one by default (lgm/device.py)
        tasks = [load_tasks(c, device) for c in cfgs]
        scorers: list[FrechetScorer | None] = []
        for c, ts in zip(cfgs, tasks, strict=True):
            key = f"{c.experiment}-{c.preset}-s{c.seed}"
            scorers.append(build_scorer(ts, key=key, epochs=c.classifier_epochs, device=device)
                           if c.classifier_epochs > 0 else None)
        results = run_stack(cfgs, tasks=tasks, scorers=scorers, checkpoint_dir=checkpoint_dir,
                            resume=resume)
    for c, result in zip(cfgs, results, strict=True):
        if c.classifier_epochs > 0:
            result["frechet_extractor"] = (f"FeatureClassifier trained {c.classifier_epochs} "
                                           f"epochs on the experiment's training data")
    return results


def fit_task(cfgs: Sequence[RunConfig], model: DiscreteContinuousVAE, teacher: Teacher | None,
             tasks: Sequence[TaskSequence], t: int) -> list[dict[str, Any]]:
    """Train every seed on task t; per seed, the training summary as plain data."""
    cfg = cfgs[0]
    objective = StudentObjective(cfg.weights, teacher)
    data = [training_data(cfg, ts, t) for ts in tasks]
    train_x = torch.stack([d[0] for d in data])
    val_x = torch.stack([validation_set(objective, d[1], eval_seed(c, t), i)
                         for i, (c, d) in enumerate(zip(cfgs, data, strict=True))])
    gens = task_generators([c.seed for c in cfgs], t, train_x.device)
    fits = train_task(model, objective, train_x, val_x, cfg.schedule, task=t, generators=gens,
                      eval_seeds=[eval_seed(c, t) for c in cfgs])
    return [{"epochs": f.epochs, "best_epoch": f.best_epoch, "best_val": f.best_val,
             "steps": f.steps, "terms": f.terms, "val_curve": f.val_curve} for f in fits]


def accumulate_fisher(cfgs: Sequence[RunConfig], model: DiscreteContinuousVAE,
                      train_x: Sequence[Tensor], fisher: dict[str, Tensor] | None, t: int
                      ) -> dict[str, Tensor]:
    """Add this task's diagonal Fisher to the sum over past tasks (section 5), per seed.

    Each seed's per-sample noise comes from the global generator reseeded by (seed, task)
    inside a forked RNG state, so a stack and a lone run draw the same.
    """
    parts = []
    for i, c in enumerate(cfgs):
        devices = [train_x[i].device] if train_x[i].is_cuda else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(10_007 * c.seed + 9_000 + t)
            parts.append(diagonal_fisher(model.select(i), train_x[i][: c.fisher_samples],
                                         tau=c.tau_min))
    new = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    if fisher is None:
        return new
    return {k: fisher[k] + new[k] for k in new}


def checkpoint_state(cfgs: Sequence[RunConfig], model: DiscreteContinuousVAE,
                     fisher: dict[str, Tensor] | None, records: list[list[dict[str, Any]]],
                     arrays: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything needed to continue after the last finished task (every random stream is
    derived from (seed, task), so no generator state is needed)."""
    return {"config_key": stack_key(cfgs), "discrete": model.discrete,
            "model": model.state_dict(), "fisher": fisher, "records": records,
            "arrays": arrays}


def checkpoint_meta(cfgs: Sequence[RunConfig], num_tasks: int) -> CheckpointMeta:
    """What a stack's checkpoint belongs to: its key, the run's number of tasks and the code
    (the tag of the numerics fingerprint that the result cache sets,
    :func:`lgm.training.checkpoint.checkpoint_code`)."""
    return CheckpointMeta(stack_key(cfgs), num_tasks=num_tasks)


def codes_after(cfg: RunConfig, tasks: TaskSequence, finished: int) -> int:
    """The number of discrete codes of the model after ``finished`` tasks (lifelong: one more
    per task after the first; the other methods: fixed)."""
    base = cfg.discrete or (1 if cfg.method == "lifelong" else len(tasks))
    return base + (finished - 1 if cfg.method == "lifelong" else 0)


def restore(state: dict[str, Any], cfg: RunConfig, tasks: TaskSequence, device: torch.device,
            seeds: Sequence[int]) -> tuple[DiscreteContinuousVAE, Any, list, list]:
    """Rebuild the stacked model and EWC state from a checkpoint (``ValueError`` when its model
    does not match its task records)."""
    finished = len(state["records"][0])
    if state["discrete"] != codes_after(cfg, tasks, finished):
        raise ValueError(f"its model has {state['discrete']} discrete codes, but after "
                         f"{finished} finished task(s) a {cfg.method} run has "
                         f"{codes_after(cfg, tasks, finished)}")
    model = new_model(cfg, tasks, device, discrete=state["discrete"], seeds=seeds)
    model.load_state_dict(state["model"])
    fisher = state["fisher"]
    if fisher is not None:
        fisher = {k: v.to(device) for k, v in fisher.items()}
    return model, fisher, state["records"], state["arrays"]

