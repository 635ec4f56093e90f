"""Divergence bounds: a result whose losses or metrics are absurd is not a result.

Non-finite numbers are caught where they arise (the training loops) and again by the cache
(:func:`lgm.experiments.cache.strict_json`). A run can also blow up to huge but
finite numbers (a -ELBO of 1e10 for an image whose trivial model scores about 500); such a
result is as wrong as a NaN and is never stored, served or committed either. The bounds, in
one place:

    bound = FACTOR * D * nats_per_dim

where D is the dimension of one sample of the family's data and ``nats_per_dim`` the
negative log-likelihood per dimension of a trivial model of it: log 2 for Bernoulli pixels (a
model that outputs 0.5 everywhere scores D log 2 nats, 543 for 784 pixels) and
0.5 log(2 pi e) for standardised continuous data (a standard normal). Every loss-like number
of a result (a key naming an ELBO, an NLL, a KL or a loss) is checked
against its family's bound, in absolute value (KLs and bounds are nats per sample too). FACTOR
is generous: an honest model, even untrained (a ladder VAE at the smoke preset scores ~55 D
log 2 before its KL warm-up ends), stays far below it; a diverged one leaves it by orders of
magnitude. :func:`check_result` raises :class:`~lgm.errors.DivergedError` naming the number;
the command line exits 4, as for a NaN.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lgm.errors import DivergedError

FACTOR = 1000.0
BERNOULLI = math.log(2.0)                        # nats per pixel of p = 0.5
GAUSSIAN = 0.5 * math.log(2.0 * math.pi * math.e)  # nats per dim of N(0, 1) on standardised data
LOSS_KEY = re.compile(r"(elbo|nll|(^|_)kl($|_)|loss|best_val)", re.IGNORECASE)
# never checked, with everything under them: standard errors, sizes, timings, and the
# training diagnostics of epochs that early stopping undid (the last epoch's loss terms, the
# validation curve): a spike there that training recovered from leaves a sound result
NOT_LOSS = re.compile(r"(_se$|params|parameters|wall|seconds|steps|epochs|^terms$|val_curve)",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Bound:
    """The divergence bound of one family of results."""

    family: str
    dims: int            # D: dimensions of one sample of the data
    nats_per_dim: float  # trivial model's NLL per dimension
    data: str            # what the data is, for the message

    @property
    def limit(self) -> float:
        return FACTOR * self.dims * self.nats_per_dim


_PIXELS_28 = Bound("lifelong", 28 * 28, BERNOULLI, "784 Bernoulli pixels")
_PIXELS_SVHN = Bound("lifelong", 3 * 32 * 32, BERNOULLI, "3x32x32 Bernoulli pixels")

# lifelong experiments (by name) and the KD paper's cache groups
BOUNDS: dict[str, Bound] = {
    "fashion": _PIXELS_28,
    "mnist": _PIXELS_28,
    "permuted": _PIXELS_28,
    "fashion_mnist20": _PIXELS_28,
    "fashion_then_mnist": _PIXELS_28,
    "svhn_mnist": _PIXELS_SVHN,
    "kd_compression": Bound("kd_compression", 28 * 28, BERNOULLI, "784 Bernoulli pixels"),
    "kd_continual": Bound("kd_continual", 28 * 28, BERNOULLI, "784 Bernoulli pixels"),
    "kd_bridge": Bound("kd_bridge", 28 * 28, BERNOULLI, "784 Bernoulli pixels"),
    "kd_hm": Bound("kd_hm", 2, GAUSSIAN, "2 standardised Old Faithful dimensions"),
    "kd_vrnn": Bound("kd_vrnn", 3, GAUSSIAN, "3 stroke dimensions per step"),
    # toy chains: up to 21 conditionals of counts up to 1000 (a uniform law: log 1001 each);
    # the joint KL of a sound student of depth 20 reaches 3.5e3 (committed readings)
    "kd_toy": Bound("kd_toy", 21, math.log(1001.0),
                    "21 conditionals of counts up to 1000, uniform"),
}
DEFAULT = Bound("other", 28 * 28, BERNOULLI, "at most 784 Bernoulli pixels")


def bound_for(family: str) -> Bound:
    """The bound of a lifelong experiment or a KD cache group (a generous default else)."""
    return BOUNDS.get(family, DEFAULT)


def _loss_numbers(value: Any, where: str, lossy: bool) -> list[tuple[str, float]]:
    """(path, number) of every loss-like number inside ``value``."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [(where, float(value))] if lossy else []
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            key = str(k)
            if not NOT_LOSS.search(key):
                out += _loss_numbers(v, f"{where}.{key}" if where else key,
                                     lossy or bool(LOSS_KEY.search(key)))
        return out
    if isinstance(value, list | tuple):
        return [n for i, v in enumerate(value) for n in _loss_numbers(v, f"{where}[{i}]", lossy)]
    return []


def diverged(result: dict[str, Any], family: str) -> tuple[str, float, Bound] | None:
    """The first loss-like number of ``result`` beyond ``family``'s bound, else None."""
    bound = bound_for(family)
    skip = ("provenance", "params", "config", "data_fingerprint", "fingerprint", "arrays")
    for path, value in _loss_numbers({k: v for k, v in result.items() if k not in skip}, "",
                                     False):
        if math.isfinite(value) and abs(value) > bound.limit:
            return path, value, bound
    return None


def check_result(result: dict[str, Any], family: str, what: str) -> None:
    """Raise :class:`~lgm.errors.DivergedError` (one line naming ``what``, the number and the
    bound) when a loss-like number of ``result`` leaves ``family``'s bound; it is never stored."""
    found = diverged(result, family)
    if found is not None:
        path, value, bound = found
        raise DivergedError(
            f"{what}: {path} = {value:.4g} exceeds the divergence bound {bound.limit:.4g} nats "
            f"({FACTOR:g} x D x {bound.nats_per_dim:.3f}, D = {bound.data}): try a smaller "
            "learning rate", "result")
