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
"S=5 vs 5 x S=1" is the gain of stacking over running the seeds one after another. For the
dense model it also prints the step's **GEMM ceiling**: the matrix products of one step alone
(the teacher's replay forward, the student's encoder and decoder and the information gain's
re-encoding, forward and backward: :func:`gemm_shapes`), timed at the same batch and thread
count, as samples/s, and each step rate's share of it. ``--profile`` adds the operators that
take the S=1 step's time (``torch.profiler``).

    python benchmarks/bench_stacked.py [--device cuda] [--arch dense|conv] [--seeds 1 5 10]
                                       [--profile]
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

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


def rate(step: Any, device: torch.device, steps: int, warmup: int, samples: int) -> float:
    """Samples per second of ``step`` (each call ``samples`` samples) after ``warmup`` calls:
    the benchmarks' one timing loop."""
    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return steps * samples / (time.perf_counter() - start)


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


# --------------------------------------------------------------------------- GEMM ceiling
def gemm_shapes(batch: int, n_rep: int, j: int = 2) -> list[tuple[int, int, int, bool]]:
    """The step's matrix products as (rows, in, out, with backward): the teacher (one code)
    decodes and encodes the ``n_rep`` replayed rows without gradients; the student encodes and
    decodes all ``batch`` rows and re-encodes its reconstructions (information gain), with
    gradients (dense networks of appendix 7.4.1)."""
    enc = [(PIXELS, HIDDEN), (HIDDEN, 2 * ZC + j)]
    dec = [(ZC + j, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, PIXELS)]
    teacher = [(n_rep, ZC + 1, HIDDEN, False), (n_rep, HIDDEN, HIDDEN, False),
               (n_rep, HIDDEN, PIXELS, False), (n_rep, PIXELS, HIDDEN, False),
               (n_rep, HIDDEN, 2 * ZC + 1, False)]
    return teacher + [(batch, k, n, True) for k, n in enc + dec + enc]


def gemm_flops(shapes: list[tuple[int, int, int, bool]]) -> float:
    """Multiply-adds x 2 of one step (a backward is two products of the forward's size)."""
    return sum(2.0 * m * k * n * (3 if grad else 1) for m, k, n, grad in shapes)


def time_gemms(device: torch.device, shapes: list[tuple[int, int, int, bool]], steps: int,
               warmup: int) -> float:
    """Seconds per step of the step's matrix products alone (forward, and both backward
    products where the step has gradients), float32."""
    g = torch.Generator(device=device).manual_seed(0)
    ops = []
    for m, k, n, grad in shapes:
        a, w = (torch.randn(m, k, generator=g, device=device),
                torch.randn(k, n, generator=g, device=device))
        dy = torch.randn(m, n, generator=g, device=device)
        ops.append((a, w, dy, grad))

    def one() -> None:
        for a, w, dy, grad in ops:
            a @ w
            if grad:
                dy @ w.T
                a.T @ dy

    return 1.0 / rate(one, device, steps, warmup, samples=1)


def profile_step(device: torch.device, batch: int, steps: int = 20) -> str:
    """The operators that take the lgm S=1 step's time (top 15 by self time)."""
    from torch.profiler import ProfilerActivity, profile

    step, run = build_lgm(device, "dense", 1, batch)
    for _ in range(5):
        run()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            run()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)


# --------------------------------------------------------------------------- lgm, S seeds
def build_lgm(device: torch.device, arch: str, seeds: int, batch: int) -> tuple[Any, Any]:
    """The lifelong student's step on a stack of ``seeds`` (task 2: a one-code teacher)."""
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
    step.start_epoch()
    step.refill = lambda: buffers.refill(gens, 6000)  # type: ignore[attr-defined]
    step.per_epoch = per_epoch  # type: ignore[attr-defined]
    return step, GraphedStep(step) if device.type == "cuda" else step


def time_lgm(device: torch.device, arch: str, seeds: int, batch: int, steps: int,
             warmup: int) -> float:
    step, run = build_lgm(device, arch, seeds, batch)
    done, start = 0, time.perf_counter()
    while True:
        for _ in range(step.per_epoch):
            if done == warmup:
                sync(device)
                start = time.perf_counter()
            run()
            done += 1
            if done == steps + warmup:
                sync(device)
                return seeds * steps * batch / (time.perf_counter() - start)
        step.refill()
        step.start_epoch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--arch", default="dense", choices=["dense", "conv"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--profile", action="store_true",
                        help="also print the operators that take the S=1 step's time")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rates: dict[str, list[float]] = {}
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits all alike
        if args.arch == "dense":
            rates.setdefault("baseline", []).append(
                time_baseline(device, args.batch, args.steps, args.warmup))
            gemm_s = time_gemms(device, gemm_shapes(args.batch, args.batch // 2), args.steps,
                                args.warmup)
            rates.setdefault("GEMM ceiling", []).append(args.batch / gemm_s)
        for s in args.seeds:
            rates.setdefault(f"lgm S={s}", []).append(
                time_lgm(device, args.arch, s, args.batch, args.steps, args.warmup))
    best = {k: max(v) for k, v in rates.items()}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}, arch {args.arch}, batch {args.batch} per seed, {args.steps} steps, "
          f"best of {args.repeats}")
    base, one, ceiling = best.get("baseline"), best.get("lgm S=1"), best.get("GEMM ceiling")
    if ceiling:
        flops = gemm_flops(gemm_shapes(args.batch, args.batch // 2)) / args.batch
        print(f"  GEMM ceiling: {ceiling:,.0f} samples/s of the step's own float32 matrix "
              f"products ({ceiling * flops / 1e9:.0f} GFLOP/s, {flops / 1e6:.1f} MFLOP/sample)")
    for k, v in best.items():
        if k == "GEMM ceiling":
            continue
        line = f"{k:>14}: {v:>12,.0f} samples/s"
        if base and k != "baseline":
            line += f"   x{v / base:5.2f} vs baseline"
        if one and k not in ("lgm S=1", "baseline"):
            line += f"   x{v / one:5.2f} vs {k.split('=')[1]} separate S=1 runs"
        if ceiling:
            line += f"   {v / ceiling:4.0%} of the GEMM ceiling"
        print(line)
    if args.profile:
        print(profile_step(device, args.batch))


if __name__ == "__main__":
    main()
