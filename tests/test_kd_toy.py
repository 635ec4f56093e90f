"""The toy error-accumulation chains, the density-ratio KL estimator and the kd_toy experiment
(KD paper, sections 3.2 and 4.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lgm.experiments.kd_toy import (
    EXPERIMENTS,
    METHODS,
    PRESETS,
    ToyConfig,
    run_toy,
    toy_config,
)
from lgm.experiments.kd_toy_engine import Layout, _teacher_path, chain_losses
from lgm.experiments.spec import ConfigError
from lgm.metrics.density_ratio import density_ratio_kl, polynomial_features
from lgm.models.chains import (
    BinomialChainStudent,
    BinomialChainTeacher,
    GaussianChainStudent,
    GaussianChainTeacher,
    StackedChainStudents,
    binomial_inverse_cdf,
    power_mean,
)
from lgm.report.kd_toy import verdict_lines
from lgm.report.kd_toy_verdicts import claims, growth_slope, reading_verdict, reproduced, summary


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


def test_binomial_inverse_cdf_with_wide_windows_and_near_certain_zeros() -> None:
    """Rates across the range (windows of every width) and tiny rates (the zero shortcut)."""
    g = torch.Generator().manual_seed(3)
    p = torch.tensor([0.5, 0.9, 0.03, 1e-9, 0.999]).repeat_interleave(20_000)[:, None]
    u = torch.rand(p.shape, generator=g, dtype=torch.float64)
    k = binomial_inverse_cdf(1000, p.double(), u)
    for rate, draws in zip([0.5, 0.9, 0.03, 1e-9, 0.999], k.reshape(5, -1), strict=True):
        law = torch.distributions.Binomial(1000, probs=torch.tensor(rate, dtype=torch.float64))
        mean, var = 1000 * rate, 1000 * rate * (1 - rate)
        assert draws.mean().item() == pytest.approx(mean, abs=4 * math.sqrt(var / 20_000) + 1e-9)
        median = int(law.mean)
        cdf = law.log_prob(torch.arange(median + 1.0, dtype=torch.float64)).exp().sum().item()
        assert (draws <= median).double().mean().item() == pytest.approx(cdf, abs=0.015)
    single = binomial_inverse_cdf(1000, torch.tensor([[0.5]]), torch.tensor([[0.5]]))
    assert single.item() == 500.0  # the median of B(1000, 1/2)


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
def test_stacked_students_equal_to_the_teacher_have_zero_loss() -> None:
    """Student = teacher (a linear teacher, mu(z) = z; zero residual, std 0.1): eq. 7 and the
    local loss are exactly 0."""
    teacher = GaussianChainTeacher(3, power=1.0, std=0.1).double()
    g = torch.Generator().manual_seed(0)
    roots, draws = torch.rand(1, 32, generator=g).double(), torch.randn(1, 3, 32, generator=g)
    path, t_params = _teacher_path(teacher, roots, draws.double())
    for method in METHODS:
        layout = Layout(method, [1, 3], [0])
        student = StackedChainStudents("gaussian", layout.init(16), 3, 16, std0=0.1,
                                       dtype=torch.float64)
        losses = chain_losses("gaussian", student, layout, path, t_params, draws.double(),
                              layout.weights(0.1).double())
        assert float(losses.detach().abs().max()) < 1e-12  # log(std_s / std_t) rounds to ~1e-16


def test_layout_reads_local_depths_off_the_deepest_chain() -> None:
    ours, local = Layout("ours", [1, 2, 5], [3, 4]), Layout("local", [1, 2, 5], [3, 4])
    assert ours.chains[0] == (5, 0) and len(ours.chains) == 6 and ours.active == [6, 4, 2, 2, 2]
    assert local.chains == [(5, 0), (5, 1)] and local.chain(2, 1) == 1
    assert torch.equal(ours.weights(0.1)[ours.chain(2, 0)],
                       torch.tensor([0.1, 1.0, 0, 0, 0], dtype=torch.float64))
    assert local.weights(0.1)[0].tolist() == [1.0] * 5
    values = torch.arange(10.0).reshape(2, 5)  # [chain, conditional]
    assert local.grid(values).tolist() == [[0.0, 1.0, 4.0], [5.0, 6.0, 9.0]]


@pytest.mark.parametrize("chain", ["gaussian", "binomial"])
def test_smoke_run_of_the_experiment_is_cached(chain: str) -> None:
    cfg = toy_config("smoke", chain, layers=(1, 2), steps=5, batch=32, kl_samples=200)
    result = run_toy(cfg)
    assert result["cache"] == "computed" and "synthetic" in result["data"]
    for m in METHODS:
        exact = np.asarray(result[f"kl_exact_{m}"])
        assert exact.shape == (1, 2) and np.all(exact >= 0)
        assert np.all(np.asarray(result[f"kl_se_{m}"]) > 0)
        errors = result["arrays"][f"layer_error_{m}"]
        assert errors.shape == (1, 2, 2) and np.isnan(errors[0, 0, 1])
        # chain rule: sum of per-layer errors = joint KL >= output KL (data processing)
        assert np.all(np.asarray(result[f"kl_joint_{m}"]) >= exact * (1 - 1e-9))
    # L = 1: one conditional, the same initial weights and noise: the methods coincide (up to
    # float32 rounding: the two stacks hold different numbers of chains)
    assert result["kl_exact_ours"][0][0] == pytest.approx(result["kl_exact_local"][0][0],
                                                          rel=1e-3)
    again = run_toy(cfg)
    assert again["cache"] == "hit" and again["kl_exact_ours"] == result["kl_exact_ours"]
    table = summary(result)
    assert set(table) == set(METHODS) and table["ours"]["mean"].shape == (2,)


def test_growth_slope_recovers_a_line() -> None:
    layers = np.arange(1, 11)
    slope, se = growth_slope(layers, 0.01 * layers, np.full(10, 1e-3))
    assert slope == pytest.approx(0.01) and se < 1e-3
    with pytest.raises(ValueError, match="two depths"):
        growth_slope(layers[:1], layers[:1] * 0.1, np.ones(1))


def fake_result(local: list[list[float]], ours: list[list[float]]) -> dict:
    return {"config": {"methods": ["ours", "local"], "layers": [1, 5, 10, 20]},
            "kl_exact_ours": ours, "kl_exact_local": local}


def test_claims_follow_the_rules() -> None:
    grows = [[0.01, 0.05, 0.1, 0.2], [0.012, 0.052, 0.098, 0.21]]
    flat = [[0.01, 0.011, 0.01, 0.011], [0.011, 0.01, 0.011, 0.01]]
    c = claims(fake_result(grows, flat))
    assert c["local_grows"] and c["ours_below"] and c["slower"] and reproduced(c)
    lines = verdict_lines(fake_result(grows, flat), "Fig. 2", "literal")
    assert [": holds." in line for line in lines] == [True, True, True]
    c = claims(fake_result(flat, grows))
    assert not c["local_grows"] and not c["ours_below"] and not reproduced(c)
    assert reading_verdict(fake_result(grows, flat)) == "holds"
    assert reading_verdict(fake_result(flat, grows)) == "does not hold"
    assert reading_verdict(fake_result(grows[:1], flat[:1])) == "cannot be tested"  # one seed


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="lr: Input should be a finite number"):
        toy_config("quick", lr=math.inf)
    with pytest.raises(ConfigError, match="lam"):
        toy_config("quick", lam=math.inf)
    with pytest.raises(ConfigError, match="unknown preset"):
        toy_config("huge")
    with pytest.raises(ConfigError, match="unknown parameter"):
        toy_config("smoke", depth=3)
    with pytest.raises(ConfigError, match="layers"):
        toy_config("smoke", layers=(2, 2))
    with pytest.raises(ConfigError, match="methods"):
        toy_config("smoke", methods=("marginal",))
    with pytest.raises(ConfigError, match="steps"):
        toy_config("smoke", steps=2.5)
    with pytest.raises(ConfigError, match="steps"):
        toy_config("smoke", steps=True)
    with pytest.raises(ConfigError, match="kl_samples"):
        toy_config("smoke", kl_samples=10)
    with pytest.raises(ValueError, match="unknown chain"):
        toy_config("smoke", "poisson")
    assert toy_config("quick", device="cuda:0").device == "cuda:0"
    assert toy_config("paper").layers == tuple(range(1, 21))
    assert toy_config("paper", "binomial").seeds == (0, 1, 2, 3, 4)
    assert toy_config("quick", "binomial", seeds=[3]).seeds == (3,)
    assert [e.name for e in EXPERIMENTS] == ["kd_toy_gaussian", "kd_toy_binomial"]
    assert all(e.config is ToyConfig and e.presets is PRESETS for e in EXPERIMENTS)
