"""Analytic identities of the paper's losses (appendix 7.0.2, eq. 6-9, 14, 17)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, Normal, kl_divergence

from lgm.losses import (
    bernoulli_kl,
    consistency_kl,
    kl_categorical,
    kl_categorical_uniform,
    kl_gaussian,
    kl_gaussian_std_normal,
    pad_teacher,
)
from lgm.losses.kl import (
    corollary1_reparameterisation,
    cross_entropy_categorical,
    entropy_categorical,
    log_normal,
)

g = torch.Generator().manual_seed(0)


@pytest.fixture(autouse=True)
def _float64():
    """Identities are checked in double precision."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g)


def test_gaussian_kl_matches_torch_distributions():
    mu_q, lv_q, mu_p, lv_p = randn(5, 4), randn(5, 4), randn(5, 4), randn(5, 4)
    ref = kl_divergence(Normal(mu_q, (0.5 * lv_q).exp()), Normal(mu_p, (0.5 * lv_p).exp()))
    torch.testing.assert_close(kl_gaussian(mu_q, lv_q, mu_p, lv_p), ref.sum(-1))
    zeros = torch.zeros(5, 4)
    torch.testing.assert_close(kl_gaussian_std_normal(mu_q, lv_q),
                               kl_gaussian(mu_q, lv_q, zeros, zeros))


def test_categorical_kl_matches_torch_distributions():
    a, b = randn(6, 5), randn(6, 5)
    ref = kl_divergence(Categorical(logits=a), Categorical(logits=b))
    torch.testing.assert_close(kl_categorical(a, b), ref)
    uniform = torch.zeros(6, 5)
    torch.testing.assert_close(kl_categorical_uniform(a), kl_categorical(a, uniform))


def test_kl_nonnegative_and_zero_for_equal_arguments():
    a, lv = randn(50, 7), randn(50, 7)
    assert (kl_categorical(a, randn(50, 7)) >= 0).all()
    assert (kl_gaussian(a, lv, randn(50, 7), randn(50, 7)) >= 0).all()
    torch.testing.assert_close(kl_categorical(a, a + 3.0), torch.zeros(50))  # shift invariant
    torch.testing.assert_close(kl_gaussian(a, lv, a, lv), torch.zeros(50))


def test_corollary1_consistency_is_a_reparameterised_prior_kl():
    """Eq. 7-8: KL(N(mu_S, s_S^2) || N(0, s_E^2)) = KL(N(mu*, s*^2) || N(0, I))."""
    mu_s, lv_s, lv_e = randn(8, 14), randn(8, 14), randn(8, 14)
    direct = kl_gaussian(mu_s, lv_s, torch.zeros_like(mu_s), lv_e)
    mu_star, lv_star = corollary1_reparameterisation(mu_s, lv_s, lv_e)
    torch.testing.assert_close(direct, kl_gaussian_std_normal(mu_star, lv_star))
    # the second line of eq. 7, written out term by term
    var_s, var_e = lv_s.exp(), lv_e.exp()
    eq7 = 0.5 * ((var_s + mu_s**2) / var_e - 1 + lv_e - lv_s).sum(-1)
    torch.testing.assert_close(direct, eq7)
    # "our posterior regulariser becomes the prior if sigma_E^2 -> 1"
    torch.testing.assert_close(kl_gaussian(mu_s, lv_s, torch.zeros_like(mu_s),
                                           torch.zeros_like(lv_e)),
                               kl_gaussian_std_normal(mu_s, lv_s))


def test_corollary2_categorical_kl_is_cross_entropy_minus_entropy():
    """Eq. 9: KL(q_S || q_E) = -H(p_S) + H(p_S, p_E), with eq. 9's normalising constants."""
    p_s, p_e = randn(9, 6), randn(9, 6)
    kl = kl_categorical(p_s, p_e)
    torch.testing.assert_close(kl, -entropy_categorical(p_s) + cross_entropy_categorical(p_s, p_e))
    c_s, c_e = p_s.exp().sum(-1, keepdim=True), p_e.exp().sum(-1, keepdim=True)
    eq9 = (p_s.exp() / c_s * torch.log(p_s.exp() * c_e / (c_s * p_e.exp()))).sum(-1)
    torch.testing.assert_close(kl, eq9)


def test_pad_teacher_is_a_distribution_and_identity_without_new_codes():
    t = randn(4, 3)
    torch.testing.assert_close(pad_teacher(t, 3), torch.log_softmax(t, -1))
    padded = pad_teacher(t, 5, pad_mass=1e-3)
    torch.testing.assert_close(padded.exp().sum(-1), torch.ones(4))
    torch.testing.assert_close(padded[:, 3:].exp(), torch.full((4, 2), 5e-4))
    with pytest.raises(ValueError, match="fewer than its teacher"):
        pad_teacher(t, 2)


def test_consistency_kl_rule_for_a_grown_student():
    teacher = randn(10, 3)
    same = torch.cat([torch.log_softmax(teacher, -1), torch.full((10, 1), -60.0)], -1)
    # a student that copies the teacher and ignores its new code: (almost) no penalty
    assert consistency_kl(same, teacher).abs().max() < 1e-3
    # putting mass on the new code is penalised, finitely, in both directions
    on_new = torch.cat([teacher, torch.full((10, 1), 2.0)], -1)
    for direction in ("reverse", "forward"):
        kl = consistency_kl(on_new, teacher, direction=direction)
        assert torch.isfinite(kl).all() and (kl > 0.1).all()
    # as pad_mass -> 0 the reverse KL grows like -q_new * log(pad_mass): zero padding's limit
    small, tiny = (consistency_kl(on_new, teacher, pad_mass=m) for m in (1e-4, 1e-8))
    q_new = torch.softmax(on_new, -1)[:, -1]
    torch.testing.assert_close(tiny - small, q_new * math.log(1e4), rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="direction"):
        consistency_kl(on_new, teacher, direction="sideways")


def test_consistency_kl_equals_plain_kl_when_sizes_match():
    s, t = randn(7, 4), randn(7, 4)
    torch.testing.assert_close(consistency_kl(s, t), kl_categorical(s, t))
    torch.testing.assert_close(consistency_kl(s, t, direction="forward"), kl_categorical(t, s))


def test_bernoulli_kl_zero_for_equal_and_matches_closed_form():
    a, b = randn(3, 1, 4, 4), randn(3, 1, 4, 4)
    torch.testing.assert_close(bernoulli_kl(a, a), torch.zeros(3))
    p, q = torch.sigmoid(a), torch.sigmoid(b)
    ref = (p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))).flatten(1).sum(-1)
    torch.testing.assert_close(bernoulli_kl(a, b), ref)


def test_log_normal_matches_torch():
    z, mu, lv = randn(5, 3), randn(5, 3), randn(5, 3)
    ref = Normal(mu, (0.5 * lv).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(log_normal(z, mu, lv), ref)


def test_gradcheck_of_the_kl_terms():
    a = randn(3, 4).requires_grad_()
    b = randn(3, 4).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: consistency_kl(x, y[:, :3]), (a, b))
    assert torch.autograd.gradcheck(lambda m, v: kl_gaussian_std_normal(m, v), (a, b))

