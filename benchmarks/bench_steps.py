"""Step rates of the conv lifelong step, the ladder VAE (KD Table 1) and the VRNN (KD app. G),
each against a plain PyTorch loop of the same model, measured in the same run.

Rows (samples/s: images or sequences per second, all stacked seeds together):

- ``conv``: the lifelong student's step (task 2: half of each minibatch replayed by the
  teacher, with the consistency and information-gain terms of eq. 6) on the conv networks of
  eq. 15, batch ``B`` per seed. ``plain``: gated ``nn.Conv2d`` layers of the same shapes, a
  ``DataLoader`` on the host, the default Adam, eager, the loss of
  :func:`bench_stacked.plain_loss`. ``lgm S=k``: :class:`lgm.training.loop.TrainStep` on a
  stack of k seeds (grouped convolutions), as training runs it: captured in a CUDA graph on a
  GPU (:class:`~lgm.training.loop.GraphedStep`), eager on the CPU.
- ``ladder``: Table 1's teacher (h=128) and a student (h=16) on the -ELBO (``plain`` loop vs
  :func:`lgm.training.model_fits.fit_elbo`), and the student distilled from the teacher by
  eq. 7 (``plain`` loop vs :func:`lgm.training.distill.distill` with kd_compression's loss);
  32x32x3 stand-in images, batch 128, Adam lr 1e-4, weight decay 1e-4.
- ``vrnn``: teacher (MLPs 512, LSTM 1200) and student (128, 600) on the ELBO (``plain`` vs
  :func:`~lgm.training.model_fits.train_elbo`) and the student distilled by eq. 7 (``plain``
  vs ``distill`` with kd_vrnn's loss); T = 300 steps, batch 32, gradient clipping 10.

Variants, each a row next to the row it changes (``x.. vs base``), plus one row with every
variant flag given at once:

- ``--channels-last`` (``+cl``): channels-last activations (and weights where they are 4-d);
- ``--bf16`` (``+bf16``): bf16 autocast; for conv also a check that the per-seed validation
  -ELBO after a few hundred steps stays within the spread over seeds (printed);
- ``--cudnn-benchmark`` (``+nobench``): rows run as the library runs them (cuDNN benchmark
  on, :func:`lgm.device.resolve_device`); the variant turns it off to show what it gains;
- ``--vmap`` (conv): the plain model stacked the other way, ``torch.func.stack_module_state``
  + ``torch.vmap`` over seeds (``vmap S=k``, also ``x.. vs lgm S=k``: vmap vs grouped convs);
- ``--graph`` (cuda only): conv adds the lgm stack run eager (``eager``), ladder and VRNN add
  their plain step captured in a CUDA graph here (``+graph``; the VRNN's per-step input check
  syncs with the host, so it is bypassed while capturing).

"S=k vs k x S=1" is the gain of stacking k seeds over k one-seed runs one after another.

    python benchmarks/bench_steps.py [--device cuda] [--models conv ladder vrnn]
        [--channels-last] [--bf16] [--cudnn-benchmark] [--graph] [--vmap] [--tiny]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stacked import ZC, plain_loss, rate, sync  # noqa: E402

from lgm.device import resolve_device  # noqa: E402
from lgm.experiments import make_config  # noqa: E402
from lgm.experiments.kd_vrnn import vrnn_distillation_loss  # noqa: E402
from lgm.losses.distillation import DistillationLoss  # noqa: E402
from lgm.losses.elbo import stacked_negative_elbo  # noqa: E402
from lgm.models import networks, vrnn  # noqa: E402
from lgm.models.ladder import TOP, LadderVAE  # noqa: E402
from lgm.models.stacked import StackedConv2d  # noqa: E402
from lgm.models.vae import DiscreteContinuousVAE, frozen_copy  # noqa: E402
from lgm.models.vrnn import VRNN, VRNNSize  # noqa: E402
from lgm.training.distill import distill, distillation_loss_fn  # noqa: E402
from lgm.training.loop import EpochBuffers, GraphedStep, TrainStep, make_optimiser  # noqa: E402
from lgm.training.model_fits import fit_elbo, train_elbo  # noqa: E402
from lgm.training.objective import StudentObjective, Teacher  # noqa: E402

VARIANTS = ("cl", "bf16", "nobench")
Step = Callable[[], None]


@dataclass(frozen=True)
class Sizes:
    """Everything a size preset sets (``--tiny``: seconds on a CPU, for the tests)."""

    conv_batch: int = 128
    conv_rows: int = 6000
    conv_val: int = 256    # validation rows per seed of the bf16 check
    ladder_teacher: int = 128
    ladder_student: int = 16
    ladder_batch: int = 128
    vrnn_teacher: VRNNSize = vrnn.TEACHER_SIZE
    vrnn_student: VRNNSize = vrnn.STUDENT_SIZE
    vrnn_len: int = 300
    vrnn_batch: int = 32


TINY = Sizes(conv_batch=8, conv_rows=64, conv_val=8, ladder_teacher=4, ladder_student=2,
             ladder_batch=8, vrnn_teacher=VRNNSize((16,), 16), vrnn_student=VRNNSize((8,), 8),
             vrnn_len=6, vrnn_batch=4)


@dataclass
class Options:
    """One row's variant: a subset of :data:`VARIANTS` (and ``graph``/``eager`` markers)."""

    flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def suffix(self) -> str:
        return "".join(f" +{f}" for f in VARIANTS if f in self.flags)

    @property
    def cl(self) -> bool:
        return "cl" in self.flags

    @contextlib.contextmanager
    def active(self, device: torch.device) -> Iterator[None]:
        """cuDNN benchmark as the flags say, bf16 autocast when asked (cache off: graphs)."""
        before = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = device.type == "cuda" and "nobench" not in self.flags
        cast = (torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)
                if "bf16" in self.flags else contextlib.nullcontext())
        try:
            with cast:
                yield
        finally:
            torch.backends.cudnn.benchmark = before


