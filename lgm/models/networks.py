"""Encoder and decoder networks of the paper, and its parameter table.

Source: *Lifelong Generative Modeling*, appendix 7.4.1 ("Model Architecture"), eq. 15 and the
parameter table that follows it; appendix 7.8.2 for the Glorot re-initialisation of the layers
around the latent.

Architecture reading
--------------------
The reading below reproduces six of the ten numbers in the paper's table exactly (EWC-D, EWC-C,
lifelong-D initial, lifelong-C initial and final). It is the only one we found that does so.
The other four are accounted for exactly too; see "The paper's table" below.

Dense (-D), appendix 7.4.1 ("two layers of 512 ... and two layers of 512 to map back")::

    encoder  flatten -> Linear(CHW, 512) -> BN -> ELU -> Linear(512, 2*zc + J)
    decoder  Linear(zc + J, 512) -> BN -> ELU -> Linear(512, 512) -> BN -> ELU
             -> Linear(512, CHW)

  That is two linear layers on the encoder side and three on the decoder side, with three
  512-unit hidden layers in total. The counts rule out four hidden layers (two a side): that
  reading alone is already 1,333,520 parameters, more than the paper's 1,089,830. This is also
  the layout of the authors' helper library (encoder ``nlayers=2``, decoder ``nlayers=3``).

Convolutional (-C), eq. 15, every convolution *gated*::

    encoder  resize to 32x32 -> [32,(5,5),1] -> [64,(4,4),2] -> [128,(4,4),1] -> [256,(4,4),2]
             -> [512,(4,4),1] -> [512,(1,1),1] -> [2*zc + J,(1,1),1]      (BN+ELU between)
    decoder  [256,(4,4),1]^T -> [128,(4,4),2]^T -> [64,(4,4),1]^T -> [32,(4,4),2]^T
             -> [32,(5,5),1]^T -> plain [C,(1,1),1] -> resize to HxW      (BN+ELU between)

  A gated layer is ``h(x) * sigmoid(g(x))``, where ``h`` and ``g`` are two convolutions of the
  same shape, so it has twice the parameters of a plain one. All of them are gated except the
  decoder's output convolution. This is the authors' default (gated convolutions). Without the
  gates no reading of the conv counts works. Eq. 15 prints the fifth encoder layer as
  ``[512,(1,1),1]``. The counts need ``(4,4)``, which is also what brings the 4x4 map down to
  1x1. Images are resized bilinearly to 32x32 going in and from 32x32 coming out, as in the
  reference code.

Latent sizes. The table's "z_c dimension 14" is the number of Gaussian *encoder outputs*, i.e. a
mean and a log-variance for a **7-dimensional** z_c (the reference code's ``continuous_size=14``).
With z_c = 7 and J = 10 the encoder emits 2*7 + 10 = 24 numbers and the decoder reads 7 + 10 = 17.
Reading z_c as 14 latent dimensions cannot work: the lifelong-D figures then overshoot for every
J. The table is therefore built with ``zc=7`` (:data:`TABLE_ZC`).

Only ``nn.Parameter`` tensors are counted. BatchNorm's affine weight and bias are counted, its
running statistics are not. No extra scalar is needed.

The paper's table (``parameter_table``), with P(J) the parameters of one encoder + decoder pair:

* EWC-D / EWC-C: 4 x P(10) without BatchNorm. That is student + teacher, each with a diagonal
  Fisher of its own size (the paper: EWC "has double the number of parameters" and "also needs
  the preservation of the teacher"). Exact for both.
* lifelong initial: the first student-teacher pair, teacher J=1 + student J=2. Exact for both
  (2,165,311 and 15,235,072).
* lifelong final: teacher J=9 + student J=10. Exact for conv (15,382,560). The dense figure
  2,179,661 is P(9) + P(8), one fork earlier. Ours is 2,050 higher: 2 x 1,025, one discrete
  unit (513 encoder + 512 decoder parameters) in each of the two models.
* vanilla and the first "full" column: one model, P(10). The paper prints half of its lifelong
  final figure here (7,691,280 = 15,382,560 / 2; 1,089,830 = floor(2,179,661 / 2)). That would
  be a model with J = 9.5 (conv) or 8.5 (dense), which does not exist. Ours is 7,695,889
  (+4,609) and 1,091,368 (+1,538).
* the second "full" column: student + teacher, both J=10 ("full representation throughout").
  The paper repeats its lifelong final figure. Ours is 15,391,778 (+9,218) and 2,182,736
  (+3,075).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lgm.models.stacked import (
    StackedBatchNorm,
    StackedConv2d,
    StackedLinear,
    from_grouped,
    glorot_,
    to_grouped,
)

HIDDEN = 512
"""Width of the dense hidden layers (appendix 7.4.1)."""

CONV_SIZE = (32, 32)
"""Working resolution of the conv networks; other image sizes are resized bilinearly."""

FILTERS = 32
"""Base number of feature maps of eq. 15 (32, 64, 128, 256, 512)."""

TABLE_IMAGE_SHAPE = (1, 28, 28)
"""FashionMNIST, the data set of the parameter table (experiment 5.1)."""

TABLE_ZC = 7
"""z_c dimension behind the table's "14" column (14 = mean + log-variance outputs)."""


