"""Training mechanics: schedule, replay, weight transfer, loss goes down, resume, errors."""

from __future__ import annotations

import math

import pytest
import torch

from lgm.errors import DivergedError
from lgm.experiments import make_config
from lgm.experiments.lifelong import run, stack_key
from lgm.losses import diagonal_fisher, ewc_penalty, info_gain
from lgm.losses.info_gain import critic_encode
from lgm.models.vae import DiscreteContinuousVAE
from lgm.training import CheckpointError, gumbel_temperature
from lgm.training.checkpoint import load_checkpoint, save_checkpoint
from lgm.training.loop import EpochBuffers, task_generators, train_task
from lgm.training.objective import StudentObjective, Teacher
from lgm.training.replay import replay, replay_count
from tests.conftest import tiny_sequence


def small_cfg(**kw):
    base = dict(batch_size=16, max_epochs=2, patience=1, info_gain_weight=0.01)
    return make_config("smoke", **{**base, **kw})


def test_gumbel_schedule():
    assert gumbel_temperature(0) == 1.0
    assert gumbel_temperature(10_000) == pytest.approx(math.exp(-0.3))
    assert gumbel_temperature(10**6) == 0.5
    taus = [gumbel_temperature(s) for s in range(0, 50_000, 1000)]
    assert all(a >= b for a, b in zip(taus, taus[1:], strict=False))


@pytest.mark.parametrize("k,expected", [(0, 0), (1, 64), (4, 102), (9, 115)])
def test_replay_proportion_is_k_over_k_plus_1(k, expected):
    assert replay_count(128, k) == expected
    assert abs(replay_count(128, k) / 128 - k / (k + 1)) < 1 / 128


def test_replay_is_uniform_over_the_teachers_codes():
    torch.manual_seed(0)
    teacher = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 4).eval()
    x_hat, z_c, z_d = replay(teacher, 8000, torch.Generator().manual_seed(1))
    assert x_hat.shape == (8000, 1, 28, 28) and 0 <= x_hat.min() and x_hat.max() <= 1
    counts = z_d.sum(0)
    assert z_d.sum(1).eq(1).all() and (counts - 2000).abs().max() < 150  # ~4 sigma


def test_grown_student_copies_all_but_the_latent_layers():
    torch.manual_seed(0)
    teacher = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 2)
    teacher.train()(torch.rand(32, 1, 28, 28))  # move BatchNorm statistics away from init
    student = teacher.grown(1)
    assert student.discrete == 3
    latent = {id(p) for m in (student.encoder.latent_projection, student.decoder.latent_input)
              for p in m.parameters()}
    t_params = dict(teacher.named_parameters())
    copied = 0
    for name, p in student.named_parameters():
        if id(p) in latent:
            if p.shape == t_params[name].shape:
                assert not torch.equal(p, t_params[name]), name
        else:
            assert torch.equal(p, t_params[name]), name
            copied += 1
    assert copied > 0
    for m in student.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            assert torch.equal(m.running_mean, torch.zeros_like(m.running_mean))


def fit_one(model, objective, train, val, cfg):
    """train_task on a one-seed model (seed 0)."""
    gens = task_generators([0], 0, train.device)
    return train_task(model, objective, train[None], val[None], cfg, task=0, generators=gens,
                      eval_seeds=[0])[0]


def step_noise(student, objective, batch, teacher_codes):
    buffers = EpochBuffers(student, teacher_codes, 1, batch, objective.replay_rows(batch),
                           torch.device("cpu"))
    buffers.refill(task_generators(student.seeds, 0, torch.device("cpu")), 6)
    return buffers.at(torch.zeros((), dtype=torch.long))


def test_a_few_steps_lower_the_loss(tiny_tasks):
    torch.manual_seed(0)
    cfg = small_cfg(max_epochs=4, patience=10)
    model = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 3)
    from lgm.metrics import negative_elbo
    before = negative_elbo(model, tiny_tasks[0].val)
    fit = fit_one(model, StudentObjective(cfg, None), tiny_tasks[0].train, tiny_tasks[0].val,
                  cfg)
    assert fit.epochs == 4 and fit.steps == 16
    assert fit.best_val < 0.85 * before