def batches(data: Tensor, batch: int, device: torch.device, cl: bool = False) -> Iterator[Tensor]:
    """Endless host ``DataLoader`` minibatches copied to ``device`` (the plain loops' input)."""
    loader = DataLoader(TensorDataset(data), batch_size=batch, shuffle=True, drop_last=True)
    while True:
        for (x,) in loader:
            x = x.to(device)
            yield x.contiguous(memory_format=torch.channels_last) if cl else x


def graphed(loss: Callable[[], Tensor], params: list[nn.Parameter], lr: float,
            weight_decay: float, before: Step | None = None, clip: float | None = None) -> Step:
    """One Adam step on ``loss()`` captured in a CUDA graph (whole-network capture: warm-up on
    a side stream, capturable Adam); ``before()`` runs inside the graph first (noise draws);
    ``clip``: gradient-norm clipping (no host sync)."""
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, capturable=True)

    def body() -> None:
        if before is not None:
            before()
        opt.zero_grad(set_to_none=False)
        loss().backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(params, clip)
        opt.step()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            body()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        body()
    return graph.replay


# --------------------------------------------------------------------------- conv lifelong
def _gated(c_in: int, c_out: int, kernel: int, stride: int, transpose: bool = False) -> nn.Module:
    conv = nn.ConvTranspose2d if transpose else nn.Conv2d
    return networks.Gated(conv(c_in, c_out, kernel, stride), conv(c_in, c_out, kernel, stride))


class PlainConvVAE(nn.Module):
    """The conv model of eq. 15 (gated convs, BN + ELU) in plain PyTorch modules (one seed),
    with the interface :func:`bench_stacked.plain_loss` reads: ``encode``, ``dec``, ``j``."""

    def __init__(self, j: int) -> None:
        super().__init__()
        self.j, f = j, networks.FILTERS
        enc: list[nn.Module] = []
        c = 1
        for mult, kernel, stride in networks._ENCODER_LAYERS:
            enc += [_gated(c, mult * f, kernel, stride), nn.BatchNorm2d(mult * f), nn.ELU()]
            c = mult * f
        self.enc = nn.Sequential(*enc, _gated(c, 2 * ZC + j, 1, 1))
        c = 8 * f
        dec: list[nn.Module] = [_gated(ZC + j, c, 4, 1, True), nn.BatchNorm2d(c), nn.ELU()]
        for mult, kernel, stride in networks._DECODER_LAYERS:
            dec += [_gated(c, mult * f, kernel, stride, True), nn.BatchNorm2d(mult * f), nn.ELU()]
            c = mult * f
        self.body = nn.Sequential(*dec, nn.Conv2d(c, 1, 1))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = F.interpolate(x, size=networks.CONV_SIZE, mode="bilinear", align_corners=False)
        h = self.enc(x).flatten(1)
        return h[:, :ZC], h[:, ZC:2 * ZC], h[:, 2 * ZC:]

    def dec(self, z: Tensor) -> Tensor:
        out = self.body(z[:, :, None, None])
        return F.interpolate(out, size=(28, 28), mode="bilinear", align_corners=False).flatten(1)

    def forward(self, what: str, x: Tensor) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """``encode`` or ``dec`` by name (one entry point for ``torch.func.functional_call``)."""
        return self.encode(x) if what == "encode" else self.dec(x)