# --------------------------------------------------------------------------- building blocks
Generators = Sequence[torch.Generator]


class Gated(nn.Module):
    """Gated layer ``feature(x) * sigmoid(gate(x))``; ``feature`` and ``gate`` share a shape."""

    def __init__(self, feature: nn.Module, gate: nn.Module) -> None:
        super().__init__()
        self.feature = feature
        self.gate = gate

    def forward(self, x: Tensor) -> Tensor:
        return self.feature(x) * torch.sigmoid(self.gate(x))


def _gated_conv(c_in: int, c_out: int, kernel: int, stride: int, gens: Generators, *,
                transpose: bool = False) -> Gated:
    """Gated (transposed) convolution without padding, the layer of eq. 15."""
    return Gated(StackedConv2d(c_in, c_out, kernel, stride, gens, transpose=transpose),
                 StackedConv2d(c_in, c_out, kernel, stride, gens, transpose=transpose))


def _norm_act(features: int, batchnorm: bool, seeds: int, conv: bool) -> list[nn.Module]:
    """``BN + ELU`` (appendix 7.4.1); just ``ELU`` without BatchNorm (the EWC models)."""
    return ([StackedBatchNorm(seeds, features, conv=conv)] if batchnorm else []) + [nn.ELU()]


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of ``[..., C, H, W]`` images, or ``x`` itself when the size matches."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    flat = x.reshape(-1, *x.shape[-3:])
    out = F.interpolate(flat, size=size, mode="bilinear", align_corners=False)
    return out.view(*x.shape[:-2], *size)


def _check_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """``image_shape`` as a tuple of three positive ints, or ``ValueError``."""
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {image_shape}")
    return shape[0], shape[1], shape[2]


# --------------------------------------------------------------------------- dense (-D)
class DenseEncoder(nn.Module):
    """``flatten -> Linear(CHW, 512) -> [BN] -> ELU -> Linear(512, out)`` (appendix 7.4.1).

    ``[S, B, C, H, W] -> [S, B, out]``.
    """

    def __init__(self, image_shape: tuple[int, int, int], out_features: int,
                 batchnorm: bool, gens: Generators) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            StackedLinear(math.prod(image_shape), HIDDEN, gens),
            *_norm_act(HIDDEN, batchnorm, len(gens), conv=False),
        )
        self.latent_projection = StackedLinear(HIDDEN, out_features, gens)

    def forward(self, x: Tensor) -> Tensor:
        return self.latent_projection(self.trunk(x.flatten(2)))


class DenseDecoder(nn.Module):
    """``Linear(in, 512) -> [BN] -> ELU -> Linear(512, 512) -> [BN] -> ELU -> Linear(512, CHW)``.

    ``[S, B, in] -> [S, B, C, H, W]``.
    """

    def __init__(self, in_features: int, image_shape: tuple[int, int, int],
                 batchnorm: bool, gens: Generators) -> None:
        super().__init__()
        self.image_shape = image_shape
        seeds = len(gens)
        self.latent_input = StackedLinear(in_features, HIDDEN, gens)
        self.body = nn.Sequential(
            *_norm_act(HIDDEN, batchnorm, seeds, conv=False),
            StackedLinear(HIDDEN, HIDDEN, gens), *_norm_act(HIDDEN, batchnorm, seeds, conv=False),
            StackedLinear(HIDDEN, math.prod(image_shape), gens),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.latent_input(z)).view(*z.shape[:2], *self.image_shape)


# --------------------------------------------------------------------------- conv (-C)
_ENCODER_LAYERS = (  # (out channels as a multiple of FILTERS, kernel, stride); eq. 15
    (1, 5, 1), (2, 4, 2), (4, 4, 1), (8, 4, 2), (16, 4, 1), (16, 1, 1),
)
_DECODER_LAYERS = (  # after the latent input [8*FILTERS, (4,4), 1]; eq. 15
    (4, 4, 2), (2, 4, 1), (1, 4, 2), (1, 5, 1),
)


