"""Stacked seeds: a stack of S seeds is, seed for seed, S separate one-seed models and runs."""

from __future__ import annotations

import argparse

import pytest
import torch
from torch import nn

from lgm.cli import parse_seeds
from lgm.experiments import make_config
from lgm.experiments.lifelong import check_stack, run, run_stack
from lgm.models.networks import build_decoder, build_encoder
from lgm.models.stacked import StackedBatchNorm
from lgm.models.vae import DiscreteContinuousVAE, frozen_copy
from lgm.training.loop import EpochBuffers, TrainStep, make_optimiser, task_generators
from lgm.training.objective import StudentObjective, Teacher
from tests.conftest import tiny_sequence


@pytest.mark.parametrize("arch", ["dense", "conv"])
def test_a_stack_holds_the_one_seed_models(arch, float64_one_thread):
    """Same initialisation, outputs and gradients as the lone models of each seed (float64:
    equal up to summation order)."""
    stack = DiscreteContinuousVAE(arch, (1, 28, 28), 3, 4, seeds=[5, 9])
    lone = [DiscreteContinuousVAE(arch, (1, 28, 28), 3, 4, seeds=[s]) for s in (5, 9)]
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 6, 1, 28, 28, generator=g)
    noise = (torch.randn(2, 6, 3, generator=g), torch.rand(2, 6, 4, generator=g))
    out = stack(x, noise=noise)
    out.x_logits.sum().backward()
    for i, model in enumerate(lone):
        one = model(x[i:i + 1], noise=(noise[0][i:i + 1], noise[1][i:i + 1]))
        torch.testing.assert_close(one.x_logits[0], out.x_logits[i], rtol=1e-9, atol=1e-9)
        one.x_logits.sum().backward()
        for (name, p), q in zip(stack.named_parameters(), model.parameters(), strict=True):
            torch.testing.assert_close(q.grad[0], p.grad[i], rtol=1e-9, atol=1e-9, msg=name)


def test_select_gives_one_seed_with_unstacked_inputs():
    stack = DiscreteContinuousVAE("dense", (1, 28, 28), 3, 4, seeds=[1, 2, 3]).eval()
    x = torch.rand(2, 1, 28, 28)
    one = stack.select(2)
    assert one.seeds == [3] and one.encode(x).mu.shape == (2, 3)
    torch.testing.assert_close(one.encode(x).mu, stack.encode(x.expand(3, 2, 1, 28, 28)).mu[2])
    with pytest.raises(ValueError, match="S=3"):
        stack.encode(x)


def test_batchnorm_statistics_are_per_seed():
    bn = StackedBatchNorm(3, 4, conv=False)
    x = torch.randn(3, 16, 4) * torch.tensor([1.0, 2.0, 3.0])[:, None, None]
    y = bn(x)
    for s in range(3):
        ref = nn.BatchNorm1d(4)
        torch.testing.assert_close(ref(x[s]), y[s])
        torch.testing.assert_close(ref.running_var, bn.running_var[s])


def test_grouped_convolutions_keep_seeds_apart():
    enc = build_encoder("conv", (1, 28, 28), 5, seeds=(0, 1))
    dec = build_decoder("conv", 5, (1, 28, 28), seeds=(0, 1))
    x = torch.rand(2, 3, 1, 28, 28, requires_grad=True)
    h = enc(x)
    h[1].sum().backward(retain_graph=True)  # seed 1's output depends on seed 1's input only
    assert x.grad[0].abs().sum() == 0 and x.grad[1].abs().sum() > 0
    assert dec(h).shape == (2, 3, 1, 28, 28)


def test_a_frozen_seed_keeps_its_weights_while_the_others_train():
    cfg = make_config("smoke", batch_size=8)
    student = DiscreteContinuousVAE("dense", (1, 28, 28), 3, 2, seeds=[0, 1])
    data = torch.rand(2, 16, 1, 28, 28).round()
    buffers = EpochBuffers(student, 1, 2, 8, 0, torch.device("cpu"))
    buffers.refill(task_generators([0, 1], 0, torch.device("cpu")), 16)
    step = TrainStep(student, StudentObjective(cfg.weights, None), make_optimiser(student, 1e-2),
                     cfg.schedule, data, buffers)
    best = [t.detach().clone() for t in step.state]
    step.freeze(0, best)
    before = [t.detach().clone() for t in step.state]
    step()
    step()
    for t, b in zip(step.state, before, strict=True):
        assert torch.equal(t[0], b[0])
    assert any(not torch.equal(t[1], b[1]) for t, b in zip(step.state, before, strict=True))


def small(method: str, seed: int, **kw):
    base = dict(batch_size=16, max_epochs=2, patience=5, min_epochs=1, info_gain_weight=0.01,
                num_tasks=2, fisher_samples=16)
    return make_config("smoke", method=method, seed=seed, **{**base, **kw})


@pytest.fixture
def float64_one_thread():
    """Exact arithmetic for equivalence claims: float64 on one thread, so that no rounding
    difference of the machine's instruction set or thread count can flip a comparison."""
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)


def as_float64(seq):
    for task in seq.tasks:
        task.train, task.val, task.test = task.train.double(), task.val.double(), task.test.double()
    return seq


