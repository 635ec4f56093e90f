"""Exact KLs of the toy chains (lgm.metrics.chain_kl; KD paper, sections 3.2 and 4.1): against
closed forms, brute force, and the paper's density-ratio estimate on samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lgm.metrics.chain_kl import (
    chain_conditional,
    gauss_legendre,
    law_kl,
    layer_errors,
    propagate,
    uniform_grid,
    uniform_root,
)
from lgm.metrics.density_ratio import density_ratio_kl
from lgm.models.chains import (
    BinomialChainTeacher,
    GaussianChainStudent,
    GaussianChainTeacher,
    StackedChainStudents,
)


def linear(a: float, s: float):
    """The linear-Gaussian conditional z' | z ~ N(a z, s^2), the same at every layer."""
    return lambda j, z: {"mu": a * z, "std": torch.full_like(z, s)}


def linear_variance(a: float, s: float, layers: int, root_var: float) -> float:
    """Var z_{L+1} of the linear-Gaussian chain: a^(2L) Var z_1 + s^2 sum_k a^(2k)."""
    return a ** (2 * layers) * root_var + s ** 2 * sum(a ** (2 * k) for k in range(layers))


def normal_root() -> tuple[torch.Tensor, torch.Tensor]:
    nodes, weights = gauss_legendre(-10.0, 10.0, 200)
    return nodes, weights * torch.exp(-0.5 * nodes ** 2) / math.sqrt(2 * math.pi)


def test_gauss_legendre_and_grid_integrate_exactly() -> None:
    nodes, weights = gauss_legendre(0.0, 2.0, panels=3, order=4)
    assert float(weights.sum()) == pytest.approx(2.0, abs=1e-14)
    assert float((weights * nodes ** 7).sum()) == pytest.approx(2 ** 8 / 8, rel=1e-13)
    _, probs = uniform_root(-1.0, 1.0)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-14)
    grid, w = uniform_grid(-1.0, 1.0, 0.5)
    assert grid.tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0] and w.tolist() == [0.25, .5, .5, .5, 0.25]


def test_gaussian_chain_kl_equals_the_linear_gaussian_closed_form() -> None:
    """Gaussian root, linear-Gaussian layers: every law is Gaussian, KL in closed form."""
    a_t, s_t, a_s, s_s = 0.9, 0.3, 0.85, 0.32
    grid = uniform_grid(-8.0, 8.0, s_t / 8)
    teacher = propagate("gaussian", linear(a_t, s_t), [1] * 5, normal_root(), grid)
    student = propagate("gaussian", linear(a_s, s_s), [1] * 5, normal_root(), grid)
    for j in range(5):
        vt = linear_variance(a_t, s_t, j + 1, 1.0)
        vs = linear_variance(a_s, s_s, j + 1, 1.0)
        closed = 0.5 * (math.log(vs / vt) + vt / vs - 1)
        assert float(law_kl(teacher[j][0], student[j][0], grid[1])) == pytest.approx(
            closed, rel=1e-9, abs=1e-14)


def test_uniform_root_density_matches_its_closed_form() -> None:
    """z_1 ~ U[-1, 1] (the paper's root), linear layers: z_{L+1} = a^L U + N(0, v), whose
    density is (Phi((y + c)/sqrt v) - Phi((y - c)/sqrt v)) / (2c), c = a^L."""
    a, s, layers = 0.95, 0.1, 4
    grid = uniform_grid(-3.0, 3.0, s / 8)
    laws = propagate("gaussian", linear(a, s), [1] * layers, uniform_root(-1.0, 1.0), grid)
    c, v = a ** layers, linear_variance(a, s, layers, 0.0)
    y = grid[0]
    phi = torch.distributions.Normal(0.0, 1.0).cdf
    closed = (phi((y + c) / math.sqrt(v)) - phi((y - c) / math.sqrt(v))) / (2 * c)
    assert float((laws[-1][0] - closed).abs().max()) < 1e-9
    assert float((laws[-1][0] * grid[1]).sum()) == pytest.approx(1.0, abs=1e-12)


def test_layer_errors_of_linear_chains_have_a_closed_form_and_bound_the_output_kl() -> None:
    """e_j = log(r/s) + (s^2 + (a - b)^2 E z_j^2) / (2 r^2) - 1/2; sum_j e_j >= output KL."""
    a, s, b, r = 0.9, 0.3, 0.8, 0.35
    grid = uniform_grid(-8.0, 8.0, s / 8)
    root = normal_root()
    t_laws = propagate("gaussian", linear(a, s), [1] * 4, root, grid)
    s_laws = propagate("gaussian", linear(b, r), [1] * 4, root, grid)
    errors = layer_errors("gaussian", linear(a, s), linear(b, r), [1] * 4, root, t_laws, grid)
    for j in range(4):
        second_moment = linear_variance(a, s, j, 1.0)  # E z_{j+1}^2 of the teacher
        closed = math.log(r / s) + (s ** 2 + (a - b) ** 2 * second_moment) / (2 * r ** 2) - 0.5
        assert float(errors[0, j]) == pytest.approx(closed, rel=1e-9)
    output = float(law_kl(t_laws[-1][0], s_laws[-1][0], grid[1]))
    assert 0 < output < float(errors[0].sum())


