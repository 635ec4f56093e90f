"""Frechet distance between two sets of feature vectors (paper appendix 7.10, eq. 20).

The paper scores a generative model by fitting a Gaussian to classifier features of
generated samples and another to features of test images, then reporting

    d^2 = ||m_test - m_gen||_2^2 + Tr(C_test + C_gen - 2 (C_test C_gen)^{1/2})     (eq. 20)

Everything here is computed in float64 on the CPU, whatever the input device.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["frechet_distance", "gaussian_frechet"]


def _validate_features(feats_a: Tensor, feats_b: Tensor) -> None:
    """Raise ValueError unless both inputs are finite [N, D] arrays with N >= 2 and equal D."""
    for name, x in (("feats_a", feats_a), ("feats_b", feats_b)):
        if not isinstance(x, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2:
            raise ValueError(f"{name} must be 2-D [num_samples, dim], got shape {tuple(x.shape)}")
        if x.shape[0] < 2:
            raise ValueError(f"{name} needs at least 2 samples for a covariance, got {x.shape[0]}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    if feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"feature dimensions differ: feats_a has {feats_a.shape[1]}, "
                         f"feats_b has {feats_b.shape[1]}")


def _mean_cov(feats: Tensor) -> tuple[Tensor, Tensor]:
    """Sample mean and unbiased (N - 1) covariance of [N, D] features, in float64 on CPU."""
    x = feats.detach().to("cpu", torch.float64)
    return x.mean(dim=0), torch.cov(x.T, correction=1).reshape(x.shape[1], x.shape[1])


def _symmetric(mat: Tensor) -> Tensor:
    return 0.5 * (mat + mat.T)


def _sqrt_psd(mat: Tensor) -> Tensor:
    """Symmetric square root of a PSD matrix via eigh; tiny negative eigenvalues clamp to 0."""
    evals, evecs = torch.linalg.eigh(_symmetric(mat))
    return (evecs * evals.clamp_min(0.0).sqrt()) @ evecs.T


def _trace_sqrt_product(cov_a: Tensor, cov_b: Tensor) -> Tensor:
    """Tr((C_a C_b)^{1/2}) as the sum of sqrt eigenvalues of sqrt(C_a) C_b sqrt(C_a).

    C_a C_b is not symmetric, but it is similar to sqrt(C_a) C_b sqrt(C_a), which is
    symmetric PSD, so the eigenvalues (hence the trace of the square root) agree and
    eigvalsh gives them stably.
    """
    root_a = _sqrt_psd(cov_a)
    evals = torch.linalg.eigvalsh(_symmetric(root_a @ cov_b @ root_a))
    return evals.clamp_min(0.0).sqrt().sum()


def gaussian_frechet(mu_a: Tensor, cov_a: Tensor, mu_b: Tensor, cov_b: Tensor) -> float:
    """Closed-form Frechet distance between N(mu_a, cov_a) and N(mu_b, cov_b) (eq. 20).

    ||mu_a - mu_b||^2 + Tr(cov_a + cov_b - 2 (cov_a cov_b)^{1/2}), computed in float64.
    Both covariances must be symmetric PSD [D, D]; means are [D].
    """
    mu_a, mu_b, cov_a, cov_b = (
        t.detach().to("cpu", torch.float64) for t in (mu_a, mu_b, cov_a, cov_b)
    )
    dim = mu_a.shape[-1]
    if mu_a.shape != (dim,) or mu_b.shape != (dim,):
        raise ValueError(f"means must be 1-D of equal length, got {tuple(mu_a.shape)}, "
                         f"{tuple(mu_b.shape)}")
    if cov_a.shape != (dim, dim) or cov_b.shape != (dim, dim):
        raise ValueError(f"covariances must be [{dim}, {dim}], got {tuple(cov_a.shape)}, "
                         f"{tuple(cov_b.shape)}")
    mean_term = (mu_a - mu_b).pow(2).sum()
    trace_term = cov_a.trace() + cov_b.trace() - 2.0 * _trace_sqrt_product(cov_a, cov_b)
    return float(mean_term + trace_term)


def frechet_distance(feats_a: Tensor, feats_b: Tensor) -> float:
    """Frechet distance (eq. 20, appendix 7.10) between Gaussians fitted to two feature sets.

    ``feats_a`` is [N_a, D] and ``feats_b`` is [N_b, D] (e.g. classifier features of
    generated samples and of test images). Mean and covariance are estimated ONCE over
    all samples of each set, in float64, and plugged into :func:`gaussian_frechet`.

    The reference implementation instead split the samples into minibatches, computed a
    Frechet distance per minibatch and averaged them. That is a biased estimator: each
    small-batch covariance is noisy, and the noise inflates the trace term, so the average
    overstates the distance (and depends on the batch size). We do not reproduce it.

    Raises ValueError for non-2-D inputs, mismatched feature dims, fewer than 2 samples,
    or non-finite values. Returns a Python float (>= 0 up to round-off).
    """
    _validate_features(feats_a, feats_b)
    mu_a, cov_a = _mean_cov(feats_a)
    mu_b, cov_b = _mean_cov(feats_b)
    return gaussian_frechet(mu_a, cov_a, mu_b, cov_b)