class ConvEncoder(nn.Module):
    """Gated conv encoder of eq. 15: 32x32 input -> 512x1x1 -> gated 1x1 latent projection.

    ``[S, B, C, H, W] -> [S, B, out]``; inside, the grouped layout ``[B, S*C, H, W]``.
    """

    def __init__(self, image_shape: tuple[int, int, int], out_features: int,
                 batchnorm: bool, gens: Generators) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, seeds = image_shape[0], len(gens)
        for mult, kernel, stride in _ENCODER_LAYERS:
            layers += [_gated_conv(c_in, mult * FILTERS, kernel, stride, gens),
                       *_norm_act(mult * FILTERS, batchnorm, seeds, conv=True)]
            c_in = mult * FILTERS
        self.trunk = nn.Sequential(*layers)
        self.latent_projection = _gated_conv(c_in, out_features, 1, 1, gens)

    def forward(self, x: Tensor) -> Tensor:
        seeds = x.shape[0]
        h = self.latent_projection(self.trunk(to_grouped(_resize(x, CONV_SIZE))))
        return h.view(h.shape[0], seeds, -1).transpose(0, 1)


class ConvDecoder(nn.Module):
    """Gated conv-transpose decoder of eq. 15: ``in x 1 x 1 -> C x 32 x 32 -> C x H x W``.

    ``[S, B, in] -> [S, B, C, H, W]``.
    """

    def __init__(self, in_features: int, image_shape: tuple[int, int, int],
                 batchnorm: bool, gens: Generators) -> None:
        super().__init__()
        self.image_shape, seeds = image_shape, len(gens)
        c_in = 8 * FILTERS
        self.latent_input = _gated_conv(in_features, c_in, 4, 1, gens, transpose=True)
        layers: list[nn.Module] = [*_norm_act(c_in, batchnorm, seeds, conv=True)]
        for mult, kernel, stride in _DECODER_LAYERS:
            layers += [_gated_conv(c_in, mult * FILTERS, kernel, stride, gens, transpose=True),
                       *_norm_act(mult * FILTERS, batchnorm, seeds, conv=True)]
            c_in = mult * FILTERS
        layers.append(StackedConv2d(c_in, image_shape[0], 1, 1, gens))  # plain output layer
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        seeds, b = z.shape[:2]
        h = self.body(self.latent_input(z.transpose(0, 1).reshape(b, -1, 1, 1)))
        return _resize(from_grouped(h, seeds), self.image_shape[1:])


# --------------------------------------------------------------------------- public API
def _networks(arch: str) -> tuple[type[nn.Module], type[nn.Module]]:
    """The (encoder, decoder) classes of ``arch``."""
    networks = {"dense": (DenseEncoder, DenseDecoder), "conv": (ConvEncoder, ConvDecoder)}
    if arch not in networks:
        raise ValueError(f"arch must be 'dense' or 'conv', got {arch!r}")
    return networks[arch]


def _positive(name: str, value: int) -> int:
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _generators(seeds: Sequence[int] | Generators) -> list[torch.Generator]:
    gens = [s if isinstance(s, torch.Generator) else torch.Generator().manual_seed(int(s))
            for s in seeds]
    if not gens:
        raise ValueError("need at least one seed")
    return gens


def build_encoder(arch: str, image_shape: tuple[int, int, int], out_features: int, *,
                  batchnorm: bool = True, seeds: Sequence[int] | Generators = (0,)
                  ) -> nn.Module:
    """Encoder ``[S, B, C, H, W] -> [S, B, out_features]`` (``out_features = 2*zc + J``).

    ``arch`` is ``"dense"`` or ``"conv"`` (appendix 7.4.1, eq. 15); one stacked model per seed
    (or per generator, drawn from in construction order). The module has a
    ``latent_projection`` attribute, the layer that projects into the latent.
    """
    encoder, _ = _networks(arch)
    return encoder(_check_shape(image_shape), _positive("out_features", out_features), batchnorm,
                   _generators(seeds))


def build_decoder(arch: str, in_features: int, image_shape: tuple[int, int, int], *,
                  batchnorm: bool = True, seeds: Sequence[int] | Generators = (0,)
                  ) -> nn.Module:
    """Decoder ``[S, B, in_features] -> Bernoulli logits [S, B, C, H, W]``.

    The module has a ``latent_input`` attribute, the first layer (it reads the latent).
    """
    _, decoder = _networks(arch)
    return decoder(_positive("in_features", in_features), _check_shape(image_shape), batchnorm,
                   _generators(seeds))


