"""The variational recurrent neural network (VRNN, Chung et al. 2015) of the KD paper's
handwriting experiment (section 3.6, fig. 4b; section 4.3, appendix G, Fig. 8).

Generative model over pen strokes x_1..x_T, x_t = (pen-up bit, dx, dy), with a deterministic
LSTM state h_t that summarises x_<=t and z_<=t::

    z_t | h_{t-1}      ~ N(mu_0(h_{t-1}), std_0(h_{t-1})^2)            prior, z_dim = 16
    pen_t | z_t, h_{t-1} ~ Bernoulli(sigmoid(l(phi_z(z_t), h_{t-1})))
    (dx, dy)_t | z_t, h_{t-1} ~ N(m(phi_z(z_t), h_{t-1}), I)           fixed std 1
    h_t = LSTM([phi_x(x_t), phi_z(z_t)], h_{t-1}),  h_0 = 0

with feature extractors phi_x, phi_z and every map an MLP of ``hidden`` ReLU layers. The
inference network is q(z_t | x_t, h_{t-1}) = N(mu_q([phi_x(x_t), h_{t-1}]), std_q(.)^2), and
training maximises the ELBO (Chung et al., eq. 10)::

    sum_t E_q [ log p(x_t | z_t, h_{t-1}) ] - KL( q(z_t | x_t, h_{t-1}) || p(z_t | h_{t-1}) ).

Standard deviations are ``softplus(.) + 1e-4``.

Sizes (notes on the authors' code): teacher MLPs [512, 512] and LSTM 1200, student [128, 128]
and LSTM 600, z_dim 16 in both (the shared noise needs equal latent sizes). This module gives
14,412,227 and 2,416,643 parameters (``tests/test_kd_vrnn.py`` pins them), the notes' "~14.4M"
and "~2.4M": phi_x, phi_z, prior, encoder and decoder each have two hidden layers, the LSTM
cell has both bias vectors (torch's ``LSTMCell``), the heads are linear.

Semi-auxiliary form (section 3.1): the auxiliary noise of a sequence of length T is
``{"z": eps [N, T, z_dim], "pen": u [N, T, 1]}`` with z_t = mu_0 + std_0 * eps_t and
pen_t = 1[sigmoid(logit_t) > u_t]; the generated offsets are the Gaussian's mean (as in the
authors' code: std 1 in standardised units is the whole spread of the data). An ancestral
pass records, for t = 1..T, the conditionals ``z<t>`` (latent, Gaussian prior), ``pen<t>``
(target, Bernoulli) and ``offset<t>`` (target, Gaussian with std 1). Each step feeds x_t back
into the LSTM; with ``parents`` (name -> value) a given value replaces the model's own one: eq. 4
evaluates the student's p(y_t | eps, y_<t) at the *teacher's* y_<t (the core's
:func:`~lgm.losses.distillation.target_free_loss` passes the teacher's targets), and the local
baseline passes every teacher sample, z_t included. The VRNN has no input variable: ``x`` must
be None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lgm.models.semi_auxiliary import (
    AncestralPass,
    Conditional,
    bernoulli_sample,
    gaussian_kl,
    gaussian_sample,
    pick,
)

X_DIM = 3  # pen-up bit, dx, dy
MIN_STD = 1e-4


@dataclass(frozen=True)
class VRNNSize:
    """The size knobs: MLP hidden widths, LSTM width, latent size."""

    hidden: tuple[int, ...]
    rnn: int
    z_dim: int = 16

    def __post_init__(self) -> None:
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive ints, got "
                             f"{self.hidden!r}")
        if self.rnn < 1 or self.z_dim < 1:
            raise ValueError(f"rnn and z_dim must be >= 1, got {self.rnn}, {self.z_dim}")


TEACHER_SIZE = VRNNSize((512, 512), 1200)
STUDENT_SIZE = VRNNSize((128, 128), 600)
TEACHER_PARAMS = 14_412_227
STUDENT_PARAMS = 2_416_643


def mlp(n_in: int, hidden: Sequence[int]) -> nn.Sequential:
    """Linear -> ReLU for each width in ``hidden``."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return nn.Sequential(*layers)


