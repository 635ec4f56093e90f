"""The KD framework (KD paper, sections 2-3): semi-auxiliary passes, losses, the distill loop.

Small models written here (a linear-Gaussian chain, a classifier, a fully-visible
autoregressive model) have closed forms for what the losses must equal.
"""

from __future__ import annotations

import copy
import itertools
import math

import matplotlib
import pytest
import torch
from torch import Tensor, nn

from lgm.errors import DivergedError
from lgm.losses.distillation import (
    divergence,
    latent_loss,
    local_distillation_loss,
    surrogate_loss,
    target_free_loss,
)
from lgm.losses.kl import kl_bernoulli, kl_categorical
from lgm.models.chains import GaussianChainStudent, GaussianChainTeacher
from lgm.models.graph import FORMS, ToyDGM, dgm_form, dgm_forms, draw_forms, tex_label
from lgm.models.semi_auxiliary import (
    AncestralPass,
    Conditional,
    bernoulli_sample,
    categorical_sample,
    gaussian_sample,
    pick,
)
from lgm.training.distill import distill, distillation_loss_fn

matplotlib.use("Agg")


# ----------------------------------------------------------------------------- test models
class LinearGaussian(nn.Module):
    """z ~ N(a, s^2), y | z ~ N(b z + c, t^2): p(y) = N(b a + c, b^2 s^2 + t^2)."""

    def __init__(self, a: float, s: float, b: float, c: float, t: float) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor([a, math.log(s), b, c, math.log(t)],
                                           dtype=torch.float64))

    def values(self) -> tuple[float, float, float, float, float]:
        a, log_s, b, c, log_t = self.p.tolist()
        return a, math.exp(log_s), b, c, math.exp(log_t)

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        return {k: torch.randn(n, 1, generator=generator, dtype=torch.float64)
                for k in ("z", "y")}

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        a, log_s, b, c, log_t = self.p
        pass_ = AncestralPass()
        mu = a.expand_as(noise["z"])
        z = pass_.add(Conditional("z", "latent", "gaussian",
                                  {"mu": mu, "std": log_s.exp().expand_as(mu)},
                                  gaussian_sample(mu, log_s.exp().expand_as(mu), noise["z"])))
        mu_y = b * pick(z, "z", parents) + c
        std_y = log_t.exp().expand_as(mu_y)
        pass_.add(Conditional("y", "target", "gaussian", {"mu": mu_y, "std": std_y},
                              gaussian_sample(mu_y, std_y, noise["y"]), parents=("z",)))
        return pass_


def kl_normal(m1: float, v1: float, m2: float, v2: float) -> float:
    return 0.5 * (math.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1)


