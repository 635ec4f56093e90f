"""Which conditionals a distillation loss pairs, read off the loss itself (KD paper, fig. 3).

Fig. 3 of the KD paper colours, for each distillation method, the pairs (teacher conditional,
student conditional) that form one independent distillation component. Rather than restate
those pairs, :func:`compared_pairs` *runs* a loss of :mod:`lgm.losses.distillation` on two
models and records every call it makes to :func:`~lgm.losses.distillation.divergence` (the
one place where a teacher conditional meets a student conditional), together with the parent
values the student's pass was given. Each recorded :class:`Pair` therefore says what the code
compares:

- ``term``: ``"sd"`` for a target conditional of L_sd (eq. 4), ``"z"`` for a latent of
  sum_i L_z,i (eq. 6), ``"local"`` for a term of the local baseline (fig. 3d);
- ``parents``: each parent of the student conditional and where its value came from:
  ``"teacher"`` (the teacher's sample, handed to the student's pass), ``"shared"`` (an input
  ``x`` or an auxiliary root ``eps:<name>``: the same value in both passes) or ``"student"``
  (the student's own sample, deterministic given the shared eps).

With no latent variable (a vanilla network) the loss pairs the single output at the input; for
a fully-visible autoregressive model each y_j is compared at the teacher's y_<j (eq. 3); with
deterministic features compared by the 2-Wasserstein distance it is GAN distillation (eq. 9).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from lgm.losses import distillation
from lgm.models.semi_auxiliary import AncestralPass, Conditional

SOURCES = ("teacher", "shared", "student")


@dataclass(frozen=True)
class Pair:
    """One distillation component: d(p_teacher(name | ...), p_student(name | parents))."""

    name: str
    role: str                              # "latent" or "target"
    term: str                              # "sd" (eq. 4), "z" (eq. 6) or "local" (fig. 3d)
    measure: str                           # "kl" or "w2"
    parents: tuple[tuple[str, str], ...]   # (parent, source in SOURCES) of the student's side


class _Recording:
    """A model whose ``ancestral`` calls are recorded (the ``parents`` each one was given)."""

    def __init__(self, model: Any, log: list[tuple[AncestralPass, set[str]]]) -> None:
        self.model, self.log = model, log

    def sample_noise(self, n: int, generator: Any = None) -> dict[str, Tensor]:
        return self.model.sample_noise(n, generator)

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        pass_ = self.model.ancestral(noise, x, parents)
        self.log.append((pass_, set(parents or ())))
        return pass_


@contextmanager
def _recorded_divergences(calls: list[tuple[Conditional, Conditional, str]]) -> Iterator[None]:
    real = distillation.divergence

    def record(t: Conditional, s: Conditional, measure: str = "kl",
               reduction: str = "sum") -> Tensor:
        calls.append((t, s, measure))
        return real(t, s, measure, reduction)

    distillation.divergence = record
    try:
        yield
    finally:
        distillation.divergence = real


def _source(parent: str, given: set[str]) -> str:
    if parent in given:
        return "teacher"
    if parent == "x" or parent.startswith("eps:"):
        return "shared"
    return "student"


def compared_pairs(loss: Callable[..., Any], teacher: Any, student: Any,
                   noise: dict[str, Tensor], x: Tensor | None = None, **kwargs: Any
                   ) -> list[Pair]:
    """Run ``loss(teacher, student, noise, x, **kwargs)`` (``target_free_loss`` or
    ``local_distillation_loss``) and return the pairs it compared, in the order compared."""
    if loss not in (distillation.target_free_loss, distillation.local_distillation_loss):
        raise ValueError(f"loss must be target_free_loss or local_distillation_loss, got "
                         f"{getattr(loss, '__name__', loss)!r}")
    log: list[tuple[AncestralPass, set[str]]] = []
    calls: list[tuple[Conditional, Conditional, str]] = []
    with _recorded_divergences(calls):
        loss(_Recording(teacher, log), _Recording(student, log), noise, x, **kwargs)
    if len(log) != 2:
        raise RuntimeError(f"expected one teacher and one student pass, saw {len(log)}")
    student_pass, given = log[1]
    local = loss is distillation.local_distillation_loss
    out = []
    for t, s, measure in calls:
        if s is not student_pass[s.name]:
            raise RuntimeError(f"conditional {s.name!r} does not come from the student's pass")
        term = "local" if local else ("sd" if t.role == "target" else "z")
        out.append(Pair(t.name, t.role, term, measure,
                        tuple((p, _source(p, given)) for p in s.parents)))
    return out
