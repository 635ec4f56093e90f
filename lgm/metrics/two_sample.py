"""Two-sample metrics of sample quality (KD paper, section 4.2, Tables 1 and 2).

All four compare a set of real (or teacher) images with a set of generated ones through
features ``phi(x)`` of a pluggable :class:`FeatureExtractor`, as the authors' code does
(1024 vs 1024 images, 2048-d Inception-v3 pool features):

- **Fréchet distance** between Gaussians fitted to the two feature sets
  (:func:`lgm.metrics.frechet.frechet_distance`) and its square root: the paper's "FID"
  column is the *square root* (``fid`` here), ``frechet`` is the distance itself.
- **EMD**: exact optimal transport (POT ``ot.emd2``) between the two empirical measures with
  uniform weights and Euclidean feature distances: min over couplings of mean ||a - b||.
- **MMD**: biased estimate with a Gaussian kernel k(a, b) = exp(-||a - b||^2 / (2 s)), the
  bandwidth s the mean squared real-real distance (diagonal included),
  sqrt(mean K_rr + mean K_gg - 2 mean K_rg).
- **1-NN accuracy**: leave-one-out 1-nearest-neighbour classification of real vs generated
  over the pooled samples (Lopez-Paz & Oquab 2017); 0.5 when the sets are indistinguishable,
  1 when separable. With *paired* sets (a student sample drawn with its teacher's noise) it
  falls below 0.5 when each sample's nearest neighbour is its twin (Table 1's 1NN-T).

Extractors: :class:`InceptionFeatures` (torchvision Inception-v3 from a *local* weights file;
input resized to 299 and scaled to [-1, 1]) or :class:`ClassifierFeatures` (the penultimate
layer of a :class:`~lgm.metrics.classifier.FeatureClassifier` trained on the dataset).
Results name the extractor used (``FeatureExtractor.name``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lgm.metrics.classifier import FeatureClassifier, extract_features
from lgm.metrics.frechet import frechet_distance

METRICS = ("fid", "frechet", "emd", "mmd", "1nn")


def _check_pair(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """float64 CPU copies; ValueError unless both are finite [N, D] with the same D."""
    for name, x in (("real", real), ("fake", fake)):
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] < 2:
            raise ValueError(f"{name} features must be a tensor [N >= 2, D], got "
                             f"{tuple(getattr(x, 'shape', ()))}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} features contain NaN or inf")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    return real.detach().to("cpu", torch.float64), fake.detach().to("cpu", torch.float64)


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """||a_i - b_j||^2 for all pairs, clamped at 0 against round-off."""
    return (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2 * a @ b.T).clamp_min_(0.0)


def frechet(real: Tensor, fake: Tensor) -> float:
    """Fréchet distance between Gaussian fits (not square-rooted)."""
    real, fake = _check_pair(real, fake)
    return frechet_distance(real, fake)


def emd(real: Tensor, fake: Tensor) -> float:
    """Exact earth mover's distance with uniform weights and Euclidean ground cost."""
    import ot

    real, fake = _check_pair(real, fake)
    cost = squared_distances(real, fake).sqrt().numpy()
    w_r, w_f = np.full(len(real), 1 / len(real)), np.full(len(fake), 1 / len(fake))
    return float(ot.emd2(w_r, w_f, cost, numItermax=10_000_000))


def mmd(real: Tensor, fake: Tensor) -> float:
    """Biased Gaussian-kernel MMD, bandwidth = mean squared real-real distance, square-rooted."""
    real, fake = _check_pair(real, fake)
    d_rr, d_rf, d_ff = (squared_distances(real, real), squared_distances(real, fake),
                        squared_distances(fake, fake))
    scale = 2 * d_rr.mean().clamp_min(1e-12)
    k = [torch.exp(-d / scale).mean() for d in (d_rr, d_ff, d_rf)]
    return math.sqrt(max(float(k[0] + k[1] - 2 * k[2]), 0.0))


