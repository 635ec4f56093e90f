"""A deep Helmholtz machine with binary latents (KD paper, section 3.6, fig. 4c, appendix H).

The classical Helmholtz machine (Dayan et al. 1995) has one target and linear layers; the
paper extends it to five stochastic layers and two targets, a chain over the Old Faithful data
(:mod:`lgm.data.faithful`, standardised)::

    z4 ~ Bern(sigmoid(w))                     w: a bias-free linear map of the constant 1
    z3 | z4 ~ Bern(sigmoid(f3(z4)))
    y2 | z3 ~ N(f_y2(z3), 0.5^2)              y2: waiting time (a target)
    z2 | y2 ~ Bern(sigmoid(f2(y2)))
    z1 | z2 ~ Bern(sigmoid(f1(z2)))
    y1 | z1 ~ N(f_y1(z1), 0.5^2)              y1: eruption duration (a target)

Every latent is 2-d binary and every f is Linear -> ReLU -> Linear with ``hidden`` units: 8
for the teacher (186 generative parameters), 2 for the student (54), as in the authors' code.

**Semi-auxiliary form** (section 3.1). Each binary latent gets uniform auxiliary noise
``u ~ U(0,1)^2`` and becomes ``z = 1[sigmoid(logits) > u]`` (deterministic given ``u`` and
its parents; no gradient flows through it, which is why the latent loss of eq. 6 is needed,
section 3.3). The targets keep their Gaussians; :meth:`HelmholtzMachine.sample_noise` also
draws a standard normal ``eps`` per target so that ``y = mu + 0.5 eps`` can be sampled.

**Exact marginal.** With 2-d binary latents each layer has only 4 states, so
``p(y1, y2) = [sum_{z4,z3} p(z4) p(z3|z4) p(y2|z3)] [sum_{z2,z1} p(z2|y2) p(z1|z2) p(y1|z1)]``
is computed exactly (:meth:`HelmholtzMachine.log_marginal`): data log-likelihoods and the KL
between two machines need no estimator beyond Monte Carlo over ``y``.

**Wake-sleep** (Hinton et al. 1995). A recognition model ``q(z | y)``, factorised bottom-up
as ``q(z1 | y1, y2) q(z2 | z1, y2) q(z3 | y2) q(z4 | z3)`` (a factorisation that can hold the
exact posterior: given y2 the chain splits in two), trains with the generative model. Wake:
``z ~ q(z | y)`` on the data, maximise ``log p(y, z)`` over the generative weights. Sleep:
``(z, y) ~ p`` ("dreams"), maximise ``log q(z | y)`` over the recognition weights. The authors
train full batch (272 rows) with Adam, lr 1e-2, weight decay 1e-4, 1000 steps.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lgm.models.semi_auxiliary import (
    AncestralPass,
    Conditional,
    bernoulli_sample,
    gaussian_sample,
    pick,
)

LATENT_DIM = 2
Y_STD = 0.5
# (name, role, parents): the generative chain of fig. 4c in topological order.
GRAPH: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("z4", "latent", ()),
    ("z3", "latent", ("z4",)),
    ("y2", "target", ("z3",)),
    ("z2", "latent", ("y2",)),
    ("z1", "latent", ("z2",)),
    ("y1", "target", ("z1",)),
)
LATENTS = tuple(name for name, role, _ in GRAPH if role == "latent")
TARGETS = tuple(name for name, role, _ in GRAPH if role == "target")
# recognition q(z | y), bottom-up: (name, inputs)
RECOGNITION: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("z1", ("y1", "y2")),
    ("z2", ("z1", "y2")),
    ("z3", ("y2",)),
    ("z4", ("z3",)),
)
TEACHER_HIDDEN, STUDENT_HIDDEN = 8, 2


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """Linear -> ReLU -> Linear, the form of every conditional of the authors' HM."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


def bernoulli_log_prob(logits: Tensor, z: Tensor) -> Tensor:
    """log Bern(z; sigmoid(logits)) summed over the last axis."""
    return (z * F.logsigmoid(logits) + (1 - z) * F.logsigmoid(-logits)).sum(-1)