class Functional:
    """One seed's view of a stack of :class:`PlainConvVAE` weights inside ``torch.vmap``:
    ``encode``/``dec``/``j`` for :func:`bench_stacked.plain_loss`."""

    def __init__(self, base: PlainConvVAE, state: tuple[dict[str, Tensor], dict[str, Tensor]]
                 ) -> None:
        self.base, self.state, self.j = base, state, base.j

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return torch.func.functional_call(self.base, self.state, ("encode", x))

    def dec(self, z: Tensor) -> Tensor:
        return torch.func.functional_call(self.base, self.state, ("dec", z))


def conv_vmap(device: torch.device, sz: Sizes, opt: Options, seeds: int) -> Step:
    """The plain model stacked the other way: S copies' weights stacked by
    ``torch.func.stack_module_state`` and the plain loss ``torch.vmap``-ed over them (each seed
    its own noise), one Adam over the stacked tensors; data resident on the device."""
    torch.manual_seed(0)
    students = [PlainConvVAE(2).to(device) for _ in range(seeds)]
    teachers = [PlainConvVAE(1).to(device).eval() for _ in range(seeds)]
    s_params, s_buffers = torch.func.stack_module_state(students)
    t_params, t_buffers = torch.func.stack_module_state(teachers)
    t_params = {k: v.detach() for k, v in t_params.items()}
    s_base, t_base = students[0], teachers[0]
    adam = torch.optim.Adam(list(s_params.values()), lr=1e-3)
    n_rep = sz.conv_batch // 2
    data = (torch.rand(seeds, sz.conv_rows, 1, 28, 28) < 0.3).float().to(device)

    def one(sp: dict[str, Tensor], sb: dict[str, Tensor], tp: dict[str, Tensor],
            tb: dict[str, Tensor], x: Tensor) -> Tensor:
        return plain_loss(Functional(s_base, (sp, sb)),  # type: ignore[arg-type]
                          Functional(t_base, (tp, tb)), x, n_rep)  # type: ignore[arg-type]

    loss_fn = torch.vmap(one, randomness="different")

    def step() -> None:
        idx = torch.randint(sz.conv_rows, (sz.conv_batch - n_rep,), device=device)
        x = data[:, idx]
        with opt.active(device):
            loss = loss_fn(s_params, s_buffers, t_params, t_buffers, x).sum()
            adam.zero_grad(set_to_none=True)
            loss.backward()
            adam.step()
    return step


def conv_plain(device: torch.device, sz: Sizes, opt: Options) -> tuple[Step, int]:
    torch.manual_seed(0)
    teacher, student = PlainConvVAE(1).to(device).eval(), PlainConvVAE(2).to(device)
    if opt.cl:
        teacher, student = (m.to(memory_format=torch.channels_last) for m in (teacher, student))
    adam = torch.optim.Adam(student.parameters(), lr=1e-3)
    n_rep = sz.conv_batch // 2
    data = batches((torch.rand(sz.conv_rows, 1, 28, 28) < 0.3).float(), sz.conv_batch - n_rep,
                   device, opt.cl)

    def step() -> None:
        with opt.active(device):
            loss = plain_loss(student, teacher, next(data), n_rep)
            adam.zero_grad(set_to_none=True)
            loss.backward()
            adam.step()
    return step, sz.conv_batch