def test_lifelong_objective_uses_replay_consistency_and_info_gain(tiny_tasks):
    torch.manual_seed(0)
    cfg = small_cfg()
    teacher = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 2).eval()
    student = teacher.grown(1)
    objective = StudentObjective(cfg, Teacher(teacher, tasks_seen=2))
    assert objective.replay_rows(16) == 10
    noise = step_noise(student, objective, 16, teacher_codes=2)
    loss, terms = objective(student, tiny_tasks[0].train[:6][None], 1.0, noise)
    assert torch.isfinite(loss) and terms[2] > 0 and terms[3] >= 0  # info gain clamped at 0
    loss.backward()
    assert all(p.grad is not None for p in student.parameters())


def test_info_gain_flows_into_decoder_and_encoder():
    torch.manual_seed(0)
    model = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 2)
    out = model(torch.rand(8, 1, 28, 28))
    info_gain(model, out).mean().backward()
    assert model.decoder.latent_input.weight.grad.abs().sum() > 0
    assert model.encoder.latent_projection.weight.grad.abs().sum() > 0


def test_info_gain_critic_pass_leaves_the_encoder_alone():
    """Q is a fixed critic in the re-encoding: no gradient to it, no BatchNorm update."""
    torch.manual_seed(0)
    model = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 2).train()
    x = torch.rand(8, 1, 28, 28, requires_grad=True)
    before = {k: v.clone() for k, v in model.named_buffers()}
    h = critic_encode(model, x)
    grads = torch.autograd.grad(h.sum(), [x, *model.encoder.parameters()], allow_unused=True)
    assert grads[0] is not None and all(g is None for g in grads[1:])
    assert all(torch.equal(v, before[k]) for k, v in model.named_buffers())


def test_info_gain_critic_variance_is_floored():
    """A confident, wrong critic (log-variance -20) gave L_I = -3e25 and a NaN gradient."""
    torch.manual_seed(0)
    model = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 2)
    with torch.no_grad():
        model.encoder.latent_projection.bias[14:28] = -20.0  # the critic's log-variance
    out = model(torch.rand(4, 1, 28, 28))
    out.z_c.data += 3.0
    value = info_gain(model, out)
    assert torch.isfinite(value).all() and value.min() > -1e6
    value.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_info_gain_penalty_is_clamped_at_zero():
    """A negative bound (a wrong critic) gives no penalty and no gradient to exploit."""
    from lgm.losses.info_gain import info_gain_penalty

    torch.manual_seed(0)
    model = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 2)
    out = model(torch.rand(8, 1, 28, 28))
    value = info_gain(model, out).mean()
    penalty = info_gain_penalty(model, out)
    assert penalty == max(value.item(), 0.0)
    out.z_c.data += 50.0  # far from anything the critic predicts: the bound goes very negative
    penalty = info_gain_penalty(model, out)
    assert penalty == 0.0
    penalty.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.parameters())


def test_info_gain_stays_bounded_while_training(tiny_tasks):
    """Regression: with Q trainable in the critic pass, L_I ran to -1e30 within one task at
    the paper's lambda = 0.01 (split FashionMNIST, quick preset)."""
    torch.manual_seed(0)
    cfg = small_cfg(max_epochs=8, patience=10, info_gain_weight=0.01)
    model = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 3)
    fit = fit_one(model, StudentObjective(cfg, None), tiny_tasks[0].train, tiny_tasks[0].val,
                  cfg)
    assert fit.terms["info_gain"] > -100 and math.isfinite(fit.best_val)


