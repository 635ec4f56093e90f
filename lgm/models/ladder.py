"""The 5-layer ladder VAE of the KD paper's Table 1 (section 3.6, fig. 4a; Sønderby et al. 2016).

Generative model (top-down), with 16 latent channels in every layer::

    z5 ~ N(0, I)                                   (shared prior: not distilled)
    z_i | z_{i+1} ~ N(mu_i(z_{i+1}), std_i(z_{i+1})^2),   i = 4, 3, 2, 1
    y | z1 ~ N(m(z1), sigma^2 I),   sigma = sqrt(beta / 2), beta = 0.1     (the image)

Latent maps at 32x32 input: z1 16x16x16, z2 16x8x8, z3 16x4x4, z4 16x2x2, z5 16x1x1; at
64x64 (CelebA): 16x32x32, 16x16x16, 16x8x8, 16x4x4, 16x1x1 (the top stages resample twice).

Inference (bottom-up, then top-down): the encoder gives Gaussians N(mu_u,i, std_u,i) per layer;
the posterior of z5 is the top one, and each lower posterior is the precision-weighted merge
of the bottom-up Gaussian and the top-down prior (Sønderby et al., eq. 18-19). Every standard
deviation is ``softplus(a) / ln 2 + 1e-6`` (1 at a = 0).

Building blocks (from the notes on the authors' code): residual blocks of two 3x3 conv + BN +
ReLU with a 1x1 shortcut when the shape changes, two blocks per stage; the encoder's first
stage starts with a 5x5 stride-2 conv; the decoder upsamples by nearest neighbour; each stage
ends with a 1x1 head giving (mean, std pre-activation) of the next latent. The only size knob
is the channel width ``h``.

Parameter counts (encoder + decoder, as in the paper's Table 1) with 3 image channels:
32x32: h=128 5,386,502 (5.387M), 16: 101,670, 8: 30,422, 4: 10,110; 64x64: h=128 6,600,966
(6.601M), 32: 442,950, 16: 120,870, 8: 35,286. The image head outputs 2C channels (mean and a
log-scale that the fixed-sigma likelihood leaves unused), as in the authors' code, so the
counts match; with the bias of that head (2C parameters) every count matches the stated
digits (without it 32x32 h=128 would be 5,386,496 = 5.386M; the paper prints 5.39M).

In semi-auxiliary form (section 3.1) the auxiliary noise is ``{"z5": z5, "z4": eps4, ...,
"z1": eps1}`` with z_i = mu_i + std_i * eps_i; teacher and student share it, so the student
reruns ancestral sampling through its own conditionals (eq. 7, Algorithm 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lgm.models.semi_auxiliary import AncestralPass, Conditional, gaussian_kl, gaussian_sample, pick

LATENT_NAMES = ("z1", "z2", "z3", "z4", "z5")
TOP = "z5"
TARGET = "y"
IMAGE_SIZES = (32, 64)
STD_FLOOR = 1e-6
LN2 = math.log(2.0)


def gaussian_params(head: Tensor) -> tuple[Tensor, Tensor]:
    """Split a head's 2k channels into (mu, std), std = softplus(.) / ln 2 + 1e-6."""
    if head.shape[1] % 2:
        raise ValueError(f"a Gaussian head needs an even channel count, got {head.shape[1]}")
    mu, pre = head.chunk(2, dim=1)
    return mu, F.softplus(pre) / LN2 + STD_FLOOR


def precision_weighted(mu_a: Tensor, std_a: Tensor, mu_b: Tensor,
                       std_b: Tensor) -> tuple[Tensor, Tensor]:
    """Product of two Gaussians, renormalised: the ladder posterior (Sønderby et al. eq. 18-19).

    prec = std_a^-2 + std_b^-2, mu = (mu_a std_a^-2 + mu_b std_b^-2) / prec, std = prec^-1/2.
    """
    prec_a, prec_b = std_a.pow(-2), std_b.pow(-2)
    prec = prec_a + prec_b
    return (mu_a * prec_a + mu_b * prec_b) / prec, prec.rsqrt()


