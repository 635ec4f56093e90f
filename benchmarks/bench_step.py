"""Time the lifelong training step of the dense model against a plain PyTorch baseline.

The step: a student update on B rows, half real and half replayed by a teacher (k = 1), with
the consistency and information-gain terms (eq. 6). Both loops run the same objective on the
same model; they differ in how the data reach the step:

- ``lgm``: the task's images live on the device; each minibatch is one index into them, and
  Adam runs as one fused kernel (``lgm.training.loop``).
- ``baseline``: the plain PyTorch way, a ``DataLoader`` over a ``TensorDataset`` on the host
  with a copy to the device each step, and the default Adam.

Prints samples/s for each and the ratio, measured in the same run.

    python benchmarks/bench_step.py [--device cuda] [--batch 128] [--steps 200]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from lgm.device import resolve_device
from lgm.experiments import make_config
from lgm.models.vae import DiscreteContinuousVAE
from lgm.training.loop import make_optimiser, minibatch_order
from lgm.training.objective import StudentObjective, Teacher


def setup(device: torch.device, batch: int) -> tuple:
    torch.manual_seed(0)
    cfg = make_config("paper", batch_size=batch)
    teacher = DiscreteContinuousVAE("dense", (1, 28, 28), 14, 2).to(device).eval()
    student = teacher.grown(1)
    objective = StudentObjective(cfg, Teacher(teacher, tasks_seen=1))
    data = (torch.rand(6000, 1, 28, 28) < 0.3).float()
    return cfg, student, objective, data


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_lgm(device: torch.device, batch: int, steps: int, warmup: int) -> float:
    cfg, student, objective, data = setup(device, batch)
    data = data.to(device)
    opt = make_optimiser(student, 1e-3)
    n_real = batch - objective.replay_rows(batch)
    g = torch.Generator(device=device).manual_seed(0)
    order = minibatch_order(len(data), steps + warmup, n_real, g, device)
    for s in range(steps + warmup):
        if s == warmup:
            sync(device)
            start = time.perf_counter()
        loss, _ = objective(student, data[order[s]], 1.0, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def time_baseline(device: torch.device, batch: int, steps: int, warmup: int) -> float:
    cfg, student, objective, data = setup(device, batch)
    opt = torch.optim.Adam(student.parameters(), lr=1e-3)
    n_real = batch - objective.replay_rows(batch)
    loader = DataLoader(TensorDataset(data), batch_size=n_real, shuffle=True, drop_last=True)
    done, start = 0, time.perf_counter()
    for _ in range(math.ceil((steps + warmup) * n_real / len(data)) + 1):
        for (x,) in loader:
            if done == warmup:
                sync(device)
                start = time.perf_counter()
            loss, _ = objective(student, x.to(device), 1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps + warmup:
                sync(device)
                return steps * batch / (time.perf_counter() - start)
    raise RuntimeError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = resolve_device(args.device)
    rates: dict[str, list[float]] = {"baseline": [], "lgm": []}
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits both alike
        rates["baseline"].append(time_baseline(device, args.batch, args.steps, args.warmup))
        rates["lgm"].append(time_lgm(device, args.batch, args.steps, args.warmup))
    best = {k: max(v) for k, v in rates.items()}
    print(f"device: {device} ({torch.get_num_threads()} threads), batch {args.batch}, "
          f"{args.steps} steps x {args.repeats} repeats, best of repeats")
    print(f"baseline (DataLoader + eager): {best['baseline']:>10,.0f} samples/s")
    print(f"lgm (device-resident data):    {best['lgm']:>10,.0f} samples/s")
    print(f"ratio lgm / baseline: {best['lgm'] / best['baseline']:.2f}")


if __name__ == "__main__":
    main()