def _channels_last_hooks(model: nn.Module) -> None:
    """Feed every (grouped) convolution channels-last input (the stack's layout is fixed by
    reshapes, so the hint is given per layer); outputs of 1x1 maps stay valid views."""
    def to_cl(_: nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return (args[0].contiguous(memory_format=torch.channels_last),)

    def to_plain(_: nn.Module, __: tuple[Tensor, ...], out: Tensor) -> Tensor:
        return out.contiguous()

    for m in model.modules():
        if isinstance(m, StackedConv2d):
            m.register_forward_pre_hook(to_cl)
    model.decoder.body[-1].register_forward_hook(to_plain)
    model.encoder.latent_projection.register_forward_hook(to_plain)


class OptionStep(TrainStep):
    """:class:`TrainStep` run under a row's options (autocast, cuDNN benchmark)."""

    options: Options = Options()

    def __call__(self) -> None:
        with self.options.active(self.train_x.device):
            super().__call__()


@dataclass
class LgmConv:
    """A stacked conv lifelong step: the step to time and what the bf16 check reads."""

    step: Step
    inner: TrainStep
    student: DiscreteContinuousVAE
    samples: int


def conv_lgm(device: torch.device, sz: Sizes, opt: Options, seeds: int,
             graph: bool | None = None) -> LgmConv:
    cfg = make_config("paper", batch_size=sz.conv_batch, arch="conv")
    teacher = DiscreteContinuousVAE("conv", (1, 28, 28), ZC, 1, seeds=range(seeds)).to(device)
    student = teacher.grown(1)
    if opt.cl:
        _channels_last_hooks(student)
    objective = StudentObjective(cfg, Teacher(frozen_copy(teacher), tasks_seen=1))
    n_rep = objective.replay_rows(sz.conv_batch)
    data = (torch.rand(seeds, sz.conv_rows, 1, 28, 28, generator=torch.Generator()
                       .manual_seed(1)) < 0.3).float().to(device)
    per_epoch = math.ceil(sz.conv_rows / sz.conv_batch)
    buffers = EpochBuffers(student, 1, per_epoch, sz.conv_batch, n_rep, device)
    gens = [torch.Generator(device=device).manual_seed(s) for s in range(seeds)]
    buffers.refill(gens, sz.conv_rows)
    inner = OptionStep(student, objective, make_optimiser(student, 1e-3), cfg, data, buffers)
    inner.options = opt
    graph = device.type == "cuda" if graph is None else graph
    run = GraphedStep(inner) if graph else inner
    done = [0]

    def step() -> None:
        if done[0] and done[0] % per_epoch == 0:
            buffers.refill(gens, sz.conv_rows)
            inner.start_epoch()
        run()
        done[0] += 1
    return LgmConv(step, inner, student, seeds * sz.conv_batch)


def bf16_check(device: torch.device, sz: Sizes, seeds: int, steps: int) -> None:
    """Per-seed validation -ELBO after ``steps`` stacked steps in float32 and in bf16 (same
    initialisation, data and noise): is the difference of the means within the seeds' spread?"""
    val = (torch.rand(seeds, sz.conv_val, 1, 28, 28, generator=torch.Generator().manual_seed(2))
           < 0.3).float().to(device)
    out = {}
    for flags in (frozenset(), frozenset({"bf16"})):
        run = conv_lgm(device, sz, Options(flags), seeds)
        for _ in range(steps):
            run.step()
        out["bf16" if flags else "fp32"] = stacked_negative_elbo(run.student, val,
                                                                 list(range(seeds))).cpu()
    a, b = out["fp32"], out["bf16"]
    spread = float(a.std()) if seeds > 1 else math.nan
    print(f"  bf16 check ({steps} steps, S={seeds}, validation -ELBO per seed):")
    print(f"    fp32: {' '.join(f'{v:.2f}' for v in a.tolist())}  mean {a.mean():.2f}, "
          f"std over seeds {spread:.3f}")
    print(f"    bf16: {' '.join(f'{v:.2f}' for v in b.tolist())}  mean {b.mean():.2f}")
    diff = abs(float(b.mean() - a.mean()))
    verdict = ("within" if diff <= spread else "OUTSIDE") if seeds > 1 else "no spread (S=1)"
    print(f"    |mean bf16 - mean fp32| = {diff:.3f}: {verdict} the seeds' spread", flush=True)


# --------------------------------------------------------------------------- ladder VAE
def _ladder(device: torch.device, width: int, seed: int, cl: bool) -> LadderVAE:
    torch.manual_seed(seed)
    model = LadderVAE(32, width, 3).to(device)
    return model.to(memory_format=torch.channels_last) if cl else model


def ladder_images(n: int) -> Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(3))


