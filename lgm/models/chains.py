"""The toy error-accumulation chains of the KD paper (section 3.2 / fig. 2, section 4.1 / fig. 5).

Both are Markov chains of scalars with ``L`` layers of latent variables ``z_1 .. z_L`` and one
target ``y = z_{L+1}`` (the output whose law the student must mimic; the paper's "output
distribution of the teacher with L-layers latent variables"). Making the last variable the
target is the reading under which L = 1 is a one-latent model and the local and our losses
coincide there (one conditional, y | z_1).

Continuous chain (section 3.2)::

    z_1 ~ U[-1, 1],   z_{i+1} | z_i ~ N(mu(z_i), 0.1^2),   mu(z) = sign(z) |z|^1.1

Binomial chain (section 4.1)::

    z_1 ~ U[0, 1],    z_{i+1} | z_i ~ B(1000, z_i / 1000)

(Taken literally, as printed: the mean is preserved, E z_{i+1} = E z_i = 1/2, so the counts form
a critical branching process; most chains die out at 0 and the survivors grow.)

Semi-auxiliary form (section 3.1). ``z_1``'s law has no parameters, so teacher and student share
it exactly, like the auxiliary roots: it is drawn from ``noise["z1"] = u ~ U(0, 1)`` and never
recorded as a conditional (nothing to distil). Every later variable is a :class:`Conditional`
naming its parent; its sample comes from its own entry of the noise:

- Gaussian: ``z = mu + std * eps``, ``eps ~ N(0, 1)`` (the reparameterisation);
- binomial: ``z = F^{-1}(u)``, the inverse CDF of B(1000, p) at ``u ~ U(0, 1)``: one uniform per
  draw, so teacher and student share it and their draws agree wherever their CDFs do. No
  gradient flows through the integer draw; that is where the latent loss (eq. 6) is needed.

The target's draw also comes from the noise (key ``"y"``) so that a pass is a deterministic
function of its noise; the losses never compare the targets' draws, only their conditionals.

Students (section 3.2: "neural networks with proper residual structure"): every conditional has
its own small residual network (:class:`Residual`, 1 -> ``hidden`` -> 1, tanh, PyTorch's default
init, so each layer starts as a random perturbation of its skip connection):

- Gaussian: mean = z + MLP(z), its own std = exp(log_std), log_std starting at log(``std0``);
- binomial: logits = logit(z / 1000) + MLP(log(1 + z)). The skip is the identity in the mean
  count (E z_{i+1} = z_i) and in the log-rate; the residual multiplies the rate by
  exp(MLP), so a student with a residual of zero would be the teacher, and the random init
  makes each layer's branching slightly super- or sub-critical until distillation cancels it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from lgm.models.semi_auxiliary import AncestralPass, Conditional, gaussian_sample, pick

P_MIN = 1e-9  # the teacher's rate at z = 0 (logit(0) = -inf); revival chance 1e-6 per layer
LOGIT_MAX = math.log((1 - P_MIN) / P_MIN)  # |logit| cap: 1 - P_MIN is 1 in float32


def rate_logits(z: Tensor, total_count: int) -> Tensor:
    """logit(z / n) with the rate in [P_MIN, 1 - P_MIN] (the logit capped at +-LOGIT_MAX, so
    z = n gives a finite logit in float32 too)."""
    return torch.logit((z / total_count).clamp(P_MIN, 1.0)).clamp(-LOGIT_MAX, LOGIT_MAX)


def power_mean(z: Tensor, power: float = 1.1) -> Tensor:
    """mu(z) = sign(z) |z|^power, the teacher's mean map of section 3.2."""
    return torch.sign(z) * z.abs().pow(power)


def chain_names(layers: int) -> list[str]:
    """Names of the recorded conditionals: z_2 .. z_L (latent) and y (target)."""
    return [f"z{i}" for i in range(2, layers + 1)] + ["y"]


@functools.lru_cache(maxsize=64)
def _log_choose(total_count: int, top: int, device: str) -> tuple[Tensor, Tensor]:
    """k = 0..top and log C(total_count, k), float64 (cached: the chains reuse them)."""
    k = torch.arange(top + 1, dtype=torch.float64, device=device)
    return k, (math.lgamma(total_count + 1) - torch.lgamma(k + 1)
               - torch.lgamma(total_count - k + 1))