class GaussianHead(nn.Module):
    """Features -> (mean, std) of a diagonal Gaussian, std = softplus(.) + 1e-4 (one linear
    map to both halves: one kernel call per step instead of two)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, 2 * n_out)

    def forward(self, f: Tensor) -> tuple[Tensor, Tensor]:
        mu, pre_std = self.linear(f).chunk(2, -1)
        return mu, F.softplus(pre_std) + MIN_STD


@dataclass
class VRNNELBO:
    """Per-sequence sums over the real (masked) steps, each [N]: reconstruction
    -log p(x_t | z_t, h_{t-1}), KL(q || prior), and the number of steps."""

    recon: Tensor
    kl: Tensor
    steps: Tensor

    @property
    def per_step(self) -> Tensor:
        """The negative ELBO in nats per step over the batch (the training loss)."""
        return (self.recon + self.kl).sum() / self.steps.sum()


class VRNN(nn.Module):
    """VRNN over (pen-up bit, dx, dy); ``length`` is the T of :meth:`sample_noise`."""

    def __init__(self, size: VRNNSize = TEACHER_SIZE, length: int = 64) -> None:
        super().__init__()
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        self.size, self.length = size, length
        f = size.hidden[-1]
        self.phi_x, self.phi_z = mlp(X_DIM, size.hidden), mlp(size.z_dim, size.hidden)
        self.prior, self.prior_head = mlp(size.rnn, size.hidden), GaussianHead(f, size.z_dim)
        self.encoder = mlp(f + size.rnn, size.hidden)
        self.encoder_head = GaussianHead(f, size.z_dim)
        self.decoder = mlp(f + size.rnn, size.hidden)
        self.output_head = nn.Linear(f, X_DIM)  # pen-up logit, offset mean (dx, dy)
        self.cell = nn.LSTMCell(2 * f, size.rnn)

    # ------------------------------------------------------------------ building blocks
    @property
    def device(self) -> torch.device:
        return self.output_head.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def initial_state(self, n: int) -> tuple[Tensor, Tensor]:
        h = torch.zeros(n, self.size.rnn, device=self.device)
        return h, torch.zeros_like(h)

    def prior_params(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """(mu_0, std_0) of p(z_t | h_{t-1})."""
        return self.prior_head(self.prior(h))

    def posterior_params(self, fx: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """(mu_q, std_q) of q(z_t | x_t, h_{t-1}) from phi_x(x_t)."""
        return self.encoder_head(self.encoder(torch.cat([fx, h], -1)))

    def decode(self, fz: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """(pen-up logit [.., 1], offset mean [.., 2]) of p(x_t | z_t, h_{t-1})."""
        out = self.output_head(self.decoder(torch.cat([fz, h], -1)))
        return out[..., :1], out[..., 1:]

    def recur(self, fx: Tensor, fz: Tensor, state: tuple[Tensor, Tensor]
              ) -> tuple[Tensor, Tensor]:
        """h_t, c_t = LSTM([phi_x(x_t), phi_z(z_t)], (h_{t-1}, c_{t-1}))."""
        return self.cell(torch.cat([fx, fz], -1), state)

    def encoder_parameters(self) -> Iterable[nn.Parameter]:
        """The parameters of q only (phi_x is shared with the generative model)."""
        return [*self.encoder.parameters(), *self.encoder_head.parameters()]

    # ------------------------------------------------------------------ ELBO
    def neg_elbo(self, x: Tensor, mask: Tensor,
                 generator: torch.Generator | None = None) -> VRNNELBO:
        """Negative ELBO of sequences ``x`` [N, T, 3] with ``mask`` [N, T] (one sample of z).

        Only q, phi_z and the LSTM run step by step; the prior and the decoder, which do not
        feed the recurrence, run once on all steps.
        """
        check_sequences(x, mask)
        n, steps, _ = x.shape
        eps = randn((n, steps, self.size.z_dim), generator, x.device)
        fx, state = self.phi_x(x), self.initial_state(n)
        hs, fzs, qs = [], [], []
        for t in range(steps):
            mu_q, std_q = self.posterior_params(fx[:, t], state[0])
            fz = self.phi_z(mu_q + std_q * eps[:, t])
            hs.append(state[0])
            fzs.append(fz)
            qs.append(torch.stack([mu_q, std_q]))
            state = self.recur(fx[:, t], fz, state)
        h, fz, q = torch.stack(hs, 1), torch.stack(fzs, 1), torch.stack(qs, 2)
        mu_p, std_p = self.prior_params(h)
        logit, mean = self.decode(fz, h)
        kl = gaussian_kl(q[0], q[1], mu_p, std_p).sum(-1)
        recon = (F.binary_cross_entropy_with_logits(logit, x[..., :1], reduction="none")
                 .squeeze(-1) + 0.5 * (x[..., 1:] - mean).pow(2).sum(-1) + math.log(2 * math.pi))
        return VRNNELBO((recon * mask).sum(1), (kl * mask).sum(1), mask.sum(1))

    # ------------------------------------------------------------------ semi-auxiliary form
    def sample_noise(self, n: int, generator: torch.Generator | None = None,
                     length: int | None = None) -> dict[str, Tensor]:
        """eps_t ~ N(0, I) for every z_t and u_t ~ U(0, 1) for every pen bit, t = 1..T."""
        steps = self.length if length is None else length
        device = generator.device if generator is not None else torch.device("cpu")
        return {"z": torch.randn(n, steps, self.size.z_dim, generator=generator, device=device),
                "pen": torch.rand(n, steps, 1, generator=generator, device=device)}

    def check_noise(self, noise: dict[str, Tensor]) -> tuple[int, int]:
        """(N, T) of a noise dict; a ValueError naming what is wrong otherwise."""
        if set(noise) != {"z", "pen"}:
            raise ValueError(f"VRNN noise needs the keys 'z' and 'pen', got {sorted(noise)}")
        z, u = noise["z"], noise["pen"]
        if z.dim() != 3 or z.shape[-1] != self.size.z_dim:
            raise ValueError(f"noise 'z' must be [N, T, {self.size.z_dim}], got "
                             f"{tuple(z.shape)}")
        if tuple(u.shape) != (*z.shape[:2], 1):
            raise ValueError(f"noise 'pen' must be [N, T, 1] = {(*z.shape[:2], 1)}, got "
                             f"{tuple(u.shape)}")
        return z.shape[0], z.shape[1]

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        """Ancestral sampling with ``noise``; a value in ``parents`` (e.g. ``"pen3"``) replaces
        the model's own one where it is fed forward."""
        if x is not None:
            raise ValueError("the VRNN has no input variable: x must be None (pass the "
                             "teacher's targets as parents)")
        n, steps = self.check_noise(noise)
        eps, u = noise["z"].to(self.device), noise["pen"].to(self.device)
        pass_, state = AncestralPass(), self.initial_state(n)
        for t in range(steps):
            fx, fz = self._step(pass_, t, eps[:, t], u[:, t], state[0], parents)
            state = self.recur(fx, fz, state)
        return pass_

    def _step(self, pass_: AncestralPass, t: int, eps: Tensor, u: Tensor, h: Tensor,
              parents: dict[str, Tensor] | None) -> tuple[Tensor, Tensor]:
        """Record z_t, pen_t and offset_t; return phi_x(x_t), phi_z(z_t) for the LSTM."""
        name = {k: f"{k}{t + 1}" for k in ("z", "pen", "offset")}
        before = tuple(f"{k}{t}" for k in ("z", "pen", "offset")) if t else ()
        mu, std = self.prior_params(h)
        z = pass_.add(Conditional(name["z"], "latent", "gaussian", {"mu": mu, "std": std},
                                  gaussian_sample(mu, std, eps),
                                  parents=(f"eps:{name['z']}", *before)))
        fz = self.phi_z(pick(z, name["z"], parents))
        logit, mean = self.decode(fz, h)
        pen = pass_.add(Conditional(name["pen"], "target", "bernoulli", {"logits": logit},
                                    bernoulli_sample(logit, u), parents=(name["z"], *before)))
        offset = pass_.add(Conditional(name["offset"], "target", "gaussian",
                                       {"mu": mean, "std": torch.ones_like(mean)}, mean,
                                       parents=(name["z"], *before)))
        xt = torch.cat([pick(pen, name["pen"], parents), pick(offset, name["offset"], parents)],
                       -1)
        return self.phi_x(xt), fz

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None,
                 length: int | None = None, noise: dict[str, Tensor] | None = None) -> Tensor:
        """``n`` sequences [n, T, 3] (pen bit, standardised dx, dy) by ancestral sampling
        (from ``noise`` when given)."""
        noise = noise if noise is not None else self.sample_noise(n, generator, length)
        return sequence_of(self.ancestral(noise))