def ladder_elbo_plain(device: torch.device, width: int, batch: int, opt: Options,
                      graph: bool = False) -> Step:
    model = _ladder(device, width, 0, opt.cl).train()
    if graph:
        data = ladder_images(batch * 8).to(device)
        x = data[:batch].clone()
        with opt.active(device):
            replay = graphed(lambda: model.neg_elbo(x).loss.mean(), list(model.parameters()),
                             1e-4, 1e-4)
        order = torch.randperm(len(data), device=device)
        k = [0]

        def step() -> None:
            i = k[0] % 8
            x.copy_(data[order[i * batch:(i + 1) * batch]])
            k[0] += 1
            replay()
        return step
    adam = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4)
    data_iter = batches(ladder_images(batch * 8), batch, device, opt.cl)

    def step() -> None:
        with opt.active(device):
            loss = model.neg_elbo(next(data_iter)).loss.mean()
            adam.zero_grad(set_to_none=True)
            loss.backward()
            adam.step()
    return step


def fit_rate(run: Callable[[int], None], device: torch.device, steps: int, warmup: int,
             samples: int) -> float:
    """Samples/s of a whole-fit call ``run(n_steps)`` (a short fit first as the warm-up)."""
    run(max(1, warmup))
    sync(device)
    start = time.perf_counter()
    run(steps)
    sync(device)
    return steps * samples / (time.perf_counter() - start)


def ladder_elbo_lgm(device: torch.device, width: int, batch: int, opt: Options,
                    most: int) -> Callable[[int], None]:
    """fit_elbo for ``steps`` steps (one epoch of ``batch * steps`` images, at most
    ``most`` steps: the images are on the device before the clock starts)."""
    model = _ladder(device, width, 0, opt.cl)
    images = ladder_images(batch * most).to(device)
    if opt.cl:
        images = images.contiguous(memory_format=torch.channels_last)

    def run(steps: int) -> None:
        with opt.active(device):
            fit_elbo(model, images[:batch * steps], epochs=1, batch=batch, lr=1e-4,
                     weight_decay=1e-4, warmup_fraction=0.5, seed=0, desc="bench")
    return run


def ladder_loss() -> Callable[..., Tensor | DistillationLoss]:
    """kd_compression's eq. 7: W2 latents averaged, the shared top prior skipped."""
    return distillation_loss_fn("ours", lam=0.1, latent_measure="w2", latent_reduction="mean",
                                skip=(TOP,))


def _scalar(out: Tensor | DistillationLoss) -> Tensor:
    return out.loss if isinstance(out, DistillationLoss) else out


def distill_plain(teacher: nn.Module, student: nn.Module, loss_fn: Callable[..., object],
                  noise: Callable[[], dict[str, Tensor]], device: torch.device, opt: Options,
                  clip: float | None, graph: bool = False) -> Step:
    """Plain loop of data-free distillation: fresh shared noise drawn on the device, the loss,
    Adam (lr 1e-4, weight decay 1e-4), optional clipping; or that step captured in a graph."""
    teacher.eval()
    student.train()
    params = list(student.parameters())
    if graph:
        static = noise()

        def draw() -> None:
            for v, fresh in zip(static.values(), noise().values(), strict=True):
                v.copy_(fresh)

        def loss() -> Tensor:
            return _scalar(loss_fn(teacher, student, static, None))  # type: ignore[arg-type]
        with opt.active(device):
            return graphed(loss, params, 1e-4, 1e-4, before=draw, clip=clip)
    adam = torch.optim.Adam(params, lr=1e-4, weight_decay=1e-4)

    def step() -> None:
        with opt.active(device):
            loss = _scalar(loss_fn(teacher, student, noise(), None))  # type: ignore[arg-type]
            adam.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(params, clip)
            adam.step()
    return step


def distill_lgm(teacher: nn.Module, student: nn.Module, loss_fn: Callable[..., object],
                batch: int, device: torch.device, opt: Options, clip: float | None
                ) -> Callable[[int], None]:
    def run(steps: int) -> None:
        with opt.active(device):
            distill(teacher, student, steps=steps, batch=batch, lr=1e-4, weight_decay=1e-4,
                    clip_grad=clip, loss_fn=loss_fn,  # type: ignore[arg-type]
                    generator=torch.Generator().manual_seed(0), device=device, desc="bench")
    return run


