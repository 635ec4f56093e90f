"""One training loop for the non-lifelong fits (the KD paper's and the bridge's).

Every fit of the KD paper is "Adam on a loss for a number of steps": the ladder VAE's ELBO
with KL warm-up (Table 1, Table 2's step 1), the VRNN's ELBO (appendix G), the Helmholtz
machine's wake-sleep (appendix H), data-free distillation (Algorithm 1 of appendix C: eq. 7 or
the local baseline) and the bridge's lifelong VAE. They differ only in the loss of a step, so
:func:`fit` takes that loss as a function ``loss_at(step)`` and does the rest once:

- Adam (learning rate, weight decay) on the given parameters, optional gradient-norm clipping;
- the model in train mode while fitting, eval mode after;
- losses kept on the device and read back every ``check_every`` steps (one host sync per
  chunk): a NaN/inf raises :class:`~lgm.errors.DivergedError` naming the fit, the loss and
  the first bad step;
- a progress bar (:func:`lgm.progress.progress`), an optional early-stopping rule and an
  optional checkpoint hook, both called at each read-back.

The loop draws no random numbers itself: a fit's randomness (minibatches, noise) is drawn by
its ``loss_at`` in the order the step needs it, so a fit written on this loop reproduces the
numbers of the hand-written loop it replaced (``tests/test_kd_fit.py`` checks them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from lgm.device import cpu_threads
from lgm.errors import DivergedError
from lgm.progress import progress

StepLoss = Tensor | Mapping[str, Tensor]
"""What ``loss_at`` returns: the scalar loss, or named scalars with the loss under ``"loss"``
(the others are recorded too, e.g. eq. 7's parts)."""


@dataclass
class FitHistory:
    """Per-step values: ``values["loss"]`` and any other part ``loss_at`` reported."""

    values: dict[str, list[float]] = field(default_factory=dict)
    stopped_early: bool = False

    @property
    def loss(self) -> list[float]:
        return self.values.get("loss", [])

    def arrays(self) -> dict[str, np.ndarray]:
        """Each series as a float64 array (for a result's ``arrays``)."""
        return {k: np.asarray(v, dtype=float) for k, v in self.values.items()}


@dataclass(frozen=True)
class Optimiser:
    """The settings of Adam shared by every fit."""

    lr: float
    weight_decay: float = 0.0
    clip_grad: float | None = None
    foreach: bool | None = None   # torch's choice when None (the HM's wake-sleep sets True)

    def __post_init__(self) -> None:
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be > 0 and finite, got {self.lr!r}")
        if not (isinstance(self.weight_decay, int | float) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.clip_grad is not None and not self.clip_grad > 0:
            raise ValueError(f"clip_grad must be > 0 or None, got {self.clip_grad!r}")


StopRule = Callable[[int, FitHistory], bool]
Checkpoint = Callable[[int, FitHistory], None]


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def fit(model: nn.Module, loss_at: Callable[[int], StepLoss], *, steps: int, opt: Optimiser,
        parameters: Iterable[nn.Parameter] | None = None, check_every: int = 1,
        desc: str = "fit", loss_name: str = "loss", stop: StopRule | None = None,
        checkpoint: Checkpoint | None = None) -> FitHistory:
    """Minimise ``loss_at(step)`` over ``steps`` Adam steps of ``parameters`` (default: every
    parameter of ``model``); return the per-step history.

    ``model`` is in train mode during the fit and left in eval mode. Every ``check_every``
    steps and at the last step the losses are read back: a non-finite one raises
    :class:`~lgm.errors.DivergedError`; then ``checkpoint(step, history)`` is called and, if
    ``stop(step, history)`` is true, the fit ends early (``history.stopped_early``).
    """
    _positive_int("steps", steps)
    _positive_int("check_every", check_every)
    params = list(model.parameters() if parameters is None else parameters)
    if not params:
        raise ValueError(f"{desc}: no parameters to train")
    optimiser = torch.optim.Adam(params, lr=opt.lr, weight_decay=opt.weight_decay,
                                 foreach=opt.foreach)
    history, names, pending = FitHistory(), None, []
    model.train()
    bar = progress(range(steps), desc=desc, leave=False)
    for step in bar:
        out = loss_at(step)
        parts = {"loss": out} if isinstance(out, Tensor) else dict(out)
        loss = parts["loss"]
        if loss.dim() != 0:
            raise ValueError(f"{desc}: the loss must be a scalar, got shape {tuple(loss.shape)}")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if opt.clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(params, opt.clip_grad)
        optimiser.step()
        names = names or list(parts)
        pending.append(torch.stack([parts[k].detach() for k in names]))
        if len(pending) == check_every or step == steps - 1:
            _record(history, names, torch.stack(pending).cpu(), step + 1 - len(pending), desc,
                    loss_name)
            pending = []
            bar.set_postfix({loss_name: f"{history.loss[-1]:.4g}"}, refresh=False)
            if checkpoint is not None:
                checkpoint(step, history)
            if stop is not None and stop(step, history):
                history.stopped_early = True
                break
    bar.close()
    model.eval()
    return history


def _record(history: FitHistory, names: list[str], values: Tensor, first_step: int, desc: str,
            loss_name: str) -> None:
    """Append a chunk of [steps, parts] values; raise at the first non-finite loss."""
    bad = (~torch.isfinite(values[:, 0])).nonzero()
    if len(bad):
        i = int(bad[0, 0])
        raise DivergedError(f"non-finite {loss_name} ({float(values[i, 0])}) at step "
                            f"{first_step + i} of {desc}: training stopped; try a smaller "
                            "learning rate or gradient clipping", "training step")
    for j, name in enumerate(names):
        history.values.setdefault(name, []).extend(values[:, j].tolist())


class EpochBatches:
    """Minibatch indices of epoch-wise random orders: ``batches(step)`` is the slice of the
    current epoch's permutation (drawn with ``generator`` at the epoch's first step) for
    ``step``. ``drop_last``: a last partial minibatch is dropped (at least one per epoch)."""

    def __init__(self, n: int, batch: int, generator: torch.Generator | None,
                 device: torch.device | str, drop_last: bool) -> None:
        _positive_int("n", n)
        _positive_int("batch", batch)
        self.n, self.batch, self.generator, self.device = n, batch, generator, device
        self.per_epoch = max(1, n // batch) if drop_last else math.ceil(n / batch)
        self._order: Tensor | None = None

    def __call__(self, step: int) -> Tensor:
        i = step % self.per_epoch
        if i == 0 or self._order is None:
            self._order = torch.randperm(self.n, generator=self.generator).to(self.device)
        return self._order[i * self.batch:(i + 1) * self.batch]


@contextmanager
def float64_cpu() -> Iterator[None]:
    """A block for numerics fingerprints: float64 by default, one CPU thread (denormals
    flushed, as :func:`lgm.device.cpu_threads` runs the fits), and the global RNG state restored
    after, so a fingerprint neither depends on nor disturbs what ran before it."""
    before = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]), cpu_threads(1):
        torch.set_default_dtype(torch.float64)
        try:
            yield
        finally:
            torch.set_default_dtype(before)