def one_nn_accuracy(real: Tensor, fake: Tensor) -> float:
    """Leave-one-out 1-NN accuracy of telling real from fake in the pooled set (ideal 0.5)."""
    real, fake = _check_pair(real, fake)
    pooled = torch.cat([real, fake])
    label = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
    d = squared_distances(pooled, pooled)
    d.fill_diagonal_(math.inf)
    return float((label[d.argmin(1)] == label).double().mean())


def two_sample_metrics(real: Tensor, fake: Tensor) -> dict[str, float]:
    """All of :data:`METRICS` between two feature sets."""
    fd = frechet(real, fake)
    return {"fid": math.sqrt(max(fd, 0.0)), "frechet": fd, "emd": emd(real, fake),
            "mmd": mmd(real, fake), "1nn": one_nn_accuracy(real, fake)}


# ----------------------------------------------------------------------------- extractors


@runtime_checkable
class FeatureExtractor(Protocol):
    """Maps images [N, C, H, W] in [0, 1] to features [N, D]; ``name`` says which."""

    name: str

    def __call__(self, images: Tensor) -> Tensor: ...


class ClassifierFeatures:
    """Penultimate features (512-d) of a classifier trained on the dataset.

    Images larger than the classifier's input (CelebA 64x64 with a 32x32 classifier) are
    average-pooled down to it first.
    """

    def __init__(self, model: FeatureClassifier, name: str = "classifier",
                 batch_size: int = 1000) -> None:
        self.model, self.name, self.batch_size = model.eval(), name, batch_size

    def __call__(self, images: Tensor) -> Tensor:
        side = self.model.image_shape[-1]
        if images.shape[-1] != side:
            if images.shape[-1] % side:
                raise ValueError(f"cannot pool {images.shape[-1]}x{images.shape[-1]} images "
                                 f"to the classifier's {side}x{side}")
            images = F.avg_pool2d(images, images.shape[-1] // side)
        return extract_features(self.model, images, self.batch_size)


def inception_pool(weights: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """torchvision's Inception-v3 with the weights in the local file ``weights``, its final
    layer replaced by the identity (so it returns the 2048-d pool features), in eval mode."""
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"Inception-v3 weights file {path} not found (a state dict "
                                "of torchvision's inception_v3, e.g. inception_v3_google-"
                                "0cc3c7bd.pth); without one use ClassifierFeatures")
    state = torch.load(path, map_location="cpu", weights_only=True)
    fc = state.get("fc.weight") if isinstance(state, dict) else None
    if fc is None or tuple(fc.shape) != (1000, 2048) or "Mixed_7c.branch_pool.conv.weight" \
            not in state:
        raise ValueError(f"{path} is not a state dict of torchvision's inception_v3 (no "
                         "Mixed_7c block or fc [1000, 2048])")
    from torchvision.models import inception_v3  # a heavy import: only with a weights file

    net = inception_v3(weights=None, aux_logits=True, init_weights=False)
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path} is not a state dict of torchvision's inception_v3: {e}"
                         ) from e
    net.fc = nn.Identity()
    return net.to(device).eval()


class InceptionFeatures:
    """2048-d Inception-v3 pool features (the authors' extractor): images resized to 299x299
    (bilinear), grey copied to 3 channels, scaled from [0, 1] to [-1, 1]."""

    name = "inception-v3 pool (2048-d)"

    def __init__(self, weights: str | os.PathLike, device: str | torch.device = "cpu",
                 batch_size: int = 100) -> None:
        self.net, self.batch_size = inception_pool(weights, device), batch_size
        self.device = torch.device(device)

    @torch.no_grad()
    def __call__(self, images: Tensor) -> Tensor:
        out = []
        for s in range(0, images.shape[0], self.batch_size):
            x = images[s:s + self.batch_size].to(self.device, torch.float32)
            x = x.repeat(1, 3 // x.shape[1], 1, 1)
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            out.append(self.net(2 * x - 1))
        return torch.cat(out)


def compare(extractor: FeatureExtractor, real: Tensor, fake: Tensor) -> dict[str, float]:
    """:func:`two_sample_metrics` of two image sets in ``extractor``'s features."""
    return two_sample_metrics(extractor(real), extractor(fake))