def targets_of(pass_: AncestralPass) -> dict[str, Tensor]:
    """The target samples of a pass (name -> value): the ``parents`` that make another model's
    pass read this model's x_<t, as eq. 4 does."""
    return {c.name: c.sample for c in pass_.targets}


def sequence_of(pass_: AncestralPass) -> Tensor:
    """The [N, T, 3] sequence (pen bit, dx, dy) a VRNN pass produced."""
    steps = len(pass_.conditionals) // 3
    return torch.stack([torch.cat([pass_[f"pen{t}"].sample, pass_[f"offset{t}"].sample], -1)
                        for t in range(1, steps + 1)], 1)


STEP_VARIABLES = ("z", "pen", "offset")


def stack_steps(pass_: AncestralPass) -> AncestralPass:
    """The pass with its per-step conditionals stacked over time: ``z``, ``pen``, ``offset``,
    each with parameters and sample [N, T, ...]. A divergence summed over a stacked conditional
    equals the sum over its T per-step conditionals (the losses of eq. 4 and 6 are sums), with
    3 kernel calls per divergence instead of 3T."""
    steps = len(pass_.conditionals) // len(STEP_VARIABLES)
    out = AncestralPass()
    for name in STEP_VARIABLES:
        per_step = [pass_[f"{name}{t}"] for t in range(1, steps + 1)]
        first = per_step[0]
        out.add(Conditional(name, first.role, first.kind,
                            {k: torch.stack([c.params[k] for c in per_step], 1)
                             for k in first.params},
                            torch.stack([c.sample for c in per_step], 1)))
    return out