def test_binomial_chain_pmf_equals_brute_force() -> None:
    """n = 6 trials: the propagated pmfs equal products of explicit transition matrices, and
    the U[0, 1] root is integrated exactly (the pmf is a polynomial in z_1)."""
    n, layers = 6, 3
    teacher = BinomialChainTeacher(layers, total_count=n).double()
    laws = propagate("binomial", chain_conditional(teacher), [1] * layers,
                     uniform_root(0.0, 1.0, 4), None, n)
    k = torch.arange(n + 1, dtype=torch.float64)

    def pmf(p: float) -> torch.Tensor:
        return torch.tensor([math.comb(n, int(m)) * p ** m * (1 - p) ** (n - m) for m in k],
                            dtype=torch.float64)

    u, w = np.polynomial.legendre.leggauss(20)  # exact for a degree-6 polynomial in z_1
    first = sum(0.5 * wi * pmf((ui + 1) / 2 / n) for ui, wi in zip(u, w, strict=True))
    assert torch.allclose(laws[0][0], first, rtol=1e-12, atol=1e-15)
    rates = (k / n).clamp(1e-9, 1 - 1e-9)
    matrix = torch.stack([pmf(float(p)) for p in rates])
    assert torch.allclose(laws[2][0], first @ matrix @ matrix, rtol=1e-10, atol=1e-15)
    assert float(laws[2][0].sum()) == pytest.approx(1.0, abs=1e-12)


def test_stacked_students_propagate_as_separate_chains() -> None:
    """A stack of chains (deepest first) gives each chain the laws it gives alone."""
    stack = StackedChainStudents("gaussian", [0, 1], layers=3, hidden=4, zero_init=False,
                                 dtype=torch.float64)
    grid = uniform_grid(-4.0, 4.0, 0.02)
    root = uniform_root(-1.0, 1.0)
    both = propagate("gaussian", stack.conditional, [2, 2, 1], root, grid)
    alone = StackedChainStudents("gaussian", [1], layers=3, hidden=4, zero_init=False,
                                 dtype=torch.float64)
    second = propagate("gaussian", alone.conditional, [1, 1], root, grid)
    assert torch.allclose(both[1][1], second[1][0], rtol=1e-12, atol=1e-14)


def test_exact_kl_agrees_with_the_density_ratio_estimate_on_samples() -> None:
    """A perturbed residual student of the section 3.2 chain (L = 3): the paper's estimator,
    on 20000 samples of each, is within two of its standard errors of the exact value."""
    torch.manual_seed(0)
    teacher = GaussianChainTeacher(3).double()
    student = GaussianChainStudent(3, hidden=8, std0=0.12, zero_init=False).double()
    grid = uniform_grid(-4.0, 4.0, 0.1 / 8)
    root = uniform_root(-1.0, 1.0)
    t_law = propagate("gaussian", chain_conditional(teacher), [1] * 3, root, grid)[-1][0]
    s_law = propagate("gaussian", chain_conditional(student), [1] * 3, root, grid)[-1][0]
    exact = float(law_kl(t_law, s_law, grid[1]))
    g = torch.Generator().manual_seed(1)
    y_t = teacher.sample_output(20_000, g)
    y_s = student.sample_output(20_000, g)
    est = density_ratio_kl(y_t, y_s, degree=4, generator=torch.Generator().manual_seed(2))
    assert 0.02 < exact < 0.5
    assert abs(est.value - exact) < 2 * est.stderr


def test_propagate_rejects_bad_input() -> None:
    root = uniform_root(-1.0, 1.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        propagate("poisson", linear(1.0, 1.0), [1], root)
    with pytest.raises(ValueError, match="needs a grid"):
        propagate("gaussian", linear(1.0, 1.0), [1], root)
    with pytest.raises(ValueError, match="non-increasing"):
        propagate("gaussian", linear(1.0, 1.0), [1, 2], root, uniform_grid(-1.0, 1.0, 0.1))
    with pytest.raises(ValueError, match="total_count"):
        propagate("binomial", linear(1.0, 1.0), [1], root)
