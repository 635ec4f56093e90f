"""The semi-auxiliary form of a deep directed graphical model (KD paper, section 3.1).

A DGM factorises as (eq. 1)::

    p(y, z | x) = prod_j p(y_j | Pa(y_j), x) prod_i p(z_i | Pa(z_i), x)

Its *semi-auxiliary form* gives every latent z_i an auxiliary root variable eps_i with a fixed,
parameter-free law p(eps_i) (standard normal, standard uniform, ...) and a deterministic map
``z_i = g_i(Pa(z_i), x, eps_i)``; the targets y keep their distributions. Given eps (and x) the
latents are deterministic, so ``p(y | eps, x)`` is tractable by function composition.

A model in this library exposes that form through two methods:

``sample_noise(n, generator) -> dict[str, Tensor]``
    draws the auxiliary variables eps for ``n`` ancestral samples, keyed by latent name.

``ancestral(noise, x=None, parents=None) -> AncestralPass``
    runs ancestral sampling with *that* noise and returns every conditional it visited, in
    topological order, with the parameters of its distribution and the sample it produced.
    With ``parents`` (a dict name -> sample, usually another model's pass), each conditional is
    evaluated at the given parent values instead of the model's own samples: the *local*
    distillation baseline (fig. 3d) evaluates the student at the teacher's samples.

Teacher and student share the noise: the student reruns ancestral sampling with the teacher's
eps through its own conditionals, and the distillation losses of :mod:`lgm.losses.distillation`
compare the two passes conditional by conditional.

Distribution kinds of a :class:`Conditional` and their parameters:

- ``"gaussian"``: ``mu``, ``std`` (diagonal)
- ``"bernoulli"``: ``logits``
- ``"categorical"``: ``logits`` (last axis = categories)
- ``"binomial"``: ``total_count`` (a number), ``logits``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

KINDS = {"gaussian": ("mu", "std"), "bernoulli": ("logits",), "categorical": ("logits",),
         "binomial": ("logits",)}
ROLES = ("latent", "target")


@dataclass
class Conditional:
    """One conditional p(v | Pa(v), x) visited by an ancestral pass, at its parents' values."""

    name: str
    role: str                      # "latent" (z_i) or "target" (y_j)
    kind: str                      # a key of KINDS
    params: dict[str, Tensor]      # each [N, ...]: N ancestral samples
    sample: Tensor                 # the value of v in this pass, [N, ...]
    total_count: float | None = None  # binomial only
    parents: tuple[str, ...] = ()  # names of Pa(v): other conditionals, inputs ("x") or
    #                                auxiliary roots ("eps:<name>"); the DAG of eq. 1

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"conditional {self.name!r}: role must be one of {ROLES}, "
                             f"got {self.role!r}")
        if self.kind not in KINDS:
            raise ValueError(f"conditional {self.name!r}: kind must be one of {sorted(KINDS)}, "
                             f"got {self.kind!r}")
        missing = [k for k in KINDS[self.kind] if k not in self.params]
        if missing:
            raise ValueError(f"conditional {self.name!r} ({self.kind}) lacks parameters {missing}")
        if self.kind == "binomial" and self.total_count is None:
            raise ValueError(f"conditional {self.name!r}: binomial needs total_count")


@dataclass
class AncestralPass:
    """The conditionals of one ancestral pass, in topological order."""

    conditionals: list[Conditional] = field(default_factory=list)

    def add(self, c: Conditional) -> Tensor:
        """Record ``c`` and return its sample (so models can write ``z = pass_.add(...)``)."""
        if c.name in self.names():
            raise ValueError(f"conditional {c.name!r} recorded twice")
        self.conditionals.append(c)
        return c.sample

    def names(self) -> list[str]:
        return [c.name for c in self.conditionals]

    @property
    def latents(self) -> list[Conditional]:
        return [c for c in self.conditionals if c.role == "latent"]

    @property
    def targets(self) -> list[Conditional]:
        return [c for c in self.conditionals if c.role == "target"]

    def samples(self) -> dict[str, Tensor]:
        """name -> sample, the ``parents`` argument of a local-distillation pass."""
        return {c.name: c.sample for c in self.conditionals}

    def edges(self) -> list[tuple[str, str]]:
        """(parent, child) pairs of the DAG this pass walked (fig. 1's graphs are drawn
        from these)."""
        return [(p, c.name) for c in self.conditionals for p in c.parents]

    def __getitem__(self, name: str) -> Conditional:
        for c in self.conditionals:
            if c.name == name:
                return c
        raise KeyError(f"no conditional {name!r}; this pass has {self.names()}")