def randn(shape: tuple[int, ...], generator: torch.Generator | None,
          device: torch.device) -> Tensor:
    """N(0, I) noise drawn on the generator's device, then moved to ``device``."""
    where = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=where).to(device)


def check_sequences(x: Tensor, mask: Tensor) -> None:
    """``x`` [N, T, 3] with 0/1 pen bits, ``mask`` [N, T]; a ValueError otherwise."""
    if x.dim() != 3 or x.shape[-1] != X_DIM:
        raise ValueError(f"sequences must be [N, T, 3] (pen bit, dx, dy), got {tuple(x.shape)}")
    if tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(f"mask must be [N, T] = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
    pen = x[..., 0]
    if not bool(((pen == 0) | (pen == 1)).all()):
        raise ValueError("the pen-up bit x[..., 0] must be 0 or 1")


@torch.no_grad()
def evaluate_neg_elbo(model: VRNN, x: Tensor, mask: Tensor, *, batch: int = 256,
                      generator: torch.Generator | None = None) -> float:
    """The negative ELBO of ``x`` in nats per step (one z sample per sequence)."""
    model.eval()
    total, steps = 0.0, 0.0
    for i in range(0, len(x), batch):
        out = model.neg_elbo(x[i:i + batch], mask[i:i + batch], generator)
        total += float((out.recon + out.kl).sum())
        steps += float(out.steps.sum())
    return total / steps