class ResidualBlock(nn.Module):
    """relu(BN(conv3x3(relu(BN(conv3x3(x))))) + shortcut(x)), optionally resampling by 2.

    ``resample``: "down" (first conv and the 1x1 shortcut have stride 2), "up" (nearest
    upsampling before both) or "none". The shortcut is a bias-free 1x1 conv whenever the shape
    changes, the identity otherwise; the convs are bias-free (BN follows them).
    """

    def __init__(self, in_ch: int, out_ch: int, resample: str = "none") -> None:
        super().__init__()
        if resample not in ("down", "up", "none"):
            raise ValueError(f"resample must be 'down', 'up' or 'none', got {resample!r}")
        stride = 2 if resample == "down" else 1
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest") if resample == "up" else None
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        changes = resample != "none" or in_ch != out_ch
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1, stride, bias=False) if changes else None

    def forward(self, x: Tensor) -> Tensor:
        if self.upsample is not None:
            x = self.upsample(x)
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class LadderStage(nn.Module):
    """One stage: ``times`` x (a resampling block + a plain block), then a 1x1 head.

    ``forward`` returns (features, head output); the head gives the (mean, std pre-activation)
    of a latent, or of the image at the bottom of the decoder.
    """

    def __init__(self, in_ch: int, width: int, out_ch: int, resample: str = "none",
                 times: int = 1, head_bias: bool = False) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for t in range(times):
            blocks += [ResidualBlock(in_ch if t == 0 else width, width, resample),
                       ResidualBlock(width, width)]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(width, out_ch, 1, bias=head_bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.blocks(x)
        return h, self.head(h)


def latent_shapes(image_size: int, latent_channels: int = 16) -> list[tuple[int, int, int]]:
    """(C, H, W) of z1..z5: sides image/2, /4, /8, /16 and 1 (32x32: 16, 8, 4, 2, 1)."""
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size}")
    sides = [image_size // 2 ** k for k in (1, 2, 3, 4)] + [1]
    return [(latent_channels, s, s) for s in sides]


@dataclass
class LadderELBO:
    """Per-image negative ELBO ``loss = nll + kl_weight * kl.sum(1)`` and its parts:
    ``nll`` [B] (nats) and ``kl`` [B, 5], KL(q(z_i|.) || p(z_i|z_{i+1})) for z1..z5."""

    loss: Tensor
    nll: Tensor
    kl: Tensor


class LadderVAE(nn.Module):
    """The 5-layer ladder VAE (module docstring), width ``width`` = h."""

    def __init__(self, image_size: int = 32, width: int = 128, channels: int = 3,
                 latent_channels: int = 16, beta: float = 0.1) -> None:
        super().__init__()
        for name, value in (("width", width), ("channels", channels),
                            ("latent_channels", latent_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not beta > 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        self.shapes = latent_shapes(image_size, latent_channels)
        self.image_size, self.width, self.channels, self.beta = image_size, width, channels, beta
        self.sigma = math.sqrt(beta / 2)
        top_times = 2 if image_size == 64 else 1   # 64x64: 4x4 -> 1x1 in one stage
        two_k = 2 * latent_channels
        self.stem = nn.Conv2d(channels, width, 5, 2, 2)
        self.bottom_up = nn.ModuleList(
            [LadderStage(width, width, two_k)]
            + [LadderStage(width, width, two_k, "down") for _ in range(3)]
            + [LadderStage(width, width, two_k, "down", top_times)])
        self.top_down = nn.ModuleList(          # z5 -> z4, z4 -> z3, z3 -> z2, z2 -> z1
            [LadderStage(latent_channels, width, two_k, "up", top_times)]
            + [LadderStage(latent_channels, width, two_k, "up") for _ in range(3)])
        self.image_head = LadderStage(latent_channels, width, 2 * channels, "up",
                                      head_bias=True)

    # ----------------------------------------------------------------- generative model
    def image_mean(self, z1: Tensor) -> Tensor:
        """m(z1): the first C channels of the image head (the decoder mean is the identity)."""
        return self.image_head(z1)[1][:, :self.channels]

    def prior(self, i: int, z_above: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, std) of p(z_i | z_{i+1}) for i = 4..1."""
        return gaussian_params(self.top_down[4 - i](z_above)[1])

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        """z5 ~ N(0, I) and eps_4..eps_1 ~ N(0, I), shaped like the latents, keyed by name."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        device = generator.device if generator is not None else self.stem.weight.device
        return {name: torch.randn((n, *shape), generator=generator, device=device)
                for name, shape in zip(LATENT_NAMES, self.shapes, strict=True)}

    def check_noise(self, noise: dict[str, Tensor]) -> int:
        """The batch size of ``noise``; ValueError unless it has every latent's shape."""
        missing = [k for k in LATENT_NAMES if k not in noise]
        if missing:
            raise ValueError(f"noise lacks {missing}; it needs {list(LATENT_NAMES)}")
        n = noise[TOP].shape[0]
        for name, shape in zip(LATENT_NAMES, self.shapes, strict=True):
            if tuple(noise[name].shape) != (n, *shape):
                raise ValueError(f"noise[{name!r}] has shape {tuple(noise[name].shape)}, "
                                 f"expected {(n, *shape)}")
        return n

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        """Ancestral sampling with ``noise``: z5, then z4..z1 (Gaussian latents), then the
        image target ``y`` (Gaussian, fixed sigma; its value in the pass is its mean).

        With ``parents`` every conditional reads its parent from there (local baseline).
        """
        if x is not None:
            raise ValueError("the ladder VAE is unconditional: x must be None")
        self.check_noise(noise)
        pass_ = AncestralPass()
        z5 = noise[TOP]
        z = pass_.add(Conditional(TOP, "latent", "gaussian", {"mu": torch.zeros_like(z5),
                                  "std": torch.ones_like(z5)}, z5, parents=(f"eps:{TOP}",)))
        for i in (4, 3, 2, 1):
            above = f"z{i + 1}"
            mu, std = self.prior(i, pick(z, above, parents))
            z = pass_.add(Conditional(f"z{i}", "latent", "gaussian", {"mu": mu, "std": std},
                                      gaussian_sample(mu, std, noise[f"z{i}"]),
                                      parents=(above, f"eps:z{i}")))
        mean = self.image_mean(pick(z, "z1", parents))
        pass_.add(Conditional(TARGET, "target", "gaussian",
                              {"mu": mean, "std": torch.full_like(mean, self.sigma)}, mean,
                              parents=("z1",)))
        return pass_

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None,
                 noise: dict[str, Tensor] | None = None, batch: int = 500) -> Tensor:
        """``n`` images (decoder means clipped to [0, 1]) in eval mode, on the model's device.

        ``noise`` (from :meth:`sample_noise`) fixes the draws, e.g. to compare a teacher and a
        student on the same eps.
        """
        noise = noise if noise is not None else self.sample_noise(n, generator)
        device = self.stem.weight.device
        was_training = self.training
        self.eval()
        try:
            out = [self.ancestral({k: v[s:s + batch].to(device) for k, v in noise.items()}
                                  )[TARGET].sample for s in range(0, self.check_noise(noise),
                                                                  batch)]
        finally:
            self.train(was_training)
        return torch.cat(out).clamp_(0.0, 1.0)

    # ----------------------------------------------------------------- inference, ELBO
    def bottom_up_pass(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(mu_u,i, std_u,i) of the encoder's Gaussians for z1..z5."""
        expected = (self.channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images [B, {', '.join(map(str, expected))}], "
                             f"got {tuple(x.shape)}")
        h, out = self.stem(x), []
        for stage in self.bottom_up:
            h, head = stage(h)
            out.append(gaussian_params(head))
        return out

    def neg_elbo(self, x: Tensor, kl_weight: float = 1.0) -> LadderELBO:
        """-ELBO per image: Gaussian NLL of x under N(m(z1), sigma^2) + kl_weight * sum KL.

        Posterior draws use the global RNG (reparameterised). ``kl_weight`` < 1 during the KL
        warm-up (notes: linear over the first 25 of 50 epochs).
        """
        up = self.bottom_up_pass(x)
        mu_q, std_q = up[4]
        z = gaussian_sample(mu_q, std_q, torch.randn_like(mu_q))
        kls = [gaussian_kl(mu_q, std_q, torch.zeros_like(mu_q), torch.ones_like(std_q))]
        for i in (4, 3, 2, 1):
            mu_p, std_p = self.prior(i, z)
            mu_q, std_q = precision_weighted(*up[i - 1], mu_p, std_p)
            z = gaussian_sample(mu_q, std_q, torch.randn_like(mu_q))
            kls.insert(0, gaussian_kl(mu_q, std_q, mu_p, std_p))
        kl = torch.stack([k.flatten(1).sum(1) for k in kls], dim=1)
        resid = (x - self.image_mean(z)) / self.sigma
        nll = (0.5 * resid.pow(2) + math.log(self.sigma * math.sqrt(2 * math.pi))).flatten(1)
        nll = nll.sum(1)
        return LadderELBO(nll + kl_weight * kl.sum(1), nll, kl)


def num_parameters(model: nn.Module) -> int:
    """Trainable parameters (encoder + decoder: how Table 1 counts a model's size)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def millions(count: int) -> str:
    """A parameter count the way Table 1 writes it, with three decimals: '5.387M'."""
    return f"{count / 1e6:.3f}M"