def window_draws(lo: Tensor, p: Tensor, log_q: Tensor, u: Tensor, offsets: Tensor,
                 log_choose: Tensor) -> Tensor:
    """Inverse-CDF draws of B(n, p) (n = len(log_choose) - 1) searched on k = lo + offsets."""
    n = len(log_choose) - 1
    k = lo[:, None] + offsets
    kc = k.clamp(max=n)
    log_pmf = log_choose[kc.long()] + kc * torch.log(p[:, None]) + (n - kc) * log_q[:, None]
    cdf = (log_pmf.exp() * (k <= n)).cumsum(-1)
    below = (cdf < u[:, None]).sum(-1).clamp(max=len(offsets) - 1)
    return (lo + below).clamp(max=n)


def binomial_inverse_cdf(total_count: int, probs: Tensor, u: Tensor,
                         kernel: Callable[..., Tensor] = window_draws) -> Tensor:
    """The smallest k with P(B(total_count, p) <= k) >= u, elementwise (no gradient).

    Exact up to mass below 1e-15: k = 0 wherever u <= (1 - p)^n (most rows of a dying chain);
    elsewhere the pmf is evaluated in float64 on a window [lo, lo + W) around the mean,
    lo = max(0, mean - 8 sd - 8), up to mean + 8 sd + 8 (rows grouped by width, so a few large
    counts do not make every row pay for them).
    log pmf(k) = log C(n, k) + k log p + (n - k) log(1 - p); p is clamped to [1e-12, 1 - 1e-12].
    ``kernel``: :func:`window_draws` or a compiled version of it.
    """
    if probs.shape != u.shape:
        raise ValueError(f"noise shape {tuple(u.shape)} != probs shape {tuple(probs.shape)}")
    n = total_count
    with torch.no_grad():
        p_flat, u_flat = probs.detach().reshape(-1), u.detach().reshape(-1)
        # u <= P(k = 0) = (1 - p)^n: the draw is 0. Decided in the input's precision with a
        # margin; rows near the boundary go through the exact float64 search below.
        p0 = torch.exp(n * torch.log1p(-p_flat.clamp(1e-12, 1 - 1e-6)))
        rest = (u_flat > p0 * (1 - 1e-4)).nonzero()[:, 0]
        draws = torch.zeros(len(p_flat), dtype=torch.float64, device=p_flat.device)
        if len(rest):
            pr = p_flat[rest].double().clamp(1e-12, 1 - 1e-12)
            ur, lq = u_flat[rest].double(), torch.log1p(-pr)
            mean, sd = n * pr, (n * pr * (1 - pr)).sqrt()
            lo = (mean - 8 * sd - 8).clamp(min=0).floor()
            width = (mean + 8 * sd + 9).ceil().clamp(max=n + 1) - lo
            # widths 16, 32, 64, then multiples of 64
            bucket = torch.where(width <= 64, 2 ** torch.log2(width).ceil().clamp(min=4),
                                 (width / 64).ceil() * 64)
            out = torch.zeros_like(pr)
            _, log_choose = _log_choose(n, n, str(pr.device))
            for b in bucket.unique().tolist():
                rows = (bucket == b).nonzero()[:, 0]
                offsets = torch.arange(int(min(b, n + 1)), dtype=torch.float64,
                                       device=pr.device)
                out[rows] = kernel(lo[rows], pr[rows], lq[rows], ur[rows], offsets, log_choose)
            draws[rest] = out
    return draws.to(probs.dtype).reshape(probs.shape)


def _check_noise(noise: dict[str, Tensor], names: list[str]) -> int:
    """The batch size of ``noise`` after checking it holds [N, 1] tensors for every name."""
    missing = [k for k in names if k not in noise]
    if missing:
        raise ValueError(f"noise lacks {missing}; a chain needs {names}")
    n = noise[names[0]].shape[0]
    for k in names:
        if noise[k].shape != (n, 1):
            raise ValueError(f"noise[{k!r}] has shape {tuple(noise[k].shape)}, expected ({n}, 1)")
    return n