def test_ewc_fisher_and_penalty():
    torch.manual_seed(0)
    model = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 2, batchnorm=False)
    fisher = diagonal_fisher(model, torch.rand(6, 1, 28, 28).round(), tau=0.5, batch_size=4)
    assert set(fisher) == {k for k, _ in model.named_parameters()}
    assert all((f >= 0).all() for f in fisher.values())
    assert sum(f.sum() for f in fisher.values()) > 0
    anchor = {k: v.detach().clone() for k, v in model.named_parameters()}
    assert ewc_penalty(model, anchor, fisher, 10.0) == 0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1)
    expected = 0.5 * 10.0 * sum((f * 0.01).sum() for f in fisher.values())
    torch.testing.assert_close(ewc_penalty(model, anchor, fisher, 10.0), expected[None])  # per seed


@pytest.mark.parametrize("method", ["lifelong", "ewc", "vanilla", "upto", "full"])
def test_every_method_runs_and_reports_per_task_metrics(method, tiny_tasks):
    result = run(small_cfg(method=method, num_tasks=3), tasks=tiny_tasks)
    records = result["tasks"]
    assert [r["task"] for r in records] == [0, 1, 2]
    assert all(math.isfinite(r["neg_elbo"]) and r["epochs"] >= 1 for r in records)
    assert [r["test_size"] for r in records] == [32, 64, 96]
    if method == "lifelong":
        assert [r["discrete"] for r in records] == [1, 2, 3]
        assert 0 <= records[2]["consistency"] <= 1
    else:
        assert {r["discrete"] for r in records} == {3}
    assert result["provenance"]["wall_s"] > 0 and result["config"]["method"] == method


def test_run_is_deterministic_and_resume_equals_uninterrupted(tiny_tasks, tmp_path):
    cfg = small_cfg(method="lifelong", num_tasks=3, likelihood_weight=0.5)
    full = run(cfg, tasks=tiny_tasks)
    again = run(cfg, tasks=tiny_tasks)
    assert [r["neg_elbo"] for r in full["tasks"]] == [r["neg_elbo"] for r in again["tasks"]]
    part = run(cfg, tasks=tiny_tasks, checkpoint_dir=tmp_path, stop_after=1)  # "killed"
    assert len(part["tasks"]) == 1
    resumed = run(cfg, tasks=tiny_tasks, checkpoint_dir=tmp_path)
    strip = ("wall_s",)
    clean = [{k: v for k, v in r.items() if k not in strip} for r in resumed["tasks"]]
    assert clean == [{k: v for k, v in r.items() if k not in strip} for r in full["tasks"]]


def test_ewc_resume_restores_the_fisher(tmp_path):
    tasks = tiny_sequence()
    cfg = small_cfg(method="ewc", num_tasks=3, fisher_samples=8)
    full = run(cfg, tasks=tasks)
    run(cfg, tasks=tasks, checkpoint_dir=tmp_path, stop_after=2)
    resumed = run(cfg, tasks=tasks, checkpoint_dir=tmp_path)
    assert [r["neg_elbo"] for r in resumed["tasks"]] == [r["neg_elbo"] for r in full["tasks"]]


def test_nan_loss_stops_naming_task_epoch_step_and_keeps_the_checkpoint(tmp_path):
    tasks = tiny_sequence()
    tasks[1].train[5, 0, 0, 0] = float("nan")
    cfg = small_cfg(method="vanilla", num_tasks=3)
    with pytest.raises(DivergedError, match=r"task 1, epoch 0, step \d+.*kept: the checkpoint "
                                            "after task 0"):
        run(cfg, tasks=tasks, checkpoint_dir=tmp_path)
    state = load_checkpoint(tmp_path / "last.pt", stack_key([cfg]))
    assert len(state["records"][0]) == 1


def test_corrupt_or_foreign_checkpoint_is_a_clear_error(tiny_tasks, tmp_path):
    cfg = small_cfg(method="vanilla", num_tasks=2)
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt.*--fresh"):
        run(cfg, tasks=tiny_tasks, checkpoint_dir=tmp_path)
    save_checkpoint(tmp_path / "last.pt", {"config_key": "something else"})
    with pytest.raises(CheckpointError, match="another configuration"):
        run(cfg, tasks=tiny_tasks, checkpoint_dir=tmp_path)
