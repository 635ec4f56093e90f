"""Two-sample metrics (lgm.metrics.two_sample) on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lgm.metrics.classifier import FeatureClassifier
from lgm.metrics.two_sample import (
    ClassifierFeatures,
    InceptionFeatures,
    compare,
    emd,
    frechet,
    mmd,
    one_nn_accuracy,
    two_sample_metrics,
)


def gaussian(n: int, d: int, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) + shift


def test_identical_sets_are_at_distance_zero_and_1nn_finds_the_twins() -> None:
    x = gaussian(60, 3)
    m = two_sample_metrics(x, x.clone())
    assert m["frechet"] == pytest.approx(0.0, abs=1e-7)
    assert m["fid"] == pytest.approx(0.0, abs=1e-4)
    assert m["emd"] == pytest.approx(0.0, abs=1e-6)
    assert m["mmd"] == pytest.approx(0.0, abs=1e-6)
    assert m["1nn"] == 0.0  # every point's nearest neighbour is its copy in the other set


def test_frechet_of_shifted_gaussians_is_the_squared_shift_and_fid_its_root() -> None:
    a, b = gaussian(4000, 2, seed=1), gaussian(4000, 2, seed=2)
    b = b + torch.tensor([3.0, 4.0])
    assert frechet(a, b) == pytest.approx(25.0, rel=0.03)
    small = two_sample_metrics(a[:50], b[:50])
    assert small["fid"] == pytest.approx(math.sqrt(small["frechet"]))


def test_emd_matches_the_one_dimensional_closed_form() -> None:
    a, b = gaussian(50, 1, seed=3), gaussian(50, 1, 0.7, seed=4) * 2
    expected = (a.flatten().sort().values - b.flatten().sort().values).abs().mean()
    assert emd(a, b) == pytest.approx(float(expected), rel=1e-7)


def test_emd_of_a_translated_set_is_the_translation() -> None:
    a = gaussian(40, 3, seed=5)
    shift = torch.tensor([1.0, -2.0, 2.0])  # norm 3
    assert emd(a, a + shift) == pytest.approx(3.0, rel=1e-7)


def test_mmd_by_hand_on_two_points() -> None:
    real = torch.tensor([[0.0], [2.0]])
    fake = torch.tensor([[1.0], [3.0]])
    scale = 2 * np.mean([0, 4, 4, 0])  # bandwidth: mean squared real-real distance, x2
    k = lambda d2: np.exp(-d2 / scale)  # noqa: E731
    k_rr = np.mean([k(0), k(4), k(4), k(0)])
    k_ff = k_rr
    k_rf = np.mean([k(1), k(9), k(1), k(1)])
    assert mmd(real, fake) == pytest.approx(math.sqrt(k_rr + k_ff - 2 * k_rf), rel=1e-9)


def test_mmd_grows_with_the_shift() -> None:
    a = gaussian(200, 4, seed=6)
    values = [mmd(a, gaussian(200, 4, s, seed=7)) for s in (0.0, 0.5, 2.0)]
    assert values[0] < values[1] < values[2]


def test_one_nn_is_one_for_separated_sets_and_about_half_for_equal_laws() -> None:
    a = gaussian(100, 2, seed=8)
    assert one_nn_accuracy(a, gaussian(100, 2, 50.0, seed=9)) == 1.0
    same = one_nn_accuracy(gaussian(600, 2, seed=10), gaussian(600, 2, seed=11))
    assert 0.43 < same < 0.57


def test_bad_features_are_rejected_before_computing() -> None:
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet(gaussian(5, 2), gaussian(5, 3))
    with pytest.raises(ValueError, match="NaN"):
        emd(torch.full((4, 2), float("nan")), gaussian(4, 2))
    with pytest.raises(ValueError, match=r"\[N >= 2, D\]"):
        one_nn_accuracy(torch.zeros(3), gaussian(4, 2))


def test_classifier_features_pool_larger_images_to_the_classifier_input() -> None:
    torch.manual_seed(0)
    clf = FeatureClassifier(3, 32, 32, 4).eval()
    feats = ClassifierFeatures(clf, "test classifier")
    big = torch.rand(5, 3, 64, 64)
    pooled = torch.nn.functional.avg_pool2d(big, 2)
    assert torch.allclose(feats(big), feats(pooled))
    assert feats(big).shape == (5, 512)
    m = compare(feats, torch.rand(6, 3, 32, 32), torch.rand(6, 3, 32, 32))
    assert set(m) == {"fid", "frechet", "emd", "mmd", "1nn"}
    with pytest.raises(ValueError, match="cannot pool"):
        feats(torch.rand(2, 3, 48, 48))


def test_inception_needs_a_local_weights_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="ClassifierFeatures"):
        InceptionFeatures(tmp_path / "missing.pth")
    bogus = tmp_path / "bogus.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, bogus)
    with pytest.raises(ValueError, match="not a state dict of torchvision's inception_v3"):
        InceptionFeatures(bogus)