class Residuals(nn.Module):
    """K independent scalar residual branches r_i(h) = w2_i . tanh(w1_i h + b1_i) + b2_i.

    Stored as stacked [K, hidden] tensors (one small network per conditional, evaluated one
    layer at a time without module-call overhead). First layer: PyTorch's default Linear(1, H)
    init, U(-1, 1); output layer zero ("proper residual structure": every branch starts at 0,
    the student at its skip connection), unless ``zero_init=False`` (default Linear(H, 1)
    init, U(-1/sqrt(H), 1/sqrt(H))).
    """

    def __init__(self, count: int, hidden: int, zero_init: bool = True) -> None:
        super().__init__()
        if count < 1 or hidden < 1:
            raise ValueError(f"need count >= 1 and hidden >= 1, got {count}, {hidden}")
        bound = 1 / math.sqrt(hidden)
        self.w1 = nn.Parameter(torch.empty(count, hidden).uniform_(-1, 1))
        self.b1 = nn.Parameter(torch.empty(count, hidden).uniform_(-1, 1))
        out = torch.zeros if zero_init else (lambda *s: torch.empty(*s).uniform_(-bound, bound))
        self.w2 = nn.Parameter(out(count, hidden))
        self.b2 = nn.Parameter(out(count))

    def forward(self, i: int, h: Tensor) -> Tensor:
        """r_i(h) for h of shape [N, 1]."""
        return torch.tanh(h * self.w1[i] + self.b1[i]) @ self.w2[i][:, None] + self.b2[i]


