"""The toy error-accumulation chains, the density-ratio KL estimator and the kd_toy experiment
(KD paper, sections 3.2 and 4.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lgm.experiments.kd_toy import (
    ToyConfig,
    growth_slope,
    kl_table,
    run_kd_toy,
    toy_config,
)
from lgm.metrics.density_ratio import density_ratio_kl, polynomial_features
from lgm.models.chains import (
    BinomialChainStudent,
    BinomialChainTeacher,
    GaussianChainStudent,
    GaussianChainTeacher,
    binomial_inverse_cdf,
    power_mean,
)


# ----------------------------------------------------------------------------- the chains
def test_gaussian_teacher_samples_the_law_of_section_3_2() -> None:
    """L = 1: z1 ~ U[-1, 1], y ~ N(sign(z)|z|^1.1, 0.01): E y = 0, E y^2 = 1/3.2 + 0.01."""
    teacher = GaussianChainTeacher(1)
    y = teacher.sample_output(200_000, torch.Generator().manual_seed(0))
    assert y.mean().item() == pytest.approx(0.0, abs=5e-3)
    assert y.pow(2).mean().item() == pytest.approx(1 / 3.2 + 0.01, rel=0.01)
    pass_ = GaussianChainTeacher(3).ancestral(GaussianChainTeacher(3).sample_noise(5))
    assert pass_.names() == ["z2", "z3", "y"] and [c.role for c in pass_.conditionals] == [
        "latent", "latent", "target"]
    z2 = pass_["z2"]
    assert torch.allclose(pass_["z3"].params["mu"], power_mean(z2.sample))
    assert torch.all(pass_["z3"].params["std"] == 0.1)


def test_binomial_teacher_samples_the_law_of_section_4_1() -> None:
    """z1 ~ U[0, 1], z2 ~ B(1000, z1/1000): E = 1/2 at every depth (critical branching),
    Var z2 = E[z1 (1 - z1/1000)] + Var z1."""
    g = torch.Generator().manual_seed(0)
    y1 = BinomialChainTeacher(1).sample_output(100_000, g)
    assert y1.mean().item() == pytest.approx(0.5, abs=0.01)
    assert y1.var().item() == pytest.approx(0.5 - 1 / 3000 + 1 / 12, rel=0.02)
    y4 = BinomialChainTeacher(4).sample_output(30_000, g)
    assert y4.mean().item() == pytest.approx(0.5, abs=0.03)
    assert (y4 == y4.round()).all() and (y4 == 0).float().mean() > 0.6  # most chains died


def test_binomial_inverse_cdf_is_the_binomial_law_and_shares_noise() -> None:
    g = torch.Generator().manual_seed(0)
    p, u = torch.full((100_000, 1), 0.004), torch.rand(100_000, 1, generator=g)
    k = binomial_inverse_cdf(1000, p, u)
    assert k.mean().item() == pytest.approx(4.0, rel=0.02)
    assert k.var().item() == pytest.approx(4.0 * 0.996, rel=0.03)
    law = torch.distributions.Binomial(1000, probs=torch.tensor(0.004))
    for j in range(4):  # P(k <= j) matches the CDF
        cdf = law.log_prob(torch.arange(j + 1.0)).exp().sum().item()
        assert (k <= j).float().mean().item() == pytest.approx(cdf, abs=5e-3)
    same = binomial_inverse_cdf(1000, p * (1 + 1e-6), u)
    assert (same == k).float().mean() > 0.999  # near-equal rates, shared u: same draws
    with pytest.raises(ValueError, match="noise shape"):
        binomial_inverse_cdf(1000, p, u[:10])


def test_residual_students_start_at_their_skip_connection() -> None:
    torch.manual_seed(0)
    teacher, student = GaussianChainTeacher(3), GaussianChainStudent(3, std0=0.2)
    noise = teacher.sample_noise(64, torch.Generator().manual_seed(1))
    s_pass = student.ancestral(noise)
    for c in s_pass.conditionals:  # mean = z + 0 at init, std = std0
        parent = s_pass[c.parents[0]].sample if c.parents[0] != "z1" else 2 * noise["z1"] - 1
        assert torch.allclose(c.params["mu"], parent)
        assert torch.allclose(c.params["std"], torch.full_like(parent, 0.2))
    b_teacher = BinomialChainTeacher(3)
    b_noise = b_teacher.sample_noise(256, torch.Generator().manual_seed(2))
    exact = BinomialChainStudent(3, zero_init=True)  # residual 0: the teacher itself
    t_pass, e_pass = b_teacher.ancestral(b_noise), exact.ancestral(b_noise)
    assert torch.equal(t_pass["y"].sample, e_pass["y"].sample)
    perturbed = BinomialChainStudent(3)  # default: a random residual, rates off by exp(r)
    p_pass = perturbed.ancestral(b_noise)
    assert not torch.allclose(t_pass["z2"].params["logits"], p_pass["z2"].params["logits"])


def test_local_pass_evaluates_the_student_at_the_teachers_samples() -> None:
    teacher, student = GaussianChainTeacher(3), GaussianChainStudent(3)
    noise = teacher.sample_noise(16, torch.Generator().manual_seed(0))
    t_pass = teacher.ancestral(noise)
    local = student.ancestral(noise, parents=t_pass.samples())
    assert torch.allclose(local["z3"].params["mu"], t_pass["z2"].sample)
    assert torch.allclose(local["y"].params["mu"], t_pass["z3"].sample)


def test_chain_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="layers must be an int >= 1"):
        GaussianChainTeacher(0)
    with pytest.raises(ValueError, match="no input variable"):
        GaussianChainTeacher(1).ancestral(GaussianChainTeacher(1).sample_noise(2),
                                          x=torch.zeros(2, 1))


# ----------------------------------------------------------------------------- density ratio
@pytest.mark.parametrize(("shift", "scale", "dim"),
                         [(0.0, 1.0, 1), (0.5, 1.0, 1), (0.0, 1.5, 1), (1.0, 1.0, 2),
                          (0.0, 1.0, 2)])
def test_density_ratio_kl_on_gaussians(shift: float, scale: float, dim: int) -> None:
    """KL(N(0, I) || N(m e1, s^2 I)) = d log s + (d + m^2) / (2 s^2) - d/2."""
    g = torch.Generator().manual_seed(int(10 * shift + 7 * scale + dim))
    p = torch.randn(4000, dim, generator=g)
    q = scale * torch.randn(4000, dim, generator=g)
    q[:, 0] += shift
    true = dim * math.log(scale) + (dim + shift ** 2) / (2 * scale ** 2) - dim / 2
    est = density_ratio_kl(p, q, degree=2, generator=g)
    assert abs(est.value - true) < 4 * est.stderr + 2e-3
    assert 0 < est.stderr < 0.05 and len(est.folds) == 5


def test_density_ratio_stderr_matches_the_spread_of_estimates() -> None:
    values, errors = [], []
    for seed in range(8):
        g = torch.Generator().manual_seed(seed)
        p, q = torch.randn(2000, generator=g), 0.4 + torch.randn(2000, generator=g)
        est = density_ratio_kl(p, q, degree=2, generator=g)
        values.append(est.value)
        errors.append(est.stderr)
    assert np.mean(values) == pytest.approx(0.08, abs=0.015)
    assert 0.4 < np.std(values, ddof=1) / np.mean(errors) < 2.5


def test_density_ratio_input_errors() -> None:
    with pytest.raises(ValueError, match="differ in dimension"):
        density_ratio_kl(torch.randn(100, 2), torch.randn(100, 1))
    with pytest.raises(ValueError, match="need at least 25 samples"):
        density_ratio_kl(torch.randn(10), torch.randn(100))
    with pytest.raises(ValueError, match="NaN or inf"):
        density_ratio_kl(torch.full((100,), float("nan")), torch.randn(100))
    with pytest.raises(ValueError, match="shape"):
        density_ratio_kl(torch.randn(100, 2, 2), torch.randn(100, 2, 2))
    assert polynomial_features(torch.ones(3, 2), 2).shape == (3, 5)  # x, y, x2, xy, y2


# ----------------------------------------------------------------------------- experiment
@pytest.mark.parametrize("chain", ["gaussian", "binomial"])
def test_smoke_run_of_the_experiment_is_cached(chain: str) -> None:
    cfg = toy_config("smoke", chain, layers=(1, 2), steps=5, batch=64, kl_samples=200)
    result = run_kd_toy(cfg)
    assert len(result["runs"]) == 4
    run = result["runs"][0]
    assert run["cache"] == "computed" and "synthetic" in run["data"]
    assert math.isfinite(run["kl"]) and run["kl_stderr"] > 0
    assert run["arrays"]["loss"].shape == (5,) and run["arrays"]["y_teacher"].shape == (200,)
    table = kl_table(result)
    assert set(table) == {"ours", "local"} and table["ours"]["kl"].shape == (2,)
    # L = 1: both methods distil the single conditional y | z1 alike
    assert table["ours"]["kl"][0] == pytest.approx(table["local"]["kl"][0])
    again = run_kd_toy(cfg)
    assert all(r["cache"] == "hit" for r in again["runs"])
    assert again["runs"][1]["kl"] == result["runs"][1]["kl"]


def test_growth_slope_recovers_a_line() -> None:
    layers = np.arange(1, 11)
    slope, se = growth_slope(layers, 0.01 * layers, np.full(10, 1e-3))
    assert slope == pytest.approx(0.01) and se < 1e-3
    with pytest.raises(ValueError, match="two depths"):
        growth_slope(layers[:1], layers[:1] * 0.1, np.ones(1))


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="unknown chain 'poisson'; known: gaussian, binomial"):
        ToyConfig(chain="poisson")
    with pytest.raises(ValueError, match="unknown preset"):
        toy_config("huge")
    with pytest.raises(ValueError, match="unknown parameter"):
        toy_config("smoke", depth=3)
    with pytest.raises(ValueError, match="layers must be ints >= 1"):
        ToyConfig(layers=(0, 2))
    with pytest.raises(ValueError, match="methods must be among"):
        ToyConfig(methods=("marginal",))
    with pytest.raises(ValueError, match="lr must be a float > 0"):
        ToyConfig(lr=-0.1)
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        ToyConfig(steps=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kl_samples"):
        ToyConfig(kl_samples=10)
    assert toy_config("paper").layers == tuple(range(1, 21))
    assert toy_config("quick", "binomial").to_dict()["layers"] == [1, 5, 10, 20]