def normal_log_prob(y: Tensor, mu: Tensor, std: float) -> Tensor:
    """log N(y; mu, std^2), elementwise."""
    return -0.5 * ((y - mu) / std).pow(2) - math.log(std) - 0.5 * math.log(2 * math.pi)


def binary_states(dim: int = LATENT_DIM) -> Tensor:
    """All 2^dim binary vectors, [2^dim, dim]."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=dim)))


class HelmholtzMachine(nn.Module):
    """The deep HM of appendix H: generative chain + recognition model (see module doc)."""

    def __init__(self, hidden: int = TEACHER_HIDDEN, y_std: float = Y_STD) -> None:
        super().__init__()
        if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
            raise ValueError(f"hidden must be a positive int, got {hidden!r}")
        if not (isinstance(y_std, int | float) and y_std > 0):
            raise ValueError(f"y_std must be > 0, got {y_std!r}")
        self.hidden, self.y_std = hidden, float(y_std)
        d = LATENT_DIM
        self.generative = nn.ModuleDict({
            "z4": nn.Linear(1, d, bias=False),  # prior logits = w * 1
            "z3": mlp(d, hidden, d), "y2": mlp(d, hidden, 1), "z2": mlp(1, hidden, d),
            "z1": mlp(d, hidden, d), "y1": mlp(d, hidden, 1),
        })
        self.recognition = nn.ModuleDict({
            "z1": mlp(2, hidden, d), "z2": mlp(d + 1, hidden, d), "z3": mlp(1, hidden, d),
            "z4": mlp(d, hidden, d),
        })

    # ------------------------------------------------------------------ parameters
    def generative_parameter_count(self) -> int:
        """Parameters of p(y, z) (186 at hidden 8, 54 at hidden 2); recognition excluded."""
        return sum(p.numel() for p in self.generative.parameters())

    @property
    def device(self) -> torch.device:
        return self.generative["z4"].weight.device

    # ------------------------------------------------------------------ conditionals
    def conditional_params(self, name: str, parents: list[Tensor], n: int) -> Tensor:
        """Logits (latent) or mean (target) of p(name | parents) for ``n`` rows."""
        if name == "z4":  # a bias-free linear map of the constant 1: the weight itself
            return self.generative["z4"].weight.T.expand(n, -1)
        return self.generative[name](parents[0] if len(parents) == 1 else torch.cat(parents, -1))

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        """u ~ U(0,1)^2 per binary latent and eps ~ N(0,1) per target, for ``n`` samples."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        noise = {z: torch.rand(n, LATENT_DIM, generator=generator) for z in LATENTS}
        noise |= {y: torch.randn(n, 1, generator=generator) for y in TARGETS}
        return {k: v.to(self.device) for k, v in noise.items()}

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        """Ancestral sampling with the given noise, recording every conditional.

        ``parents``: values that the conditionals read instead of the model's own samples,
        for the variables they name: every variable for the local baseline, the teacher's
        targets (y2 is the parent of z2) for eq. 4, whose y_<j come from the teacher.
        """
        if x is not None:
            raise ValueError("the Helmholtz machine has no input variable x (data-free)")
        missing = [k for k in (*LATENTS, *TARGETS) if k not in noise]
        if missing:
            raise ValueError(f"noise lacks {missing}; expected keys {[*LATENTS, *TARGETS]}")
        n, pass_, own = noise[LATENTS[0]].shape[0], AncestralPass(), {}
        for name, role, pa in GRAPH:
            inputs = [pick(own[p], p, parents) for p in pa]
            if any(v.shape[0] != n for v in inputs):
                raise ValueError(f"the parents of {name!r} must have {n} rows, got "
                                 f"{[tuple(v.shape) for v in inputs]}")
            out = self.conditional_params(name, inputs, n)
            if role == "latent":
                sample = bernoulli_sample(out, noise[name])
                own[name] = pass_.add(Conditional(name, role, "bernoulli", {"logits": out},
                                                  sample, parents=(*pa, f"eps:{name}")))
                continue
            std = torch.full_like(out, self.y_std)
            own[name] = pass_.add(Conditional(name, role, "gaussian", {"mu": out, "std": std},
                                              gaussian_sample(out, std, noise[name]),
                                              parents=pa))
        return pass_

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws of (y1, y2) in standardised units, [n, 2]."""
        with torch.no_grad():
            s = self.ancestral(self.sample_noise(n, generator)).samples()
        return torch.cat([s["y1"], s["y2"]], -1)

    # ------------------------------------------------------------------ densities
    def log_joint(self, values: dict[str, Tensor]) -> Tensor:
        """log p(y, z) at given values of every variable (each [N, dim]), [N]."""
        n = values["y1"].shape[0]
        total = torch.zeros(n, device=self.device)
        for name, role, pa in GRAPH:
            out = self.conditional_params(name, [values[p] for p in pa], n)
            total = total + (bernoulli_log_prob(out, values[name]) if role == "latent"
                             else normal_log_prob(values[name], out, self.y_std).sum(-1))
        return total

    def log_marginal(self, y: Tensor) -> Tensor:
        """Exact log p(y1, y2) for rows y = (y1, y2), [N], summing the 4^4 latent states."""
        check_rows(y)
        states = binary_states().to(self.device)
        y1, y2 = y[:, :1], y[:, 1:]
        # top half: log p(z3) = logsumexp_z4 p(z4) p(z3 | z4); then log p(y2)
        lp_z4 = bernoulli_log_prob(self.conditional_params("z4", [], 1), states)      # [4]
        lp_z3 = bernoulli_log_prob(self.generative["z3"](states)[:, None], states)    # [z4, z3]
        log_pz3 = torch.logsumexp(lp_z4[:, None] + lp_z3, 0)                          # [4]
        lp_y2 = normal_log_prob(y2, self.generative["y2"](states)[:, 0], self.y_std)  # [N, z3]
        top = torch.logsumexp(log_pz3 + lp_y2, -1)
        # bottom half: log p(y1 | y2) = logsumexp_{z2, z1} p(z2 | y2) p(z1 | z2) p(y1 | z1)
        lp_z2 = bernoulli_log_prob(self.generative["z2"](y2)[:, None], states)        # [N, z2]
        lp_z1 = bernoulli_log_prob(self.generative["z1"](states)[:, None], states)    # [z2, z1]
        lp_y1 = normal_log_prob(y1, self.generative["y1"](states)[:, 0], self.y_std)  # [N, z1]
        inner = torch.logsumexp(lp_z1[None] + lp_y1[:, None], -1)                     # [N, z2]
        return top + torch.logsumexp(lp_z2 + inner, -1)

    # ------------------------------------------------------------------ wake-sleep
    def recognise(self, y: Tensor, generator: torch.Generator | None = None
                  ) -> tuple[dict[str, Tensor], Tensor]:
        """z ~ q(z | y) by thresholding uniforms: (values of y and z, log q(z | y))."""
        values = {"y1": y[:, :1], "y2": y[:, 1:]}
        log_q = torch.zeros(y.shape[0], device=self.device)
        for name, inputs in RECOGNITION:
            logits = self.recognition[name](torch.cat([values[i] for i in inputs], -1))
            u = torch.rand(logits.shape, generator=generator).to(self.device)
            values[name] = bernoulli_sample(logits, u)
            log_q = log_q + bernoulli_log_prob(logits, values[name])
        return values, log_q

    def recognition_log_prob(self, values: dict[str, Tensor]) -> Tensor:
        """log q(z | y) at given values, [N]."""
        return sum(bernoulli_log_prob(self.recognition[name](
            torch.cat([values[i] for i in inputs], -1)), values[name])
            for name, inputs in RECOGNITION)

    def wake_sleep_loss(self, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Wake: -E_q log p(y, z) on the data; sleep: -log q(z | y) on as many dreams.

        The two terms touch disjoint parameters (samples are detached), so one optimiser
        step on their sum is one wake step and one sleep step.
        """
        check_rows(y)
        with torch.no_grad():
            values, _ = self.recognise(y, generator)
            dreams = self.ancestral(self.sample_noise(y.shape[0], generator)).samples()
        return -self.log_joint(values).mean() - self.recognition_log_prob(dreams).mean()


def check_rows(y: Tensor) -> None:
    """A ValueError unless ``y`` is [N, 2] rows (y1, y2)."""
    if y.dim() != 2 or y.shape[1] != 2:
        raise ValueError(f"expected rows (y1, y2), shape [N, 2], got {tuple(y.shape)}")
