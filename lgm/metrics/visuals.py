"""Images a figure needs from a run, kept as small uint8 arrays beside its metrics.

The cache stores results, not models, so the pictures of the paper's figures are made while
the model exists (``RunConfig.visuals = n``):

- after every task: ``samples_task{t}``, n samples per discrete code, z_d fixed and z_c random
  (figure 6; the same z_c draws after every task, so the panels compare);
- after the last task: ``reconstructions`` [T, 2, n, C, H, W], the first n test images of every
  task and their reconstructions (figure 5a), and, when z_c is 2-d,
  ``interpolation`` [J, G, G, C, H, W], the decoder over a G x G grid of z_c in [-3, 3]^2 for
  every code (figure 5b, c);
- after the last task: ``posterior_mu`` [N, D] (float32), the means of Q(z_c | x) of up to
  ``POSTERIOR_POINTS`` test images spread evenly over the tasks, with ``posterior_code`` [N]
  (argmax of Q(z_d | x)), ``posterior_label`` [N] (the test labels, -1 where a task has none)
  and ``posterior_task`` [N] (figure 1b).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lgm.data.tasks import TaskSequence
from lgm.models.vae import DiscreteContinuousVAE

GRID = 10
SEED = 7
POSTERIOR_POINTS = 2000


def to_uint8(images: Tensor) -> np.ndarray:
    """[..., C, H, W] in [0, 1] -> uint8 numpy."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


@torch.no_grad()
def samples_per_code(model: DiscreteContinuousVAE, n: int) -> np.ndarray:
    """[J, n, C, H, W]: decoder means with z_d fixed to each code and z_c ~ N(0, I)."""
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(SEED)
    z_c = torch.randn((n, model.continuous), generator=g, device=device).repeat(model.discrete, 1)
    codes = torch.arange(model.discrete, device=device).repeat_interleave(n)
    images = torch.sigmoid(model.decode(z_c, F.one_hot(codes, model.discrete).float()))
    return to_uint8(images.view(model.discrete, n, *images.shape[1:]))


@torch.no_grad()
def reconstructions(model: DiscreteContinuousVAE, tasks: TaskSequence, n: int) -> np.ndarray:
    """[T, 2, n, C, H, W]: test images of each task and their reconstructions (hard z_d)."""
    model.eval()
    g = torch.Generator(device=next(model.parameters()).device).manual_seed(SEED)
    pairs = []
    for task in tasks.tasks:
        x = task.test[:n]
        pairs.append(torch.stack([x, torch.sigmoid(model(x, hard=True, generator=g).x_logits)]))
    return to_uint8(torch.stack(pairs))


@torch.no_grad()
def interpolation(model: DiscreteContinuousVAE, grid: int = GRID) -> np.ndarray:
    """[J, G, G, C, H, W]: decoder means over z_c in a G x G grid of [-3, 3]^2 per code."""
    if model.continuous != 2:
        raise ValueError(f"interpolation needs a 2-d z_c, got {model.continuous}")
    model.eval()
    device = next(model.parameters()).device
    axis = torch.linspace(-3, 3, grid, device=device)
    z_c = torch.cartesian_prod(axis, axis).flip(-1)  # row-major: y down, x across
    out = []
    for code in range(model.discrete):
        z_d = F.one_hot(torch.full((len(z_c),), code, device=device), model.discrete).float()
        out.append(torch.sigmoid(model.decode(z_c, z_d)).view(grid, grid, *model.image_shape))
    return to_uint8(torch.stack(out))


@torch.no_grad()
def posterior_means(model: DiscreteContinuousVAE, tasks: TaskSequence,
                    points: int = POSTERIOR_POINTS) -> dict[str, np.ndarray]:
    """The posterior of the first ``points // T`` test images of every task (T tasks).

    ``posterior_mu`` [N, D] float32: means of Q(z_c | x); ``posterior_code`` [N] int64: the
    most probable code of Q(z_d | x); ``posterior_label`` [N] int64: the images' labels (-1
    where the task has none); ``posterior_task`` [N] int64: the task of each image.
    """
    model.eval()
    per_task = max(1, points // max(1, len(tasks)))
    mus, codes, labels, task_ids = [], [], [], []
    for task in tasks.tasks:
        x = task.test[:per_task]
        post = model.encode(x)
        mus.append(post.mu.float())
        codes.append(post.logits.argmax(-1))
        y = task.test_labels
        labels.append(y[:per_task].long() if y is not None
                      else torch.full((len(x),), -1, dtype=torch.long, device=x.device))
        task_ids.append(torch.full((len(x),), task.index, dtype=torch.long, device=x.device))
    return {"posterior_mu": torch.cat(mus).cpu().numpy().astype(np.float32),
            "posterior_code": torch.cat(codes).cpu().numpy().astype(np.int64),
            "posterior_label": torch.cat(labels).cpu().numpy().astype(np.int64),
            "posterior_task": torch.cat(task_ids).cpu().numpy().astype(np.int64)}


def final_visuals(model: DiscreteContinuousVAE, tasks: TaskSequence,
                  n: int) -> dict[str, np.ndarray]:
    """The end-of-run pictures (reconstructions; interpolation for a 2-d z_c) and the
    posterior of test images (``posterior_means``)."""
    arrays = {"reconstructions": reconstructions(model, tasks, n)}
    if model.continuous == 2:
        arrays["interpolation"] = interpolation(model)
    arrays.update(posterior_means(model, tasks))
    return arrays
