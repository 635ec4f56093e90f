"""The VRNN (sizes, ELBO, semi-auxiliary form), its distillation losses and the kd_vrnn
experiment (config, metrics, a smoke run through the cache)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from lgm.data.strokes import StrokeBatch, StrokeData
from lgm.errors import DivergedError
from lgm.experiments.kd_vrnn import (
    KDVRNNConfig,
    feature_mmd,
    kd_vrnn_config,
    kl_to_teacher,
    path_distance,
    run_kd_vrnn,
    vrnn_distillation_loss,
)
from lgm.losses.distillation import (
    latent_loss,
    local_distillation_loss,
    surrogate_loss,
    target_free_loss,
)
from lgm.models.semi_auxiliary import SemiAuxiliaryDGM
from lgm.models.vrnn import (
    STUDENT_PARAMS,
    STUDENT_SIZE,
    TEACHER_PARAMS,
    TEACHER_SIZE,
    VRNN,
    VRNNSize,
    check_sequences,
    evaluate_neg_elbo,
    sequence_of,
    stack_steps,
    targets_of,
)
from lgm.training.distill import distill
from lgm.training.model_fits import train_elbo

T = 6

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tiny models: one thread is fastest


def tiny(hidden: int = 8, rnn: int = 12, seed: int = 0) -> VRNN:
    torch.manual_seed(seed)
    return VRNN(VRNNSize((hidden,), rnn), length=T)


def noise(model: VRNN, n: int = 5, seed: int = 1) -> dict[str, torch.Tensor]:
    return model.sample_noise(n, torch.Generator().manual_seed(seed))


def strokes(n: int = 8, steps: int = T, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Zig-zag sequences with a pen lift every third step, and a full mask."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(steps, dtype=torch.float32)
    x = torch.zeros(n, steps, 3)
    x[..., 0] = (t % 3 == 2).float()
    x[..., 1] = 1.0 + 0.1 * torch.randn(n, steps, generator=g)
    x[..., 2] = torch.where(t % 2 == 0, 1.0, -1.0) + 0.1 * torch.randn(n, steps, generator=g)
    return x, torch.ones(n, steps)


# ----------------------------------------------------------------------------- the model
def test_parameter_counts_match_the_notes():
    """The notes: teacher ~14.4M, student ~2.4M; exact counts of this architecture."""
    assert VRNN(TEACHER_SIZE).num_parameters() == TEACHER_PARAMS == 14_412_227
    assert VRNN(STUDENT_SIZE).num_parameters() == STUDENT_PARAMS == 2_416_643


def test_ancestral_pass_layout_and_noise_sharing():
    model = tiny()
    assert isinstance(model, SemiAuxiliaryDGM)
    eps = noise(model)
    assert eps["z"].shape == (5, T, 16) and eps["pen"].shape == (5, T, 1)
    p = model.ancestral(eps)
    assert p.names()[:3] == ["z1", "pen1", "offset1"] and len(p.conditionals) == 3 * T
    assert [c.role for c in p.conditionals[:3]] == ["latent", "target", "target"]
    assert [c.kind for c in p.conditionals[:3]] == ["gaussian", "bernoulli", "gaussian"]
    assert p["z2"].parents == ("eps:z2", "z1", "pen1", "offset1")
    assert torch.equal(p["offset3"].params["std"], torch.ones(5, 2))
    seq = sequence_of(p)
    assert seq.shape == (5, T, 3) and set(seq[..., 0].unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(sequence_of(model.ancestral(eps)), seq)  # same noise, same x
    torch.testing.assert_close(model.generate(5, noise=eps), seq)
    assert not torch.allclose(model.generate(5, noise=noise(model, seed=2)), seq)


def test_feeding_a_pass_its_own_targets_changes_nothing():
    model = tiny()
    eps = noise(model)
    free = model.ancestral(eps)
    forced = model.ancestral(eps, parents=targets_of(free))
    for a, b in zip(free.conditionals, forced.conditionals, strict=True):
        for k in a.params:
            torch.testing.assert_close(a.params[k], b.params[k])


def test_noise_and_input_errors():
    model = tiny()
    eps = noise(model)
    with pytest.raises(ValueError, match="keys 'z' and 'pen'"):
        model.ancestral({"z": eps["z"]})
    with pytest.raises(ValueError, match=r"\[N, T, 16\]"):
        model.ancestral({"z": eps["z"][..., :3], "pen": eps["pen"]})
    with pytest.raises(ValueError, match=r"'pen' must be \[N, T, 1\]"):
        model.ancestral({"z": eps["z"], "pen": eps["pen"][:, :2]})
    with pytest.raises(ValueError, match="x must be None"):
        model.ancestral(eps, torch.zeros(5, T, 3))
    x, mask = strokes()
    with pytest.raises(ValueError, match="mask must be"):
        check_sequences(x, mask[:, :2])
    with pytest.raises(ValueError, match="0 or 1"):
        check_sequences(x + 0.5, mask)
    with pytest.raises(ValueError, match="rnn and z_dim"):
        VRNNSize((4,), 0)


def test_neg_elbo_ignores_padding_and_is_a_sum_of_parts():
    model = tiny()
    x, mask = strokes(n=4)
    mask[:, 4:] = 0
    garbage = x.clone()
    garbage[:, 4:, 1:] = 50.0
    a = model.neg_elbo(x, mask, torch.Generator().manual_seed(0))
    b = model.neg_elbo(garbage, mask, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a.recon, b.recon)
    torch.testing.assert_close(a.kl, b.kl)
    assert a.steps.tolist() == [4.0] * 4 and bool((a.kl >= 0).all())
    # per step at least the Gaussian's normaliser log(2 pi) (the pen bit's BCE is >= 0)
    assert float(a.recon.detach().min()) >= 4 * math.log(2 * math.pi)
    torch.testing.assert_close(a.per_step, (a.recon + a.kl).sum() / 16)


def test_train_elbo_lowers_the_bound_and_refit_touches_only_q():
    x, mask = strokes(n=16)
    model = tiny()
    g = torch.Generator().manual_seed(0)
    before = evaluate_neg_elbo(model, x, mask, generator=g)
    train_elbo(model, x, mask, steps=40, batch=16, lr=1e-2, generator=g)
    after = evaluate_neg_elbo(model, x, mask, generator=g)
    assert after < before - 0.5
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    train_elbo(model, x, mask, steps=3, batch=16, lr=1e-2, generator=g,
               parameters=model.encoder_parameters())
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, frozen[k])}
    assert changed and all(k.startswith("encoder") for k in changed)


def test_train_elbo_names_the_step_of_a_nan():
    x, mask = strokes()
    x[0, 0, 1] = float("nan")
    with pytest.raises(DivergedError, match="at step 0"):
        train_elbo(tiny(), x, mask, steps=2, batch=8)
    with pytest.raises(ValueError, match="steps and batch"):
        train_elbo(tiny(), x, torch.ones(8, T), steps=0)


# ----------------------------------------------------------------------------- distillation
def test_distillation_losses_are_the_core_losses_per_step():
    teacher, student = tiny(16, 20, seed=0), tiny(8, 12, seed=1)
    eps = noise(teacher)
    ours = vrnn_distillation_loss("ours", lam=1e-3)(teacher, student, eps)
    core = target_free_loss(teacher, student, eps, lam=1e-3)
    torch.testing.assert_close(ours.loss, core.loss / T)
    torch.testing.assert_close(ours.latent, core.latent / T)
    local = vrnn_distillation_loss("local")(teacher, student, eps)
    torch.testing.assert_close(local, local_distillation_loss(teacher, student, eps) / T)
    assert float(ours.surrogate) > 0 and float(local.detach()) > 0
    with pytest.raises(ValueError, match="'ours' or 'local'"):
        vrnn_distillation_loss("global")


def test_a_copy_of_the_teacher_has_zero_loss():
    teacher = tiny()
    student = copy.deepcopy(teacher)
    eps = noise(teacher)
    with torch.no_grad():
        ours = vrnn_distillation_loss("ours")(teacher, student, eps).loss
        local = vrnn_distillation_loss("local")(teacher, student, eps)
    assert float(ours) == pytest.approx(0.0, abs=1e-6)
    assert float(local) == pytest.approx(0.0, abs=1e-6)
    assert kl_to_teacher(teacher, student, eps) == pytest.approx(0.0, abs=1e-6)


def test_ours_gradient_reaches_prior_and_decoder():
    teacher, student = tiny(16, 20, seed=0), tiny(8, 12, seed=1)
    vrnn_distillation_loss("ours")(teacher, student, noise(teacher)).loss.backward()
    for part in (student.prior, student.decoder, student.cell, student.phi_z):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    assert all(p.grad is None for p in student.encoder.parameters())  # q: data only
    assert all(p.grad is None for p in teacher.parameters())


def test_data_free_distillation_brings_the_student_closer():
    teacher, student = tiny(16, 20, seed=0), tiny(8, 12, seed=1)
    eps = noise(teacher, n=64, seed=9)
    before = kl_to_teacher(teacher, student, eps)
    distill(teacher, student, steps=30, batch=32, lr=1e-2, loss_fn=vrnn_distillation_loss("ours"),
            generator=torch.Generator().manual_seed(0))
    assert kl_to_teacher(teacher, student, eps) < 0.7 * before


# ----------------------------------------------------------------------------- experiment
def test_feature_mmd_small_for_the_same_set_large_for_a_shifted_one():
    x, mask = strokes(n=32)
    real = StrokeBatch(x, mask, mask.sum(1).long())
    same = feature_mmd(real, x.clone(), mask)
    shifted = x.clone()
    shifted[..., 1] += 2.0
    assert same == pytest.approx(0.0, abs=1e-6)
    assert feature_mmd(real, shifted, mask) > 0.5


def test_config_validation():
    cfg = kd_vrnn_config("smoke")
    assert cfg.preset == "smoke" and cfg.teacher_hidden == (16,)
    paper = KDVRNNConfig()
    assert (paper.size("teacher"), paper.size("student")) == (TEACHER_SIZE, STUDENT_SIZE)
    assert (paper.batch, paper.lr, paper.weight_decay, paper.lam) == (32, 1e-4, 1e-4, 1e-3)
    bad = [({"teacher_hidden": ()}, "teacher_hidden"), ({"batch": 0}, "batch"),
           ({"student_hidden": (8, 0)}, "student_hidden"),
           ({"lr": -1.0}, "lr"), ({"lam": float("nan")}, "lam"), ({"max_len": 1}, "max_len"),
           ({"source": "svg"}, "source"), ({"device": "tpu"}, "device"),
           ({"methods": ("kd",)}, "methods"), ({"seed": 1.5}, "seed"),
           ({"data_root": 3}, "data_root"), ({"seeds": (0, 0)}, "seeds")]
    for override, message in bad:
        with pytest.raises(ValueError, match=message):
            kd_vrnn_config("smoke", **override)
    with pytest.raises(ValueError, match="unknown parameter"):
        kd_vrnn_config("smoke", epochs=3)
    with pytest.raises(ValueError, match="unknown preset"):
        kd_vrnn_config("huge")


def test_smoke_run_through_the_cache(tmp_path):
    cfg = kd_vrnn_config("smoke", data_root=str(tmp_path))  # packaged Hershey fonts
    result = run_kd_vrnn(cfg)
    assert result["cache"] == "computed" and "Hershey" in result["data"]
    metrics = result["metrics"]
    assert set(metrics) == {"teacher", "ours", "local", "scratch", "data"}
    for name in ("teacher", "ours", "local", "scratch"):
        for key in ("nll", "nll_joint", "mmd", "kl_teacher", "path_teacher"):
            assert np.isfinite(metrics[name][key]), (name, key)
    assert metrics["teacher"]["kl_teacher"] == metrics["teacher"]["path_teacher"] == 0.0
    assert metrics["ours"]["params"] < metrics["teacher"]["params"]
    arrays = result["arrays"]
    assert arrays["samples_ours"].shape == (cfg.n_figure, cfg.max_len, 3)
    assert arrays["loss_ours"].shape == (cfg.student_steps,)
    again = run_kd_vrnn(cfg)
    assert again["cache"] == "hit" and again["metrics"] == metrics


def test_stack_steps_keeps_every_sum():
    teacher, student = tiny(16, 20, seed=0), tiny(8, 12, seed=1)
    eps = noise(teacher)
    t_pass = teacher.ancestral(eps)
    s_pass = student.ancestral(eps, parents=targets_of(t_pass))
    stacked = stack_steps(t_pass)
    assert stacked.names() == ["z", "pen", "offset"]
    assert stacked["z"].params["mu"].shape == (5, T, 16) and stacked["pen"].sample.shape == (
        5, T, 1)
    torch.testing.assert_close(surrogate_loss(stacked, stack_steps(s_pass)),
                               surrogate_loss(t_pass, s_pass))
    torch.testing.assert_close(latent_loss(stacked, stack_steps(s_pass)),
                               latent_loss(t_pass, s_pass))


def test_path_distance_in_data_units():
    x, mask = strokes(n=2, steps=4)
    batch = StrokeBatch(x, mask, mask.sum(1).long())
    data = StrokeData(batch, batch, np.zeros(2), np.array([2.0, 1.0]), "test")
    a = torch.zeros(2, 4, 3)
    b = a.clone()
    b[..., 1] = 1.0  # one standardised unit = 2 data units per step along x
    assert path_distance(data, a, a) == 0.0
    assert path_distance(data, a, b) == pytest.approx(2 * (1 + 2 + 3 + 4) / 4)
