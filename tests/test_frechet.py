"""Tests for the Frechet metric (paper eq. 20, appendix 7.10) and its feature classifier."""

from __future__ import annotations

import math

import pytest
import torch

from lgm.metrics import classifier as clf
from lgm.metrics.frechet import frechet_distance, gaussian_frechet


def _gaussian_samples(n: int, mean: torch.Tensor, cov: torch.Tensor, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, mean.shape[0], generator=gen, dtype=torch.float64)
    return mean + z @ torch.linalg.cholesky(cov).T


def _random_cov(dim: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
    return a @ a.T / dim + 0.1 * torch.eye(dim, dtype=torch.float64)


# ---------------------------------------------------------------- Frechet distance


def test_identical_sets_give_zero() -> None:
    x = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert abs(frechet_distance(x, x.clone())) < 1e-8


def test_sample_estimate_matches_closed_form() -> None:
    dim = 4
    mu_a = torch.tensor([0.0, 1.0, -1.0, 2.0], dtype=torch.float64)
    mu_b = torch.tensor([1.0, 0.5, 0.0, 2.0], dtype=torch.float64)
    cov_a, cov_b = _random_cov(dim, 1), _random_cov(dim, 2)
    expected = gaussian_frechet(mu_a, cov_a, mu_b, cov_b)
    xa = _gaussian_samples(200_000, mu_a, cov_a, seed=3)
    xb = _gaussian_samples(200_000, mu_b, cov_b, seed=4)
    got = frechet_distance(xa, xb)
    assert got == pytest.approx(expected, rel=0.02)


def test_closed_form_diagonal() -> None:
    mu_a = torch.tensor([0.0, 2.0, -1.0])
    mu_b = torch.tensor([1.0, 0.0, -1.5])
    va = torch.tensor([1.0, 4.0, 0.25])
    vb = torch.tensor([9.0, 1.0, 0.0])
    expected = ((mu_a - mu_b) ** 2).sum() + ((va.sqrt() - vb.sqrt()) ** 2).sum()
    got = gaussian_frechet(mu_a, torch.diag(va), mu_b, torch.diag(vb))
    assert got == pytest.approx(float(expected), abs=1e-9)


def test_closed_form_general_matches_scipy_sqrtm() -> None:
    scipy_linalg = pytest.importorskip("scipy.linalg")
    cov_a, cov_b = _random_cov(6, 5), _random_cov(6, 6)
    mu_a, mu_b = torch.zeros(6, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    root = scipy_linalg.sqrtm((cov_a @ cov_b).numpy()).real
    expected = 6.0 + float(cov_a.trace() + cov_b.trace()) - 2.0 * float(root.trace())
    assert gaussian_frechet(mu_a, cov_a, mu_b, cov_b) == pytest.approx(expected, rel=1e-9)


def test_symmetric_and_order_invariant() -> None:
    gen = torch.Generator().manual_seed(7)
    xa = torch.randn(300, 8, generator=gen)
    xb = 0.5 * torch.randn(400, 8, generator=gen) + 0.3
    d_ab = frechet_distance(xa, xb)
    assert d_ab > 0
    assert frechet_distance(xb, xa) == pytest.approx(d_ab, rel=1e-9)
    perm = torch.randperm(300, generator=gen)
    assert frechet_distance(xa[perm], xb) == pytest.approx(d_ab, rel=1e-9)


def test_rank_deficient_features_are_finite() -> None:
    # ReLU features are often constant (zero) in some dims: covariance is singular.
    x = torch.randn(50, 10, generator=torch.Generator().manual_seed(8)).clamp_min(0)
    x[:, :4] = 0.0
    d = frechet_distance(x, x + 0.1)
    assert math.isfinite(d) and d == pytest.approx(10 * 0.01, abs=1e-6)


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (torch.zeros(10), torch.zeros(10, 3), "2-D"),
        (torch.zeros(10, 3), torch.zeros(10, 4), "feature dimensions differ"),
        (torch.zeros(1, 3), torch.zeros(10, 3), "at least 2 samples"),
        (torch.zeros(10, 3), torch.full((10, 3), float("nan")), "NaN or infinite"),
        (torch.zeros(10, 3), torch.full((10, 3), float("inf")), "NaN or infinite"),
    ],
)
def test_input_validation(a: torch.Tensor, b: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        frechet_distance(a, b)


# ---------------------------------------------------------------- classifier


def _halves_dataset(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: bright top half; class 1: bright bottom half; plus uniform noise."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = 0.3 * torch.rand(n, 1, 28, 28, generator=gen)
    images[labels == 0, :, :14] += 0.6
    images[labels == 1, :, 14:] += 0.6
    return images.clamp(0, 1), labels


def test_feature_shapes() -> None:
    for shape in [(1, 28, 28), (3, 32, 32)]:
        model = clf.FeatureClassifier(*shape, num_classes=10)
        x = torch.rand(5, *shape)
        assert model.features(x).shape == (5, clf.FEATURE_DIM)
        assert model(x).shape == (5, 10)
    with pytest.raises(ValueError):
        clf.FeatureClassifier(1, 64, 64, num_classes=10)


def test_classifier_learns_and_is_deterministic() -> None:
    images, labels = _halves_dataset(200, seed=0)
    test_images, test_labels = _halves_dataset(100, seed=1)
    model = clf.train_classifier(images, labels, epochs=3, batch_size=32, seed=0, device="cpu")
    assert not model.training
    assert clf.FrechetScorer(model).accuracy(test_images, test_labels) > 0.9
    again = clf.train_classifier(images, labels, epochs=3, batch_size=32, seed=0, device="cpu")
    for p, q in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(p, q)


def test_scorer_features_and_score() -> None:
    images, labels = _halves_dataset(60, seed=2)
    model = clf.train_classifier(images, labels, epochs=1, seed=0, device="cpu")
    feats = clf.extract_features(model, images, batch_size=7)
    assert feats.shape == (60, clf.FEATURE_DIM) and feats.dtype == torch.float32
    assert torch.allclose(feats, clf.extract_features(model, images), atol=1e-6)
    scorer = clf.FrechetScorer(model)
    # Identical sets: 0 up to the trace square root's rounding. With 60 samples of 512
    # features the covariance has a null space of about 450 dimensions whose eigenvalues are
    # float64 noise of size eps * trace; their square roots add up to at most
    # D * sqrt(eps * trace) in each of the two square-root terms (about 8e-6 here; measured
    # 0.9e-6 to 1.0e-6 at 1 or 2 threads).
    trace = float(feats.double().var(dim=0).sum())
    bound = 2 * clf.FEATURE_DIM * math.sqrt(torch.finfo(torch.float64).eps * trace)
    assert abs(scorer.score(images, images)) < bound
    assert scorer.score(images[labels == 0], images[labels == 1]) > 0


def test_cache_hit_skips_training(tmp_path, monkeypatch) -> None:
    images, labels = _halves_dataset(40, seed=3)
    first = clf.load_or_train_classifier("toy", images, labels, cache_dir=tmp_path,
                                         epochs=1, device="cpu")
    files = list(tmp_path.glob("classifier-toy-*.pt"))
    assert len(files) == 1

    def boom(*args, **kwargs):
        raise AssertionError("train_classifier must not run on a cache hit")

    monkeypatch.setattr(clf, "train_classifier", boom)
    second = clf.load_or_train_classifier("toy", images, labels, cache_dir=tmp_path,
                                          epochs=1, device="cpu")
    assert not second.training
    for p, q in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(p, q)
    # A different setting (epochs) hashes to a different file, so it must train.
    with pytest.raises(AssertionError, match="must not run"):
        clf.load_or_train_classifier("toy", images, labels, cache_dir=tmp_path,
                                     epochs=2, device="cpu")


@pytest.mark.parametrize("content", [b"not a torch file", "mismatch"])
def test_corrupt_cache_is_retrained(tmp_path, content) -> None:
    images, labels = _halves_dataset(40, seed=4)
    clf.load_or_train_classifier("toy", images, labels, cache_dir=tmp_path, epochs=1,
                                 device="cpu")
    (path,) = tmp_path.glob("classifier-toy-*.pt")
    if content == "mismatch":
        torch.save({"unexpected.weight": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    with pytest.warns(RuntimeWarning, match="retraining"):
        model = clf.load_or_train_classifier("toy", images, labels, cache_dir=tmp_path,
                                             epochs=1, device="cpu")
    assert not model.training
    state = torch.load(path, weights_only=True)  # overwritten with valid weights
    model.load_state_dict(state)