class Chain(nn.Module):
    """A chain z_1 -> z_2 -> ... -> z_L -> y in semi-auxiliary form; subclasses give the
    conditionals' kind and parameters (``conditional(i, z)`` for the i-th recorded one)."""

    kind: str = ""

    def __init__(self, layers: int) -> None:
        super().__init__()
        if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
            raise ValueError(f"layers must be an int >= 1, got {layers!r}")
        self.layers = layers
        self.names = chain_names(layers)
        self.register_buffer("anchor", torch.zeros(()), persistent=False)  # tracks .to(device)

    def root(self, u: Tensor) -> Tensor:
        raise NotImplementedError

    def conditional(self, i: int, z: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    def draw(self, params: dict[str, Tensor], eps: Tensor) -> Tensor:
        raise NotImplementedError

    def noise_like(self, n: int, generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        """{"z1": u ~ U(0,1)} and one auxiliary draw per recorded conditional, each [n, 1]."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        noise = {"z1": torch.rand(n, 1, generator=generator)}
        noise.update({k: self.noise_like(n, generator) for k in self.names})
        return noise

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        """Ancestral sampling with ``noise``; with ``parents``, each conditional is evaluated
        at the given parent value (the local baseline). z_1 is shared (parameter-free)."""
        if x is not None:
            raise ValueError("a chain has no input variable; pass x=None")
        _check_noise(noise, ["z1", *self.names])
        z, prev, pass_ = self.root(noise["z1"]), "z1", AncestralPass()
        for i, name in enumerate(self.names):
            z_in = z if prev == "z1" else pick(z, prev, parents)
            params = self.conditional(i, z_in)
            role = "target" if name == "y" else "latent"
            z = pass_.add(Conditional(name, role, self.kind, params,
                                      self.draw(params, noise[name]),
                                      total_count=getattr(self, "total_count", None),
                                      parents=(prev,)))
            prev = name
        return pass_

    @torch.no_grad()
    def sample_output(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws of the target y, shape [n], on the model's device (for the density-ratio
        KL)."""
        noise = {k: v.to(self.anchor.device) for k, v in self.sample_noise(n, generator).items()}
        return self.ancestral(noise)["y"].sample[:, 0]


# ------------------------------------------------------------------ continuous (section 3.2)
class GaussianChain(Chain):
    """Gaussian conditionals; z_1 = 2u - 1 ~ U[-1, 1]."""

    kind = "gaussian"

    def root(self, u: Tensor) -> Tensor:
        return 2 * u - 1

    def draw(self, params: dict[str, Tensor], eps: Tensor) -> Tensor:
        return gaussian_sample(params["mu"], params["std"], eps)

    def noise_like(self, n: int, generator: torch.Generator | None) -> Tensor:
        return torch.randn(n, 1, generator=generator)


class GaussianChainTeacher(GaussianChain):
    """The exact teacher: z_{i+1} | z_i ~ N(sign(z_i)|z_i|^power, std^2), std = 0.1."""

    def __init__(self, layers: int, power: float = 1.1, std: float = 0.1) -> None:
        super().__init__(layers)
        if not std > 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.power, self.std = power, std

    def conditional(self, i: int, z: Tensor) -> dict[str, Tensor]:
        return {"mu": power_mean(z, self.power), "std": torch.full_like(z, self.std)}


class GaussianChainStudent(GaussianChain):
    """Residual student: mean = z + MLP_i(z), std = exp(log_std_i), one network per layer."""

    def __init__(self, layers: int, hidden: int = 16, std0: float = 0.2,
                 zero_init: bool = True) -> None:
        super().__init__(layers)
        if not std0 > 0:
            raise ValueError(f"std0 must be > 0, got {std0}")
        self.residuals = Residuals(len(self.names), hidden, zero_init)
        self.log_std = nn.Parameter(torch.full((len(self.names),), math.log(std0)))

    def conditional(self, i: int, z: Tensor) -> dict[str, Tensor]:
        mu = z + self.residuals(i, z)
        return {"mu": mu, "std": self.log_std[i].exp().expand_as(mu)}


# ------------------------------------------------------------------ binomial (section 4.1)
class BinomialChain(Chain):
    """Binomial conditionals B(total_count, sigmoid(logits)); z_1 = u ~ U[0, 1]."""

    kind = "binomial"

    def __init__(self, layers: int, total_count: int = 1000, root_high: float = 1.0) -> None:
        super().__init__(layers)
        if not isinstance(total_count, int) or total_count < 1:
            raise ValueError(f"total_count must be an int >= 1, got {total_count!r}")
        if not 0 < root_high <= total_count:
            raise ValueError(f"root_high must be in (0, total_count], got {root_high!r}")
        self.total_count, self.root_high = total_count, float(root_high)

    def root(self, u: Tensor) -> Tensor:
        """z_1 = root_high * u ~ U[0, root_high] (the paper: U[0, 1])."""
        return self.root_high * u

    def base_logits(self, z: Tensor) -> Tensor:
        """logit(z / total_count), the rate clamped to [P_MIN, 1 - P_MIN]."""
        return rate_logits(z, self.total_count)

    def draw(self, params: dict[str, Tensor], eps: Tensor) -> Tensor:
        return binomial_inverse_cdf(self.total_count, torch.sigmoid(params["logits"]), eps)

    def noise_like(self, n: int, generator: torch.Generator | None) -> Tensor:
        return torch.rand(n, 1, generator=generator)


class BinomialChainTeacher(BinomialChain):
    """The exact teacher: z_{i+1} | z_i ~ B(1000, z_i / 1000)."""

    def conditional(self, i: int, z: Tensor) -> dict[str, Tensor]:
        return {"logits": self.base_logits(z)}


class BinomialChainStudent(BinomialChain):
    """Residual logits: logit(z / 1000) + MLP_i(log(1 + z)), one network per layer."""

    def __init__(self, layers: int, total_count: int = 1000, hidden: int = 16,
                 zero_init: bool = False) -> None:
        super().__init__(layers, total_count)
        self.residuals = Residuals(len(self.names), hidden, zero_init)

    def conditional(self, i: int, z: Tensor) -> dict[str, Tensor]:
        return {"logits": self.base_logits(z) + self.residuals(i, torch.log1p(z))}


# ------------------------------------------------------------------ many students at once
STUDENT_FORMS = ("residual", "mlp")


def scalar_mlps(h: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
    """n scalar networks w2 . tanh(w1 h + b1) + b2 ([n, H] weights, [n] b2) on h [n, K]."""
    hidden = torch.tanh(torch.addcmul(b1[:, None, :], h[..., None], w1[:, None, :]))
    return torch.bmm(hidden, w2[:, :, None])[..., 0] + b2[:, None]


class StackedChainStudents(nn.Module):
    """C independent student chains of up to J conditionals each, as one set of stacked tensors.

    Chain c, conditional j has its own scalar network r_cj(h) = w2 . tanh(w1 h + b1) + b2 of
    ``hidden`` units (parameters [C, J, H]); chains are meant to be ordered by depth, deepest
    first, so that the chains still running at layer j are a prefix ``[:n]``. ``form``:

    - ``"residual"`` (section 3.2's "proper residual structure", the teacher's form plus a
      residual): Gaussian mean z + r(z); binomial logits logit(z / n) + r(log(1 + z));
    - ``"mlp"`` (a plain network of limited width): Gaussian mean r(z); binomial logits
      r(log(1 + z)).

    Gaussian conditionals have their own std exp(log_std_cj), starting at ``std0``. Chain c's
    initial weights come from ``torch.Generator().manual_seed(init_seeds[c])`` (so a chain starts
    the same whatever else is stacked with it): first layer U(-1, 1) (PyTorch's Linear(1, H)),
    output layer zero when ``zero_init`` (the residual form starts at its skip connection), else
    U(-1/sqrt(H), 1/sqrt(H)). Adam on the stack is Adam on each chain (it is elementwise).
    """

    def __init__(self, kind: str, init_seeds: list[int], layers: int, hidden: int = 16,
                 form: str = "residual", zero_init: bool = True, std0: float = 0.2,
                 total_count: int = 1000, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if kind not in ("gaussian", "binomial"):
            raise ValueError(f"kind must be gaussian or binomial, got {kind!r}")
        if form not in STUDENT_FORMS:
            raise ValueError(f"form must be one of {STUDENT_FORMS}, got {form!r}")
        if not init_seeds or layers < 1 or hidden < 1:
            raise ValueError("need at least one chain, layers >= 1 and hidden >= 1")
        if not std0 > 0:
            raise ValueError(f"std0 must be > 0, got {std0}")
        self.kind, self.form, self.total_count = kind, form, total_count
        self.mlp: Callable[..., Tensor] = scalar_mlps  # may be swapped for a compiled version
        self.window: Callable[..., Tensor] = window_draws  # likewise
        bound = 1 / math.sqrt(hidden)
        parts: dict[str, list[Tensor]] = {"w1": [], "b1": [], "w2": [], "b2": []}
        for seed in init_seeds:
            g = torch.Generator().manual_seed(int(seed))
            parts["w1"].append(torch.rand(layers, hidden, generator=g, dtype=torch.float64) * 2 - 1)
            parts["b1"].append(torch.rand(layers, hidden, generator=g, dtype=torch.float64) * 2 - 1)
            w2 = (torch.rand(layers, hidden, generator=g, dtype=torch.float64) * 2 - 1) * bound
            b2 = (torch.rand(layers, generator=g, dtype=torch.float64) * 2 - 1) * bound
            parts["w2"].append(w2 * (not zero_init))
            parts["b2"].append(b2 * (not zero_init))
        for name, values in parts.items():
            setattr(self, name, nn.Parameter(torch.stack(values).to(dtype)))
        if kind == "gaussian":
            self.log_std = nn.Parameter(torch.full((len(init_seeds), layers), math.log(std0),
                                                   dtype=dtype))

    @property
    def chains(self) -> int:
        return self.w1.shape[0]

    def residual(self, j: int, h: Tensor) -> Tensor:
        """r_cj(h) for the first n = h.shape[0] chains, h of shape [n, K]."""
        n = h.shape[0]
        return self.mlp(h, self.w1[:n, j], self.b1[:n, j], self.w2[:n, j], self.b2[:n, j])

    def conditional(self, j: int, z: Tensor) -> dict[str, Tensor]:
        """The parameters of conditional j of the first z.shape[0] chains at parent values z
        ([n, K]): {"mu", "std"} or {"logits"}, each [n, K]."""
        if self.kind == "gaussian":
            r = self.residual(j, z)
            mu = z + r if self.form == "residual" else r
            return {"mu": mu, "std": self.log_std[: z.shape[0], j, None].exp().expand_as(mu)}
        r = self.residual(j, torch.log1p(z))
        if self.form == "mlp":
            return {"logits": r}
        return {"logits": rate_logits(z, self.total_count) + r}

    def draw(self, params: dict[str, Tensor], noise: Tensor) -> Tensor:
        """The next variable from its parameters and the shared noise (eps or u)."""
        if self.kind == "gaussian":
            return gaussian_sample(params["mu"], params["std"], noise)
        return binomial_inverse_cdf(self.total_count, torch.sigmoid(params["logits"]), noise,
                                    self.window)