# --------------------------------------------------------------------------- VRNN
def strokes(n: int, length: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(4)
    pen = (torch.rand(n, length, 1, generator=g) < 0.1).float()
    return torch.cat([pen, torch.randn(n, length, 2, generator=g)], -1), torch.ones(n, length)


@contextlib.contextmanager
def no_sequence_check() -> Iterator[None]:
    """The VRNN's input check reads a tensor on the host (no graph capture): off for a while."""
    saved = vrnn.check_sequences
    vrnn.check_sequences = lambda x, mask: None
    try:
        yield
    finally:
        vrnn.check_sequences = saved


def vrnn_elbo_plain(device: torch.device, size: VRNNSize, sz: Sizes, opt: Options,
                    graph: bool = False) -> Step:
    torch.manual_seed(0)
    model = VRNN(size, sz.vrnn_len).to(device).train()
    x, mask = strokes(sz.vrnn_batch * 8, sz.vrnn_len)
    if graph:
        xs, ms = x[:sz.vrnn_batch].to(device), mask[:sz.vrnn_batch].to(device)
        with opt.active(device), no_sequence_check():
            return graphed(lambda: model.neg_elbo(xs, ms).per_step, list(model.parameters()),
                           1e-4, 1e-4, clip=10.0)
    adam = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4)
    loader = batches(torch.cat([x, mask[..., None]], -1), sz.vrnn_batch, device)

    def step() -> None:
        xb = next(loader)
        with opt.active(device):
            loss = model.neg_elbo(xb[..., :3], xb[..., 3]).per_step
            adam.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            adam.step()
    return step


def vrnn_elbo_lgm(device: torch.device, size: VRNNSize, sz: Sizes, opt: Options
                  ) -> Callable[[int], None]:
    torch.manual_seed(0)
    model = VRNN(size, sz.vrnn_len).to(device)
    x, mask = (t.to(device) for t in strokes(sz.vrnn_batch * 8, sz.vrnn_len))

    def run(steps: int) -> None:
        with opt.active(device):
            train_elbo(model, x, mask, steps=steps, batch=sz.vrnn_batch, lr=1e-4,
                       weight_decay=1e-4, clip_grad=10.0,
                       generator=torch.Generator().manual_seed(0), desc="bench")
    return run


# --------------------------------------------------------------------------- the table
@dataclass
class Row:
    model: str
    name: str
    measure: Callable[[], float]
    base: str | None = None      # the row this one varies (ratio "vs base")
    plain: str | None = None     # the plain row of the same case (ratio "vs plain")
    single: str | None = None    # the S=1 row of a stack (ratio "vs k separate S=1 runs")
    other: str | None = None     # any other row to compare with (ratio "vs <its name>")
    seeds: int = 1
    rates: list[float] = field(default_factory=list)


def case_rows(model: str, case: str, sfx: str, plain: Callable[[], float],
              lgm: Callable[[], float]) -> list[Row]:
    """A case's plain row and lgm row (ratio "vs plain"), each "vs base" when ``sfx`` names
    a variant."""
    return [Row(model, f"{case} plain{sfx}", plain, base=f"{case} plain" if sfx else None),
            Row(model, f"{case} lgm{sfx}", lgm, plain=f"{case} plain{sfx}",
                base=f"{case} lgm" if sfx else None)]


def option_sets(args: argparse.Namespace, device: torch.device) -> list[Options]:
    """The base row's options, one per variant flag, and all flags together."""
    flags = [f for f, on in (("cl", args.channels_last), ("bf16", args.bf16),
                             ("nobench", args.cudnn_benchmark)) if on]
    if "nobench" in flags and device.type != "cuda":
        flags.remove("nobench")
    sets = [Options()] + [Options(frozenset({f})) for f in flags]
    if len(flags) > 1:
        sets.append(Options(frozenset(flags)))
    return sets


def conv_rows(args: argparse.Namespace, device: torch.device, sz: Sizes) -> list[Row]:
    rows: list[Row] = []
    w = (args.steps, args.warmup)
    for opt in option_sets(args, device):
        sfx = opt.suffix
        plain = f"plain{sfx}"
        rows.append(Row("conv", plain, lambda o=opt: rate(*conv_plain(device, sz, o)[:1], device,
                                                            *w, sz.conv_batch),
                        base="plain" if sfx else None))
        modes = [None] + ([False] if args.graph and device.type == "cuda" else [])
        for graph in modes:
            tag = " eager" if graph is False else ""
            for s in args.seeds:
                name = f"lgm S={s}{tag}{sfx}"

                def measure(o: Options = opt, s: int = s, g: bool | None = graph) -> float:
                    run = conv_lgm(device, sz, o, s, g)
                    return rate(run.step, device, *w, run.samples)
                rows.append(Row("conv", name, measure, plain=plain,
                                base=f"lgm S={s}{tag}" if sfx else None,
                                single=f"lgm S=1{tag}{sfx}" if s != 1 else None, seeds=s))
        if args.vmap and not opt.cl:  # a 5-d stack of images has no channels-last layout
            for s in args.seeds:
                rows.append(Row("conv", f"vmap S={s}{sfx}", lambda o=opt, s=s: rate(
                    conv_vmap(device, sz, o, s), device, *w, s * sz.conv_batch), plain=plain,
                    base=f"vmap S={s}" if sfx else None, other=f"lgm S={s}{sfx}", seeds=s,
                    single=f"vmap S=1{sfx}" if s != 1 and 1 in args.seeds else None))
    return rows