@runtime_checkable
class SemiAuxiliaryDGM(Protocol):
    """A DGM whose ancestral sampling is an explicit function of its auxiliary noise."""

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]: ...

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass: ...


def pick(own: Tensor, name: str, parents: dict[str, Tensor] | None) -> Tensor:
    """The value a conditional's child should read: ``parents[name]`` when given (a local pass
    gives every sample; eq. 4 gives the teacher's targets), else the model's own ``own``."""
    if parents is None or name not in parents:
        return own
    return parents[name]


def gaussian_sample(mu: Tensor, std: Tensor, eps: Tensor) -> Tensor:
    """z = mu + std * eps, eps ~ N(0, I): the reparameterisation of a Gaussian conditional."""
    if eps.shape != mu.shape:
        raise ValueError(f"noise shape {tuple(eps.shape)} != mean shape {tuple(mu.shape)}")
    return mu + std * eps


def bernoulli_sample(logits: Tensor, u: Tensor) -> Tensor:
    """z = 1[sigmoid(logits) > u], u ~ U(0, 1): a binary latent by thresholding shared uniforms.

    No gradient flows through the hard sample (section 3.3: the latent loss supplies one).
    """
    if u.shape != logits.shape:
        raise ValueError(f"noise shape {tuple(u.shape)} != logits shape {tuple(logits.shape)}")
    return (torch.sigmoid(logits) > u).to(logits.dtype)


def categorical_sample(logits: Tensor, u: Tensor) -> Tensor:
    """One-hot Gumbel-max sample argmax(logits + g), g = -log(-log u) from shared uniforms."""
    if u.shape != logits.shape:
        raise ValueError(f"noise shape {tuple(u.shape)} != logits shape {tuple(logits.shape)}")
    g = -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))
    idx = (logits + g).argmax(-1)
    return torch.nn.functional.one_hot(idx, logits.shape[-1]).to(logits.dtype)


def check_same_layout(teacher: AncestralPass, student: AncestralPass) -> None:
    """Teacher and student must visit the same conditionals, of the same kind and shape."""
    if teacher.names() != student.names():
        raise ValueError("teacher and student have different latent layouts: teacher "
                         f"{teacher.names()}, student {student.names()}")
    for t, s in zip(teacher.conditionals, student.conditionals, strict=True):
        if t.kind != s.kind or t.role != s.role:
            raise ValueError(f"conditional {t.name!r}: teacher is {t.role}/{t.kind}, student "
                             f"is {s.role}/{s.kind}")
        if t.sample.shape != s.sample.shape:
            raise ValueError(f"conditional {t.name!r}: teacher sample shape "
                             f"{tuple(t.sample.shape)} != student {tuple(s.sample.shape)}")


def gaussian_kl(mu_t: Tensor, std_t: Tensor, mu_s: Tensor, std_s: Tensor) -> Tensor:
    """Elementwise KL(N(mu_t, std_t^2) || N(mu_s, std_s^2))."""
    return (torch.log(std_s / std_t) + (std_t.pow(2) + (mu_t - mu_s).pow(2))
            / (2 * std_s.pow(2)) - 0.5)


def gaussian_w2(mu_t: Tensor, std_t: Tensor, mu_s: Tensor, std_s: Tensor) -> Tensor:
    """Elementwise squared 2-Wasserstein distance between 1-d Gaussians."""
    return (mu_t - mu_s).pow(2) + (std_t - std_s).pow(2)
