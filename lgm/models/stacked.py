"""Layers that hold S independent models ("seeds") side by side in one set of tensors.

The papers repeat every experiment over seeds. Training S seeds one after another runs S small
steps, each bound by kernel-launch overhead at batch 128; stacking them runs one step of S
times the work. Every parameter carries a leading seed axis and nothing mixes seeds:

- dense activations are ``[S, B, F]`` and a linear layer is one batched matmul
  (``torch.baddbmm`` with weights ``[S, in, out]``);
- conv activations are ``[B, S*C, H, W]`` and a convolution is one *grouped* convolution with
  ``groups=S`` (seed s owns channels ``s*C .. (s+1)*C-1``), so no permute is needed between
  layers and BatchNorm over ``S*C`` channels keeps statistics per seed by construction;
- BatchNorm statistics and running averages are per seed.

Seed s is initialised from its own generator (``torch.Generator().manual_seed(seed)``), layer by
layer in construction order, so slice s of a stack is the same model whatever the other seeds
are: a stack of seeds ``[3, 7]`` holds exactly the models that stacks ``[3]`` and ``[7]`` hold.
Initialisation follows PyTorch's defaults for the unstacked layers (uniform in
``+-1/sqrt(fan_in)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def seed_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per seed, for initialisation (moved to the device afterwards)."""
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


def _uniform_per_seed(shape: tuple[int, ...], bound: float,
                      generators: Sequence[torch.Generator]) -> Tensor:
    """``[S, *shape]`` with slice s ~ U(-bound, bound) drawn from ``generators[s]``."""
    return torch.stack([(torch.rand(shape, generator=g) * 2 - 1) * bound for g in generators])


class StackedLinear(nn.Module):
    """S linear maps ``[S, B, in] -> [S, B, out]`` as one ``baddbmm``."""

    def __init__(self, in_features: int, out_features: int,
                 generators: Sequence[torch.Generator]) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(_uniform_per_seed((in_features, out_features), bound,
                                                     generators))
        self.bias = nn.Parameter(_uniform_per_seed((1, out_features), bound, generators))

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight)

    def fans(self) -> tuple[int, int]:
        return self.in_features, self.out_features


class StackedBatchNorm(nn.Module):
    """BatchNorm with per-seed statistics for ``[S, B, F]`` (dense) or ``[B, S*C, H, W]`` (conv).

    Same arithmetic as ``nn.BatchNorm1d/2d`` (momentum 0.1, eps 1e-5, biased variance to
    normalise, unbiased in the running average).
    """

    def __init__(self, seeds: int, features: int, *, conv: bool) -> None:
        super().__init__()
        self.seeds, self.features, self.conv = seeds, features, conv
        self.momentum, self.eps = 0.1, 1e-5
        self.weight = nn.Parameter(torch.ones(seeds, features))
        self.bias = nn.Parameter(torch.zeros(seeds, features))
        self.register_buffer("running_mean", torch.zeros(seeds, features))
        self.register_buffer("running_var", torch.ones(seeds, features))

    def reset_running_stats(self) -> None:
        self.running_mean.zero_()
        self.running_var.fill_(1.0)

    def forward(self, x: Tensor) -> Tensor:
        if self.conv:  # [B, S*C, H, W]: channels are (seed, channel) pairs
            return self._norm(x)
        s, b, f = x.shape  # [S, B, F] -> [B, S*F]: one native kernel, statistics per column
        flat = x[0] if s == 1 else x.transpose(0, 1).reshape(b, s * f)
        out = self._norm(flat)
        return out[None] if s == 1 else out.view(b, s, f).transpose(0, 1)

    def _norm(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean.view(-1), self.running_var.view(-1),
                            self.weight.view(-1), self.bias.view(-1), self.training,
                            self.momentum, self.eps)


class StackedConv2d(nn.Module):
    """S convolutions (or transposed convolutions) on ``[B, S*C_in, H, W]`` with ``groups=S``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int,
                 generators: Sequence[torch.Generator], *, transpose: bool = False) -> None:
        super().__init__()
        self.seeds, self.c_in, self.c_out = len(generators), c_in, c_out
        self.stride, self.transpose = stride, transpose
        # PyTorch's fan-in convention: dim 1 of the weight times the kernel area.
        shape = (c_in, c_out, kernel, kernel) if transpose else (c_out, c_in, kernel, kernel)
        bound = 1 / math.sqrt(shape[1] * kernel * kernel)
        self.weight = nn.Parameter(_uniform_per_seed(shape, bound, generators))
        self.bias = nn.Parameter(_uniform_per_seed((c_out,), bound, generators))

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.flatten(0, 1)  # [S*out, in, k, k] or [S*in, out, k, k]
        if self.transpose:
            return F.conv_transpose2d(x, w, self.bias.view(-1), self.stride, groups=self.seeds)
        return F.conv2d(x, w, self.bias.view(-1), self.stride, groups=self.seeds)

    def fans(self) -> tuple[int, int]:
        k = self.weight.shape[-1] ** 2
        return self.c_in * k, self.c_out * k


def glorot_(layer: StackedLinear | StackedConv2d, generators: Sequence[torch.Generator]) -> None:
    """Glorot-uniform weights and zero biases, seed s drawn from ``generators[s]``."""
    fan_in, fan_out = layer.fans()
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        w = _uniform_per_seed(tuple(layer.weight.shape[1:]), bound, generators)
        layer.weight.copy_(w.to(layer.weight.device))
        layer.bias.zero_()


def to_grouped(x: Tensor) -> Tensor:
    """``[S, B, C, H, W] -> [B, S*C, H, W]`` (the conv layout)."""
    s, b = x.shape[:2]
    return x.transpose(0, 1).reshape(b, s * x.shape[2], *x.shape[3:])


def from_grouped(x: Tensor, seeds: int) -> Tensor:
    """``[B, S*C, H, W] -> [S, B, C, H, W]``."""
    b, sc = x.shape[:2]
    return x.view(b, seeds, sc // seeds, *x.shape[2:]).transpose(0, 1)