def ladder_rows(args: argparse.Namespace, device: torch.device, sz: Sizes) -> list[Row]:
    rows: list[Row] = []
    last: list[Row] = []
    b, w = sz.ladder_batch, (args.steps, args.warmup)
    graphs = args.graph and device.type == "cuda"
    for opt in option_sets(args, device):
        sfx = opt.suffix
        for who, width in (("teacher", sz.ladder_teacher), ("student", sz.ladder_student)):
            case = f"{who} h={width} elbo"
            rows += case_rows("ladder", case, sfx, lambda o=opt, h=width: rate(
                ladder_elbo_plain(device, h, b, o), device, *w, b),
                lambda o=opt, h=width: fit_rate(
                    ladder_elbo_lgm(device, h, b, o, max(w)), device, *w, b))
        case = f"distill h={sz.ladder_teacher}->{sz.ladder_student}"

        def pair(o: Options) -> tuple[LadderVAE, LadderVAE]:
            return (_ladder(device, sz.ladder_teacher, 0, o.cl).eval(),
                    _ladder(device, sz.ladder_student, 1000, o.cl))

        def noise_of(t: LadderVAE) -> Callable[[], dict[str, Tensor]]:
            return lambda: t.sample_noise(b)
        rows += case_rows("ladder", case, sfx, lambda o=opt: rate(
            distill_plain(*(p := pair(o)), ladder_loss(), noise_of(p[0]), device, o, None),
            device, *w, b), lambda o=opt: fit_rate(
            distill_lgm(*pair(o), ladder_loss(), b, device, o, None), device, *w, b))
        if graphs and not sfx:  # captured last: a failed capture can spoil the context
            t_case = f"teacher h={sz.ladder_teacher} elbo"
            last.append(Row("ladder", f"{t_case} plain +graph", lambda: rate(
                ladder_elbo_plain(device, sz.ladder_teacher, b, Options(), graph=True), device,
                *w, b), base=f"{t_case} plain"))
            last.append(Row("ladder", f"{case} plain +graph", lambda: rate(
                distill_plain(*(p := pair(Options())), ladder_loss(), noise_of(p[0]), device,
                              Options(), None, graph=True), device, *w, b),
                base=f"{case} plain"))
    return rows + last


def vrnn_rows(args: argparse.Namespace, device: torch.device, sz: Sizes) -> list[Row]:
    rows: list[Row] = []
    last: list[Row] = []
    b, w = sz.vrnn_batch, (args.vrnn_steps, min(args.warmup, 2))
    graphs = args.graph and device.type == "cuda"
    opts = [o for o in option_sets(args, device) if not o.cl]  # no convolutions to lay out
    for opt in opts:
        sfx = opt.suffix
        for who, size in (("teacher", sz.vrnn_teacher), ("student", sz.vrnn_student)):
            case = f"{who} {size.rnn} elbo"
            rows += case_rows("vrnn", case, sfx, lambda o=opt, z=size: rate(
                vrnn_elbo_plain(device, z, sz, o), device, *w, b),
                lambda o=opt, z=size: fit_rate(vrnn_elbo_lgm(device, z, sz, o), device, *w, b))
        case = f"distill {sz.vrnn_teacher.rnn}->{sz.vrnn_student.rnn}"

        def pair() -> tuple[VRNN, VRNN]:
            torch.manual_seed(0)
            return (VRNN(sz.vrnn_teacher, sz.vrnn_len).to(device),
                    VRNN(sz.vrnn_student, sz.vrnn_len).to(device))

        def noise_of(t: VRNN) -> Callable[[], dict[str, Tensor]]:
            """The VRNN's noise drawn on the device by the default generator (which a CUDA
            graph may capture; ``sample_noise`` without a generator draws on the host)."""
            shape = (b, sz.vrnn_len)
            return lambda: {"z": torch.randn(*shape, t.size.z_dim, device=device),
                            "pen": torch.rand(*shape, 1, device=device)}
        rows += case_rows("vrnn", case, sfx, lambda o=opt: rate(
            distill_plain(*(p := pair()), vrnn_distillation_loss("ours"), noise_of(p[0]),
                          device, o, 10.0), device, *w, b), lambda o=opt: fit_rate(
            distill_lgm(*pair(), vrnn_distillation_loss("ours"), b, device, o, 10.0), device,
            *w, b))
        if graphs and not sfx:  # captured last: a failed capture can spoil the context
            t_case = f"teacher {sz.vrnn_teacher.rnn} elbo"
            last.append(Row("vrnn", f"{t_case} plain +graph", lambda: rate(
                vrnn_elbo_plain(device, sz.vrnn_teacher, sz, Options(), graph=True), device,
                *w, b), base=f"{t_case} plain"))
            last.append(Row("vrnn", f"{case} plain +graph", lambda: rate(
                distill_plain(*(p := pair()), vrnn_distillation_loss("ours"), noise_of(p[0]),
                              device, Options(), 10.0, graph=True), device, *w, b),
                base=f"{case} plain"))
    return rows + last


