"""Step rate of the stacked-seeds trainer against a plain single-seed PyTorch loop.

The step is the lifelong student's (task 2: half of each minibatch replayed by the teacher,
with the consistency and information-gain terms of eq. 6), batch ``B`` per seed.

- ``baseline``: plain PyTorch, one seed: ``nn.Linear``/``nn.BatchNorm1d`` networks of the same
  shape, a ``DataLoader`` over a ``TensorDataset`` on the host with a copy to the device each
  step, the default Adam, eager. Its loss is written out below with the same terms.
- ``lgm S=k``: :class:`lgm.training.loop.TrainStep` on a stack of k seeds (data resident on the
  device, noise drawn an epoch at a time, fused Adam), captured in a CUDA graph on a GPU
  (:class:`lgm.training.loop.GraphedStep`), eager on the CPU.

Prints samples/s (all seeds together) and the ratio to the baseline, measured in the same run.
"S=5 vs 5 x S=1" is the gain of stacking over running the seeds one after another.

    python benchmarks/bench_stacked.py [--device cuda] [--arch dense|conv] [--seeds 1 5 10]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from lgm.device import resolve_device
from lgm.experiments import make_config
from lgm.models.vae import DiscreteContinuousVAE, frozen_copy
from lgm.training.loop import EpochBuffers, GraphedStep, TrainStep, make_optimiser
from lgm.training.objective import StudentObjective, Teacher

ZC, HIDDEN, PIXELS = 7, 512, 784


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# --------------------------------------------------------------------------- plain baseline
class PlainVAE(nn.Module):
    """The dense model of appendix 7.4.1 in plain PyTorch modules (one seed)."""

    def __init__(self, j: int) -> None:
        super().__init__()
        self.j = j
        self.enc = nn.Sequential(nn.Linear(PIXELS, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.ELU(),
                                 nn.Linear(HIDDEN, 2 * ZC + j))
        self.dec = nn.Sequential(nn.Linear(ZC + j, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.ELU(),
                                 nn.Linear(HIDDEN, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.ELU(),
                                 nn.Linear(HIDDEN, PIXELS))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h = self.enc(x.flatten(1))
        return h[:, :ZC], h[:, ZC:2 * ZC], h[:, 2 * ZC:]


def plain_loss(student: PlainVAE, teacher: PlainVAE, x_real: Tensor, n_rep: int) -> Tensor:
    """-ELBO on real + replayed rows, consistency KL and information gain (eq. 6)."""
    with torch.no_grad():
        codes = torch.randint(teacher.j, (n_rep,), device=x_real.device)
        z = torch.cat([torch.randn(n_rep, ZC, device=x_real.device),
                       F.one_hot(codes, teacher.j).float()], 1)
        x_hat = torch.sigmoid(teacher.dec(z)).view(-1, 1, 28, 28)
        t_logits = teacher.encode(x_hat)[2]
    x = torch.cat([x_real, x_hat])
    mu, logvar, logits = student.encode(x)
    z_c = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    z_d = F.gumbel_softmax(logits, tau=1.0)
    x_logits = student.dec(torch.cat([z_c, z_d], 1))
    rec = F.binary_cross_entropy_with_logits(x_logits, x.flatten(1), reduction="none").sum(1)
    kl_c = 0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar).sum(1)
    log_q = F.log_softmax(logits, -1)
    kl_d = (log_q.exp() * log_q).sum(1) + math.log(student.j)
    t_log = F.pad(F.log_softmax(t_logits, -1), (0, student.j - teacher.j), value=-9.2)
    cons = (log_q[-n_rep:].exp() * (log_q[-n_rep:] - t_log)).sum(1).sum() / len(x)
    mu2, logvar2, _ = student.encode(torch.sigmoid(x_logits).view_as(x))
    info = -0.5 * ((z_c - mu2).pow(2) / logvar2.clamp(min=-6).exp() + logvar2).sum(1)
    return (rec + kl_c + kl_d).mean() + cons + 0.01 * info.mean().clamp(min=0)


def time_baseline(device: torch.device, batch: int, steps: int, warmup: int) -> float:
    torch.manual_seed(0)
    teacher, student = PlainVAE(1).to(device).eval(), PlainVAE(2).to(device)
    opt = torch.optim.Adam(student.parameters(), lr=1e-3)
    n_rep = batch // 2
    data = (torch.rand(6000, 1, 28, 28) < 0.3).float()
    loader = DataLoader(TensorDataset(data), batch_size=batch - n_rep, shuffle=True,
                        drop_last=True)
    done, start = 0, time.perf_counter()
    while True:
        for (x,) in loader:
            if done == warmup:
                sync(device)
                start = time.perf_counter()
            loss = plain_loss(student, teacher, x.to(device), n_rep)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps + warmup:
                sync(device)
                return steps * batch / (time.perf_counter() - start)


# --------------------------------------------------------------------------- lgm, S seeds
def time_lgm(device: torch.device, arch: str, seeds: int, batch: int, steps: int,
             warmup: int) -> float:
    cfg = make_config("paper", batch_size=batch, arch=arch)
    teacher = DiscreteContinuousVAE(arch, (1, 28, 28), ZC, 1, seeds=range(seeds)).to(device)
    student = teacher.grown(1)
    objective = StudentObjective(cfg, Teacher(frozen_copy(teacher), tasks_seen=1))
    n_rep = objective.replay_rows(batch)
    data = (torch.rand(seeds, 6000, 1, 28, 28, device=device) < 0.3).float()
    per_epoch = math.ceil(6000 / batch)
    buffers = EpochBuffers(student, 1, per_epoch, batch, n_rep, device)
    gens = [torch.Generator(device=device).manual_seed(s) for s in range(seeds)]
    buffers.refill(gens, 6000)
    step = TrainStep(student, objective, make_optimiser(student, 1e-3), cfg, data, buffers)
    run = GraphedStep(step) if device.type == "cuda" else step
    done, start = 0, time.perf_counter()
    while True:
        step.start_epoch()
        for _ in range(per_epoch):
            if done == warmup:
                sync(device)
                start = time.perf_counter()
            run()
            done += 1
            if done == steps + warmup:
                sync(device)
                return seeds * steps * batch / (time.perf_counter() - start)
        buffers.refill(gens, 6000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--arch", default="dense", choices=["dense", "conv"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    device = resolve_device(args.device)
    rates: dict[str, list[float]] = {}
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits all alike
        if args.arch == "dense":
            rates.setdefault("baseline", []).append(
                time_baseline(device, args.batch, args.steps, args.warmup))
        for s in args.seeds:
            rates.setdefault(f"lgm S={s}", []).append(
                time_lgm(device, args.arch, s, args.batch, args.steps, args.warmup))
    best = {k: max(v) for k, v in rates.items()}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}, arch {args.arch}, batch {args.batch} per seed, {args.steps} steps, "
          f"best of {args.repeats}")
    base = best.get("baseline")
    one = best.get("lgm S=1")
    for k, v in best.items():
        line = f"{k:>14}: {v:>12,.0f} samples/s"
        if base and k != "baseline":
            line += f"   x{v / base:5.2f} vs baseline"
        if one and k != "lgm S=1" and k != "baseline":
            line += f"   x{v / one:5.2f} vs {k.split('=')[1]} separate S=1 runs"
        print(line)


if __name__ == "__main__":
    main()