class Classifier(nn.Module):
    """No latent variable: y | x ~ Cat(softmax(W x)) (vanilla KD, eq. 2)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(3, 4)

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        return {"y": torch.rand(n, 4, generator=generator)}

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        logits = self.linear(x)
        pass_ = AncestralPass()
        pass_.add(Conditional("y", "target", "categorical", {"logits": logits},
                              categorical_sample(logits, noise["y"]), parents=("x",)))
        return pass_


class FullyVisible(nn.Module):
    """y1 ~ B(s(a)), y2 ~ B(s(b0 + b1 y1)), y3 ~ B(s(c0 + c1 y1 + c2 y2)) (eq. 3)."""

    def __init__(self, theta: list[float]) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta, dtype=torch.float64))

    def logits(self, y1: Tensor, y2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, b0, b1, c0, c1, c2 = self.theta
        return a + 0 * y1, b0 + b1 * y1, c0 + c1 * y1 + c2 * y2

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        return {k: torch.rand(n, 1, generator=generator, dtype=torch.float64)
                for k in ("y1", "y2", "y3")}

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        pass_ = AncestralPass()
        zero = torch.zeros_like(noise["y1"])
        l1, _, _ = self.logits(zero, zero)
        y1 = pass_.add(Conditional("y1", "target", "bernoulli", {"logits": l1},
                                   bernoulli_sample(l1, noise["y1"])))
        y1 = pick(y1, "y1", parents)
        _, l2, _ = self.logits(y1, zero)
        y2 = pass_.add(Conditional("y2", "target", "bernoulli", {"logits": l2},
                                   bernoulli_sample(l2, noise["y2"]), parents=("y1",)))
        y2 = pick(y2, "y2", parents)
        _, _, l3 = self.logits(y1, y2)
        pass_.add(Conditional("y3", "target", "bernoulli", {"logits": l3},
                              bernoulli_sample(l3, noise["y3"]), parents=("y1", "y2")))
        return pass_


def fully_visible_pair() -> tuple[FullyVisible, FullyVisible]:
    """Teacher and student that disagree strongly on y1 (their own draws of y1 differ often),
    so conditioning on the teacher's or the student's y<j gives different losses."""
    return (FullyVisible([1.0, -2.0, 4.0, 0.0, -3.0, 3.0]),
            FullyVisible([-1.0, -1.5, 3.0, 0.5, -2.0, 2.0]))


def exact_eq3(teacher: FullyVisible, student: FullyVisible) -> float:
    """sum_j E_{p_t(y<j)} KL(p_t(y_j | y<j) || p_s(y_j | y<j)), by enumeration."""
    total = 0.0
    for y1, y2 in itertools.product([0.0, 1.0], repeat=2):
        t1, t2, t3 = (v.item() for v in teacher.logits(torch.tensor(y1), torch.tensor(y2)))
        s1, s2, s3 = (v.item() for v in student.logits(torch.tensor(y1), torch.tensor(y2)))
        p1 = 1 / (1 + math.exp(-t1))
        p2 = 1 / (1 + math.exp(-t2))
        w1 = p1 if y1 else 1 - p1
        w2 = p2 if y2 else 1 - p2

        def kl(t: float, s: float) -> float:
            return kl_bernoulli(torch.tensor(t), torch.tensor(s)).item()
        total += w1 * w2 * kl(t3, s3)  # third conditional, weight p_t(y1, y2)
        if y2 == 0.0:                  # second conditional, weight p_t(y1), once per y1
            total += w1 * kl(t2, s2)
        if y1 == 0.0 and y2 == 0.0:    # first conditional, once
            total += kl(t1, s1)
    return total


# ----------------------------------------------------------------------------- zero loss
@pytest.mark.parametrize("method", ["ours", "local"])
def test_student_with_the_teachers_weights_has_zero_loss(method: str) -> None:
    teacher = ToyDGM()
    student = copy.deepcopy(teacher)
    g = torch.Generator().manual_seed(0)
    noise, x = teacher.sample_noise(64, g), torch.randn(64, 1, generator=g)
    out = distillation_loss_fn(method)(teacher, student, noise, x)
    value = out.loss if method == "ours" else out
    assert abs(value.item()) < 1e-6
    different = ToyDGM()
    with torch.no_grad():
        different.weights += 0.3
    out = distillation_loss_fn(method)(teacher, different, noise, x)
    assert (out.loss if method == "ours" else out).item() > 1e-2


# ----------------------------------------------------------------------------- Prop. 3.1
@pytest.mark.parametrize("seed", range(3))
def test_proposition_3_1_surrogate_bounds_the_marginal_kl(seed: int) -> None:
    """L_sd = E_eps KL(p_t(y|eps) || p_s(y|eps)) >= KL(p_t(y) || p_s(y)), in closed form on a
    linear-Gaussian chain; the Monte Carlo surrogate_loss matches the closed form."""
    g = torch.Generator().manual_seed(seed)
    draw = torch.rand(10, generator=g, dtype=torch.float64).tolist()
    teacher = LinearGaussian(draw[0] - 0.5, 0.5 + draw[1], 1 + draw[2], 0.0, 0.3 + draw[3])
    student = LinearGaussian(draw[4] - 0.5, 0.5 + draw[5], 1 + draw[6], 0.2 * draw[7],
                             0.3 + draw[8])
    at, st, bt, ct, tt = teacher.values()
    as_, ss, bs, cs, ts = student.values()
    m, k = bt * at + ct - bs * as_ - cs, bt * st - bs * ss  # y-mean gap = m + k eps
    surrogate = math.log(ts / tt) + (tt ** 2 + m ** 2 + k ** 2) / (2 * ts ** 2) - 0.5
    marginal = kl_normal(bt * at + ct, bt ** 2 * st ** 2 + tt ** 2,
                         bs * as_ + cs, bs ** 2 * ss ** 2 + ts ** 2)
    assert surrogate >= marginal - 1e-12
    noise = teacher.sample_noise(80_000, g)
    mc = target_free_loss(teacher, student, noise, lam=0.0).surrogate.item()
    assert mc == pytest.approx(surrogate, rel=0.03, abs=3e-3)


def test_proposition_3_1_gap_closes_when_paths_agree() -> None:
    """Same marginal, different paths: the marginal KL is 0 but the surrogate is not (the
    bound is loose exactly by the pathwise disagreement); equal paths close the gap."""
    teacher = LinearGaussian(0.0, 1.0, 1.0, 0.0, 0.5)
    flipped = LinearGaussian(0.0, 1.0, -1.0, 0.0, 0.5)  # p(y) identical, y-path mirrored
    noise = teacher.sample_noise(50_000, torch.Generator().manual_seed(1))
    gap = target_free_loss(teacher, flipped, noise, lam=0.0).surrogate.item()
    assert gap == pytest.approx(4 / (2 * 0.25), rel=0.03)  # (2 eps)^2 / (2 t^2), E eps^2 = 1
    same = target_free_loss(teacher, copy.deepcopy(teacher), noise, lam=0.0).surrogate.item()
    assert abs(same) < 1e-9


# ----------------------------------------------------------------------------- section 3.5
def test_no_latent_variables_gives_vanilla_kd() -> None:
    """Eq. 4 without latents is eq. 2: E_x KL(p_t(y|x) || p_s(y|x))."""
    teacher, student = Classifier(0), Classifier(1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 3, generator=g)
    noise = teacher.sample_noise(256, g)
    out = target_free_loss(teacher, student, noise, x, lam=0.1)
    expected = kl_categorical(teacher.linear(x), student.linear(x)).mean()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert out.latent.item() == 0.0


def test_fully_visible_autoregressive_model_gives_eq_3() -> None:
    """Eq. 4 of a fully-visible model, the student at the teacher's earlier targets, is the
    sequence-level loss of eq. 3 (Monte Carlo vs enumeration)."""
    teacher, student = fully_visible_pair()
    noise = teacher.sample_noise(100_000, torch.Generator().manual_seed(0))
    with torch.no_grad():
        t_pass = teacher.ancestral(noise)
        s_pass = student.ancestral(noise, parents=t_pass.samples())
        mc = surrogate_loss(t_pass, s_pass).item()
    assert mc == pytest.approx(exact_eq3(teacher, student), rel=0.02)


def test_target_free_loss_conditions_the_student_on_the_teachers_targets() -> None:
    teacher, student = fully_visible_pair()
    noise = teacher.sample_noise(100_000, torch.Generator().manual_seed(0))
    with torch.no_grad():
        value = target_free_loss(teacher, student, noise).surrogate.item()
    assert value == pytest.approx(exact_eq3(teacher, student), rel=0.02)


def test_w2_latent_measure_is_the_squared_wasserstein_distance() -> None:
    mu_t, std_t = torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.5]])
    mu_s, std_s = torch.tensor([[0.5, 1.0]]), torch.tensor([[1.0, 0.1]])
    t = Conditional("z", "latent", "gaussian", {"mu": mu_t, "std": std_t}, mu_t)
    s = Conditional("z", "latent", "gaussian", {"mu": mu_s, "std": std_s}, mu_s)
    assert divergence(t, s, "w2").item() == pytest.approx(0.25 + 0.16)
    assert divergence(t, s, "w2", "mean").item() == pytest.approx((0.25 + 0.16) / 2)
    # degenerate laws (std -> 0): W2^2 is the squared feature distance of eq. 8
    point_t = Conditional("f", "latent", "gaussian", {"mu": mu_t, "std": 0 * std_t}, mu_t)
    point_s = Conditional("f", "latent", "gaussian", {"mu": mu_s, "std": 0 * std_s}, mu_s)
    assert divergence(point_t, point_s, "w2").item() == pytest.approx(0.25)
    teacher, student = GaussianChainTeacher(3), GaussianChainStudent(3)
    noise = teacher.sample_noise(32, torch.Generator().manual_seed(0))
    t_pass, s_pass = teacher.ancestral(noise), student.ancestral(noise)
    manual = sum(((a.params["mu"] - b.params["mu"]) ** 2
                  + (a.params["std"] - b.params["std"]) ** 2).sum(1)
                 for a, b in zip(t_pass.latents, s_pass.latents, strict=True)).mean()
    assert latent_loss(t_pass, s_pass, "w2").item() == pytest.approx(manual.item(), rel=1e-5)


# ----------------------------------------------------------------------------- errors
def test_mismatched_layouts_are_refused() -> None:
    teacher, student = GaussianChainTeacher(3), GaussianChainStudent(4)
    noise = {**student.sample_noise(8), **teacher.sample_noise(8)}
    with pytest.raises(ValueError, match="different latent layouts"):
        target_free_loss(teacher, student, noise)
    with pytest.raises((KeyError, ValueError),
                       match="needs the parent 'z4'|different latent layouts"):
        local_distillation_loss(teacher, student, noise)  # (the student may ask for z4 first)


def test_wrong_noise_is_refused_before_any_compute() -> None:
    teacher = GaussianChainTeacher(3)
    noise = teacher.sample_noise(8)
    with pytest.raises(ValueError, match=r"noise\['z2'\] has shape \(8, 2\)"):
        teacher.ancestral({**noise, "z2": torch.randn(8, 2)})
    with pytest.raises(ValueError, match="noise lacks"):
        teacher.ancestral({k: v for k, v in noise.items() if k != "y"})
    with pytest.raises(ValueError, match="noise shape"):
        gaussian_sample(torch.zeros(4, 1), torch.ones(4, 1), torch.zeros(4, 2))


def test_unknown_kind_measure_method_are_refused() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Conditional("v", "latent", "poisson", {"rate": torch.ones(2)}, torch.ones(2))
    t = Conditional("v", "target", "bernoulli", {"logits": torch.zeros(2, 1)}, torch.zeros(2, 1))
    with pytest.raises(ValueError, match="measure must be one of"):
        divergence(t, t, "js")
    with pytest.raises(ValueError, match="2-Wasserstein form needs Gaussians"):
        divergence(t, t, "w2")
    with pytest.raises(ValueError, match="method must be one of"):
        distillation_loss_fn("marginal")
    teacher, student = GaussianChainTeacher(2), GaussianChainStudent(2)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        distill(teacher, student, steps=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        distill(teacher, student, steps=1, lr=-1.0)
    with pytest.raises(ValueError, match="trainable parameters"):
        distill(student, teacher, steps=1)
    for given in ({"lam": 0.5}, {"method": "local"}):  # would be ignored: refused
        with pytest.raises(ValueError, match="give loss_fn, or method and lam, not both"):
            distill(teacher, student, steps=1, loss_fn=distillation_loss_fn("ours"), **given)


# ----------------------------------------------------------------------------- the loop
@pytest.mark.parametrize("method", ["ours", "local"])
def test_one_data_free_step_lowers_the_loss(method: str) -> None:
    torch.manual_seed(0)
    teacher, student = GaussianChainTeacher(4), GaussianChainStudent(4)
    noise = teacher.sample_noise(4096, torch.Generator().manual_seed(1))
    loss_fn = distillation_loss_fn(method)

    def value() -> float:
        with torch.no_grad():
            out = loss_fn(teacher, student, noise, None)
        return float(out.loss if method == "ours" else out)

    before = value()
    history = distill(teacher, student, method=method, steps=1, batch=4096, lr=1e-3,
                      generator=torch.Generator().manual_seed(1))
    assert history.loss[0] == pytest.approx(before, rel=1e-5)  # same noise, same loss
    assert value() < before


def test_distill_records_parts_and_uses_the_hooks() -> None:
    teacher, student = ToyDGM(), ToyDGM()
    with torch.no_grad():
        student.weights += 0.2
    seen: list[int] = []

    def inputs(n: int, generator: torch.Generator | None) -> Tensor:
        seen.append(n)
        return torch.randn(n, 1, generator=generator)

    history = distill(teacher, student, steps=30, batch=64, lr=1e-2, inputs=inputs,
                      generator=torch.Generator().manual_seed(0), sync_every=7)
    arrays = history.arrays()
    assert seen == [64] * 30 and arrays["loss"].shape == (30,)
    assert arrays["loss"] == pytest.approx(arrays["surrogate"] + 0.1 * arrays["latent"],
                                           rel=1e-4)
    assert arrays["loss"][-5:].mean() < arrays["loss"][:5].mean()
    custom = distill(teacher, student, steps=3, batch=8, inputs=inputs,
                     loss_fn=lambda t, s, n, x: local_distillation_loss(t, s, n, x))
    assert all(math.isnan(v) for v in custom.surrogate)


def test_non_finite_loss_names_the_step() -> None:
    teacher, student = GaussianChainTeacher(2), GaussianChainStudent(2)
    with torch.no_grad():
        student.log_std.fill_(float("nan"))
    with pytest.raises(DivergedError, match="at step 0"):
        distill(teacher, student, steps=3, batch=8)


# ----------------------------------------------------------------------------- fig. 1 forms
def test_the_four_forms_of_fig_1() -> None:
    model = ToyDGM()
    pass_ = model.ancestral(model.sample_noise(2), x=torch.zeros(2, 1))
    original, auxiliary, semi, compact = dgm_forms(pass_)
    assert original.nodes == {"x": "input", "z1": "random", "y1": "random", "z2": "random",
                              "y2": "random"}
    assert {n for n, k in auxiliary.nodes.items() if k == "auxiliary"} == {
        "eps:z1", "eps:y1", "eps:z2", "eps:y2"}
    assert semi.nodes["z1"] == semi.nodes["z2"] == "deterministic"
    assert semi.nodes["y1"] == semi.nodes["y2"] == "random" and "eps:y1" not in semi.nodes
    assert set(compact.nodes) == {"x", "eps:z1", "eps:z2", "y1", "y2"}
    assert set(compact.parents("y2")) == {"x", "eps:z1", "eps:z2", "y1"}
    assert set(compact.parents("y1")) == {"x", "eps:z1"}
    chain = GaussianChainTeacher(3).ancestral(GaussianChainTeacher(3).sample_noise(2))
    assert dgm_form(chain, "compact").parents("y") == ["z1", "eps:z2", "eps:z3"]
    assert tex_label("eps:z12") == r"$\epsilon_{z_{12}}$"
    with pytest.raises(ValueError, match="form must be one of"):
        dgm_form(pass_, "folded")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(FORMS))
    draw_forms(axes, dgm_forms(pass_))
    assert len(axes[3].patches) == 5
    plt.close(fig)