def report(model: str, rows: list[Row]) -> None:
    best = {r.name: max(r.rates) for r in rows if r.rates}
    for r in rows:
        if not r.rates:
            print(f"{r.name:>34}: failed")
            continue
        v = best[r.name]
        line = f"{r.name:>34}: {v:>12,.0f} samples/s" if v >= 100 else \
            f"{r.name:>34}: {v:>12.3g} samples/s"
        for ref, what in ((r.plain, "plain"), (r.base, "base"), (r.single, ""),
                          (r.other, r.other)):
            if ref and ref in best:
                label = what or f"{r.seeds} separate S=1 runs"
                line += f"   x{v / best[ref]:5.2f} vs {label}"
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", nargs="+", default=["conv", "ladder", "vrnn"],
                        choices=["conv", "ladder", "vrnn"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5],
                        help="stack sizes of the conv lifelong step")
    parser.add_argument("--steps", type=int, default=30, help="timed steps (conv, ladder)")
    parser.add_argument("--vrnn-steps", type=int, default=5, help="timed steps (VRNN)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--bf16-steps", type=int, default=200,
                        help="stacked steps of the bf16 check (0: no check)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (tests, smoke)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: torch's; 1 with --tiny)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--cudnn-benchmark", action="store_true")
    parser.add_argument("--graph", action="store_true")
    parser.add_argument("--vmap", action="store_true",
                        help="conv: also the plain model stacked by torch.vmap (vs grouped convs)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    sz = TINY if args.tiny else Sizes()
    threads = args.threads or (1 if args.tiny else None)
    if threads:
        torch.set_num_threads(threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}, torch {torch.__version__}, {args.steps} timed steps "
          f"({args.vrnn_steps} for the VRNN), best of {args.repeats}"
          f"{', tiny sizes' if args.tiny else ''}", flush=True)
    for flag, on in (("--graph", args.graph), ("--cudnn-benchmark", args.cudnn_benchmark)):
        if on and device.type != "cuda":
            print(f"{flag}: cuda only, skipped")
    builders = {"conv": conv_rows, "ladder": ladder_rows, "vrnn": vrnn_rows}
    titles = {"conv": f"conv lifelong step (eq. 6, eq. 15), batch {sz.conv_batch} per seed",
              "ladder": f"ladder VAE (Table 1), batch {sz.ladder_batch}, 32x32x3",
              "vrnn": f"VRNN (app. G), batch {sz.vrnn_batch}, T = {sz.vrnn_len}"}
    for model in args.models:
        rows = builders[model](args, device, sz)
        print(f"== {titles[model]}", flush=True)
        for _ in range(args.repeats):  # interleaved, so drifting load hits all rows alike
            for r in rows:
                try:
                    r.rates.append(r.measure())
                    # as it goes, so that a run stopped by a timeout still says something
                    print(f"  ({r.name} {r.rates[-1]:,.3g})", flush=True)
                except Exception as err:  # noqa: BLE001 - one failing variant is a result
                    print(f"  {r.name}: {type(err).__name__}: {str(err).splitlines()[0][:160]}",
                          flush=True)
        report(model, rows)
        if model == "conv" and args.bf16 and args.bf16_steps > 0:
            bf16_check(device, sz, max(args.seeds), args.bf16_steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