def reset_latent_layers(encoder: nn.Module, decoder: nn.Module,
                        generators: Sequence[torch.Generator]) -> None:
    """Glorot-uniform weights and zero biases for the layers around the latent (appendix 7.8.2).

    Touches only ``encoder.latent_projection`` and ``decoder.latent_input``, including both
    halves of a gated layer; seed s draws from ``generators[s]``. Everything else keeps its
    weights.
    """
    for layer in (encoder.latent_projection, decoder.latent_input):
        for m in layer.modules():
            if isinstance(m, (StackedLinear, StackedConv2d)):
                glorot_(m, generators)


def count_parameters(module: nn.Module) -> int:
    """Number of scalars in ``module.parameters()``; buffers (BN running stats) not counted."""
    return sum(p.numel() for p in module.parameters())


def model_parameters(arch: str, zc: int, zd: int, *, batchnorm: bool = True,
                     image_shape: tuple[int, int, int] = TABLE_IMAGE_SHAPE) -> int:
    """Parameters of one encoder + decoder pair, P(J) (one seed)."""
    encoder = build_encoder(arch, image_shape, 2 * zc + zd, batchnorm=batchnorm)
    decoder = build_decoder(arch, zc + zd, image_shape, batchnorm=batchnorm)
    return count_parameters(encoder) + count_parameters(decoder)


# The paper's table, in its column order: method, arch, zd initial, zd final, paper initial,
# paper final. Every column has z_c "14", i.e. TABLE_ZC = 7 latent dimensions.
PAPER_TABLE: tuple[tuple[str, str, int, int, int, int], ...] = (
    ("ewc", "dense", 10, 10, 4_353_184, 4_353_184),
    ("vanilla", "dense", 10, 10, 1_089_830, 1_089_830),
    ("full", "dense", 10, 10, 1_089_830, 1_089_830),
    ("full", "dense", 10, 10, 2_179_661, 2_179_661),
    ("lifelong", "dense", 1, 10, 2_165_311, 2_179_661),
    ("ewc", "conv", 10, 10, 30_767_428, 30_767_428),
    ("vanilla", "conv", 10, 10, 7_691_280, 7_691_280),
    ("full", "conv", 10, 10, 7_691_280, 7_691_280),
    ("full", "conv", 10, 10, 15_382_560, 15_382_560),
    ("lifelong", "conv", 1, 10, 15_235_072, 15_382_560),
)


def _row_counts(method: str, arch: str, zd_initial: int, zd_final: int,
                student_teacher: bool) -> tuple[int, int, str]:
    """(ours initial, ours final, what is counted) for one column of the table."""
    def p(zd: int, batchnorm: bool = True) -> int:
        return model_parameters(arch, TABLE_ZC, zd, batchnorm=batchnorm)

    if method == "ewc":
        n = 4 * p(zd_final, batchnorm=False)
        return n, n, "student + teacher + a diagonal Fisher for each (4 models), no BatchNorm"
    if method == "lifelong":
        # initial: first student-teacher pair (teacher J, student J+1); final: student J.
        first = p(zd_initial) + p(zd_initial + 1)
        last = p(zd_final) + p(zd_final - 1)
        return first, last, "student + teacher (teacher has one discrete unit fewer)"
    if student_teacher:
        return 2 * p(zd_initial), 2 * p(zd_final), "student + teacher, both at full J"
    return p(zd_initial), p(zd_final), "one model (encoder + decoder)"


def parameter_table() -> list[dict]:
    """One row per column of the paper's table (appendix 7.4.1), computed by building models.

    Keys: method, arch, zd_initial, zd_final, zc, params_initial, params_final, paper_initial,
    paper_final, counts. ``zc`` is the latent dimension we build (7; the paper's column prints
    the 14 Gaussian encoder outputs). The module docstring explains every gap.
    """
    rows = []
    seen_full: set[str] = set()
    for method, arch, zd0, zd1, paper0, paper1 in PAPER_TABLE:
        student_teacher = method == "full" and arch in seen_full  # second "full" column
        if method == "full":
            seen_full.add(arch)
        ours0, ours1, counts = _row_counts(method, arch, zd0, zd1, student_teacher)
        rows.append({
            "method": method, "arch": arch, "zd_initial": zd0, "zd_final": zd1,
            "zc": TABLE_ZC, "params_initial": ours0, "params_final": ours1,
            "paper_initial": paper0, "paper_final": paper1, "counts": counts,
        })
    return rows