@pytest.mark.parametrize("method", ["lifelong", "ewc"])
def test_a_stacked_run_equals_separate_runs(method, float64_one_thread):
    """Seed for seed the same training and metrics: in float64 a stack of S seeds computes what
    S lone runs compute, up to summation order (relative 1e-9). Two tasks (so the second has a
    teacher, replay, consistency or EWC), two epochs each."""
    seeds = [0, 3]
    cfgs = [small(method, s) for s in seeds]
    stacked = run_stack(cfgs, tasks=[as_float64(tiny_sequence(2)) for _ in seeds])
    for cfg, result in zip(cfgs, stacked, strict=True):
        alone = run(cfg, tasks=as_float64(tiny_sequence(2)))
        assert result["config"] == alone["config"]
        for a, b in zip(result["tasks"], alone["tasks"], strict=True):
            assert a["epochs"] == b["epochs"] and a["discrete"] == b["discrete"]
            assert a["training"]["steps"] == b["training"]["steps"]
            assert a["neg_elbo"] == pytest.approx(b["neg_elbo"], rel=1e-9)
            assert a["training"]["best_val"] == pytest.approx(b["training"]["best_val"],
                                                              rel=1e-9)
            for term, value in a["training"]["terms"].items():
                assert value == pytest.approx(b["training"]["terms"][term], rel=1e-9, abs=1e-12)


def diverging_validation(seed: int, n: int = 32):
    """A one-task sequence whose validation images are the *inverse* of its training bands:
    the better the model fits the bands, the worse its validation -ELBO."""
    seq = as_float64(tiny_sequence(1, n_train=n, n_val=16, seed=seed))
    seq.tasks[0].val = 1.0 - seq.tasks[0].train[:16]
    return seq


def test_seeds_stop_early_each_on_their_own(float64_one_thread):
    """Each seed stops after `patience` epochs without improvement, at its own epoch.

    By construction: seeds 0 and 1 validate on held-out bands (their -ELBO keeps falling for
    all 6 epochs), seeds 2 and 3 on inverted bands (it rises from the first epoch on), so the
    latter stop at epoch 1 + patience while the others run to max_epochs."""
    cfgs = [small("vanilla", s, max_epochs=6, patience=2, num_tasks=1, lr=3e-3)
            for s in (0, 1, 2, 3)]
    tasks = [as_float64(tiny_sequence(1, n_train=32, n_val=16, seed=0)),
             as_float64(tiny_sequence(1, n_train=32, n_val=16, seed=1)),
             diverging_validation(2), diverging_validation(3)]
    results = run_stack(cfgs, tasks=tasks)
    fits = [r["tasks"][0]["training"] for r in results]
    assert [f["epochs"] for f in fits] == [6, 6, 3, 3], fits
    assert [f["best_epoch"] for f in fits] == [6, 6, 1, 1], fits
    for f in fits:
        assert f["steps"] == 2 * f["epochs"]  # 32 images, batch 16


def test_stack_configs_must_differ_in_the_seed_only():
    with pytest.raises(ValueError, match="only in the seed"):
        check_stack([small("vanilla", 0), small("vanilla", 1, lr=0.1)])
    with pytest.raises(ValueError, match="at most once"):
        check_stack([small("vanilla", 0), small("vanilla", 0)])


def test_teacher_replay_uses_each_seeds_teacher():
    cfg = make_config("smoke", batch_size=8)
    teacher = frozen_copy(DiscreteContinuousVAE("dense", (1, 28, 28), 3, 1, seeds=[0, 1]))
    objective = StudentObjective(cfg, Teacher(teacher, tasks_seen=1))
    z, codes = torch.randn(2, 4, 3), torch.zeros(2, 4, dtype=torch.long)
    x_hat = teacher.decode_codes(z, codes)
    assert x_hat.shape == (2, 4, 1, 28, 28) and not torch.allclose(x_hat[0], x_hat[1])
    assert objective.replay_rows(8) == 4


def test_seed_lists_on_the_command_line():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,7-8") == [0, 2, 7, 8]
    for bad in ("a", "3-1x", "1,1", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_seeds(bad)


def test_a_relative_threshold_stops_a_slowly_improving_seed(float64_one_thread):
    """min_delta: only a decrease of more than min_delta x |best| counts as an improvement.
    With 0.5 nothing after the first epoch counts, so training stops at 1 + patience; with 0
    the same seed improves every epoch (see the test above) and runs to max_epochs. Every
    epoch's validation -ELBO is kept."""
    tasks = [as_float64(tiny_sequence(1, n_train=32, n_val=16, seed=0))]
    strict = small("vanilla", 0, max_epochs=6, patience=2, num_tasks=1, lr=3e-3, min_delta=0.5)
    fit = run_stack([strict], tasks=tasks)[0]["tasks"][0]["training"]
    assert (fit["epochs"], fit["best_epoch"]) == (3, 1)
    assert len(fit["val_curve"]) == 3 and fit["val_curve"][0] == fit["best_val"]
    assert all(v < fit["val_curve"][0] for v in fit["val_curve"][1:])  # it did improve a bit
