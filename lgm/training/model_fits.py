"""The KD paper's model fits on data, as losses on the one loop (:func:`lgm.training.fit.fit`).

- :func:`fit_elbo`: a ladder VAE (unconditional, or conditional with its condition fixed) on
  the negative ELBO with a linear KL warm-up (Table 1's teacher and scratch students, Table 2's
  step 1; section 4.2 and the notes: Adam, lr 1e-4, weight decay 1e-4, 25 of 50 epochs of
  warm-up);
- :func:`train_elbo`: the VRNN on its ELBO (Chung et al. 2015, eq. 10; KD paper appendix G);
- :func:`wake_sleep`: the deep Helmholtz machine by wake-sleep (KD paper appendix H; Hinton et
  al. 1995), full batch.

And the weight arrays a cached result stores (:func:`state_arrays`, :func:`load_state_arrays`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor, nn

from lgm.models.helmholtz import HelmholtzMachine, check_rows
from lgm.models.vrnn import VRNN, check_sequences
from lgm.training.fit import EpochBatches, Optimiser, fit


def steps_per_epoch(n: int, batch: int) -> int:
    """Full minibatches per epoch (a last partial one is dropped: BatchNorm cannot normalise
    the 1x1 top maps of a single image)."""
    return max(1, n // batch)


def fit_elbo(model: nn.Module, images: Tensor, *, epochs: int, batch: int, lr: float,
             weight_decay: float, warmup_fraction: float, seed: int,
             desc: str = "elbo") -> np.ndarray:
    """Adam on the mean -ELBO over minibatches of ``images`` (a new random order each epoch,
    drawn from ``seed``; a last partial minibatch dropped); the KL weight rises linearly from
    0 to 1 over the first ``warmup_fraction`` of the steps. Returns the per-step losses (in
    torch's default dtype, float32 unless set); a NaN/inf raises
    :class:`~lgm.errors.DivergedError` naming the step (checked after every epoch). Leaves the
    model in eval mode."""
    n = images.shape[0]
    batches = EpochBatches(n, batch, torch.Generator().manual_seed(seed), images.device,
                           drop_last=True)
    steps = epochs * batches.per_epoch
    warmup = warmup_fraction * steps

    def loss_at(step: int) -> Tensor:
        kl_weight = min(1.0, step / warmup) if warmup > 0 else 1.0
        return model.neg_elbo(images[batches(step)], kl_weight).loss.mean()

    history = fit(model, loss_at, steps=steps, opt=Optimiser(lr, weight_decay),
                  check_every=batches.per_epoch, desc=desc, loss_name="-ELBO")
    return torch.tensor(history.loss, dtype=torch.get_default_dtype()).numpy()


def train_elbo(model: VRNN, x: Tensor, mask: Tensor, *, steps: int, batch: int = 32,
               lr: float = 1e-4, weight_decay: float = 1e-4, clip_grad: float | None = 10.0,
               generator: torch.Generator | None = None,
               parameters: Iterable[nn.Parameter] | None = None,
               desc: str = "VRNN ELBO") -> list[float]:
    """Maximise the VRNN's ELBO on ``x`` [N, T, 3] (``mask`` [N, T]) with Adam for ``steps``
    minibatches of ``batch`` sequences drawn with replacement by ``generator`` (each cut to
    its longest sequence); returns the per-step negative ELBO per step of each minibatch.
    ``parameters``: train only these (e.g. :meth:`VRNN.encoder_parameters`, to fit q to a
    frozen generative model)."""
    check_sequences(x, mask)
    if steps < 1 or batch < 1:
        raise ValueError(f"steps and batch must be >= 1, got {steps}, {batch}")

    def loss_at(step: int) -> Tensor:
        idx = torch.randint(len(x), (min(batch, len(x)),), generator=generator)
        xb, mb = x[idx], mask[idx]
        t = int(mb.sum(1).max())
        return model.neg_elbo(xb[:, :t], mb[:, :t], generator).per_step

    history = fit(model, loss_at, steps=steps, opt=Optimiser(lr, weight_decay, clip_grad),
                  parameters=parameters, desc=desc, loss_name="-ELBO")
    return history.loss


def wake_sleep(model: HelmholtzMachine, data: Tensor, *, steps: int = 1000, lr: float = 1e-2,
               weight_decay: float = 1e-4, generator: torch.Generator | None = None,
               desc: str = "wake-sleep") -> list[float]:
    """Train ``model`` on standardised rows ``data`` [N, 2] by wake-sleep, full batch
    (:meth:`HelmholtzMachine.wake_sleep_loss`: one wake and one sleep step per Adam step).

    Adam (lr 1e-2, weight decay 1e-4 at the authors' settings) on generative and recognition
    weights together; returns the per-step loss. A NaN/inf loss raises naming the step.
    """
    check_rows(data)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    data = data.to(model.device)
    history = fit(model, lambda step: model.wake_sleep_loss(data, generator), steps=steps,
                  opt=Optimiser(lr, weight_decay, foreach=True), desc=desc,
                  loss_name="wake-sleep loss")
    return history.loss


def state_arrays(model: nn.Module) -> dict[str, np.ndarray]:
    """The full state dict (weights and BatchNorm statistics) as arrays ``w:<name>``."""
    return {f"w:{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def load_state_arrays(model: nn.Module, arrays: dict[str, np.ndarray]) -> None:
    """Load what :func:`state_arrays` stored (other keys of ``arrays`` are ignored)."""
    model.load_state_dict({k[2:]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()
                           if k.startswith("w:")})
