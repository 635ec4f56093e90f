"""Diagrams of the two papers drawn from the library's own objects, so they cannot drift.

KD paper (*A Unified Knowledge Distillation Framework for Deep DGMs*):

- **Fig. 3** (:func:`distillation_panels`, :func:`draw_distillation`): which conditionals each
  distillation method pairs. The pairs are *recorded* from the losses of
  :mod:`lgm.losses.distillation` by :func:`lgm.losses.pairs.compared_pairs`: (a) a vanilla
  network, (b) GAN distillation (eq. 9, features compared by W2), (c) a 2-layer
  fully-visible autoregressive model (eq. 3) -- all three ``target_free_loss`` on a
  :class:`~lgm.models.graph.ChainDGM` without or with deterministic latents --, (d) the local
  baseline ``local_distillation_loss`` and (e) ours, ``target_free_loss`` (eq. 4, 6, 7), both
  on fig. 1's :class:`~lgm.models.graph.ToyDGM`.
- **Fig. 4** (:func:`model_structures`, :func:`draw_structures`): the semi-auxiliary DAG of
  one ancestral pass of each real model class (ladder VAE, VRNN, Helmholtz machine,
  conditional ladder VAE), built tiny.

Lifelong paper (*Lifelong Generative Modeling*):

- **Fig. 1a** (:func:`draw_task_sequence`): the sequential setting, one sample strip per task
  of an :class:`lgm.data.tasks.TaskSequence`, with the replay proportion
  pi = k / (k + 1) that :func:`lgm.training.replay.replay_count` gives at task k.
- **Fig. 2** (:func:`objective_terms`, :func:`draw_teacher_student`): teacher, student and
  replay, with the terms a :class:`lgm.training.objective.StudentObjective` actually uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from lgm.data.tasks import TaskSequence
from lgm.losses.distillation import local_distillation_loss, target_free_loss
from lgm.losses.pairs import Pair, compared_pairs
from lgm.models.graph import (
    AUTOREGRESSIVE,
    GAN,
    VANILLA,
    ChainDGM,
    Graph,
    ToyDGM,
    dgm_form,
    draw_graph,
    graph_span,
)
from lgm.models.semi_auxiliary import AncestralPass
from lgm.report.figures import wrapped
from lgm.training.objective import TERMS, StudentObjective, Teacher
from lgm.training.replay import replay_count
from lgm.training.settings import ObjectiveWeights

FONT = 10         # every text of these figures: 10 pt at 9.5 in shows 11 px in the book
WIDTH = 9.5       # inches, the widest a figure may be
PAIR_COLOURS = ("#8ecae6", "#ffb703", "#90be6d", "#f4a6a6", "#cdb4db", "#f9c74f")
TEACHER_EDGE = dict(color="#c1121f", ls="--", lw=1.4)


# ----------------------------------------------------------------------------- KD fig. 3
@dataclass
class MethodPanel:
    """One panel of fig. 3: the graph both models share and the pairs the loss compared."""

    label: str
    title: str
    graph: Graph
    pairs: list[Pair]


def _panel(label: str, title: str, loss: Any, teacher: Any, student: Any, noise: Any,
           x: Any, **kwargs: Any) -> MethodPanel:
    pairs = compared_pairs(loss, teacher, student, noise, x, **kwargs)
    with torch.no_grad():
        pass_ = teacher.ancestral(noise, x)
    form = "original" if loss is local_distillation_loss else "semi-auxiliary"
    return MethodPanel(label, title, dgm_form(pass_, form), pairs)


def distillation_panels(seed: int = 0, n: int = 4) -> list[MethodPanel]:
    """Fig. 3 (a)-(e), each from one call of the real loss on two small models."""
    g = torch.Generator().manual_seed(seed)
    panels = []
    for label, title, spec, kwargs in (
            ("a", "vanilla network", VANILLA, {}),
            ("b", "GAN (features by W2)", GAN, dict(latent_measure="w2", skip=("z",))),
            ("c", "fully-visible autoregressive", AUTOREGRESSIVE, {})):
        teacher, student = ChainDGM(spec, seed=seed), ChainDGM(spec, seed=seed + 1)
        x = torch.randn(n, 1, generator=g, dtype=torch.float64)
        panels.append(_panel(label, title, target_free_loss, teacher, student,
                             teacher.sample_noise(n, g), x, **kwargs))
    torch.manual_seed(seed)
    teacher, student = ToyDGM(), ToyDGM()
    with torch.no_grad():
        student.weights.mul_(0.9)
    x = torch.randn(n, 1, generator=g)
    noise = teacher.sample_noise(n, g)
    panels.append(_panel("d", "local", local_distillation_loss, teacher, student, noise, x))
    panels.append(_panel("e", "ours (semi-auxiliary)", target_free_loss, teacher, student,
                         noise, x))
    return panels


def pair_summary(panel: MethodPanel) -> str:
    """'y1 | z1(teacher); ...': the pairs of one panel as text (the figure's CSV, tests)."""
    return "; ".join(f"{p.name} [{p.term}, {p.measure}] | "
                     + ", ".join(f"{q}({src})" for q, src in p.parents) for p in panel.pairs)


def draw_distillation(panels: list[MethodPanel]) -> Any:
    """Fig. 3: per method, the teacher's graph (left) and the student's (right); each pair the
    loss compares has one colour; a red dashed arrow is a parent whose value in the student's
    conditional is the teacher's sample."""
    import matplotlib.pyplot as plt

    spans = [graph_span(p.graph, late_roots=True) for p in panels]
    width = max(w for w, _ in spans)
    heights = [h for _, h in spans]
    unit = WIDTH / (2 * width + 0.6)
    fig, axes = plt.subplots(len(panels), 2, figsize=(WIDTH, unit * sum(heights)
                                                      + 0.3 * len(panels) + 0.3),
                             gridspec_kw=dict(height_ratios=heights), constrained_layout=True)
    for row, (panel, (_, h)) in zip(axes, zip(panels, spans, strict=True), strict=True):
        fills = {p.name: PAIR_COLOURS[k % len(PAIR_COLOURS)]
                 for k, p in enumerate(panel.pairs)}
        styles = {(q, p.name): TEACHER_EDGE for p in panel.pairs
                  for q, src in p.parents if src == "teacher"}
        terms = sorted({p.term for p in panel.pairs})
        for ax, side, st in ((row[0], "teacher", {}), (row[1], "student", styles)):
            draw_graph(ax, panel.graph, radius=0.27, span=(width, h), fontsize=FONT,
                       fills=fills, edge_styles=st, late_roots=True)
            ax.set_title(f"({panel.label}) {panel.title}: {side}"
                         + (f"  [terms: {', '.join(terms)}]" if side == "student" else ""),
                         fontsize=FONT)
    fig.suptitle(wrapped("same colour: one (teacher, student) pair the loss compares; red "
                         "dashed: the student's conditional reads the teacher's sample",
                         WIDTH - 0.4, FONT), fontsize=FONT)
    return fig


# ----------------------------------------------------------------------------- KD fig. 4
VRNN_LABELS = {f"{k}{t}": rf"${s}_{{{t}}}$" for t in range(1, 10)
               for k, s in (("pen", "p"), ("offset", "o"))}


def model_structures(seed: int = 0, steps: int = 3) -> list[tuple[str, AncestralPass]]:
    """One ancestral pass (one sample) of each model class of fig. 4, built tiny."""
    from lgm.models.conditional_ladder import ConditionalLadderVAE
    from lgm.models.helmholtz import HelmholtzMachine
    from lgm.models.ladder import LadderVAE
    from lgm.models.vrnn import VRNN, VRNNSize

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    ladder = LadderVAE(32, width=2, channels=1, latent_channels=1).eval()
    vrnn = VRNN(VRNNSize((2,), 2, z_dim=1), length=steps).eval()
    hm = HelmholtzMachine(hidden=2).eval()
    cond = ConditionalLadderVAE(32, width=2, channels=1, num_conditions=2,
                                latent_channels=1).eval()
    with torch.no_grad():
        return [("(a) hierarchical (ladder) VAE", ladder.ancestral(ladder.sample_noise(1, g))),
                (f"(b) VRNN, T = {steps}", vrnn.ancestral(vrnn.sample_noise(1, g))),
                ("(c) Helmholtz machine", hm.ancestral(hm.sample_noise(1, g))),
                ("(d) conditional ladder VAE (continual)",
                 cond.ancestral(cond.sample_noise(1, g), torch.tensor([1])))]


def structure_graphs(structures: list[tuple[str, AncestralPass]]) -> list[Graph]:
    """The semi-auxiliary DAG of each pass, titled."""
    graphs = []
    for title, pass_ in structures:
        graph = dgm_form(pass_, "semi-auxiliary")
        graph.title = title
        graphs.append(graph)
    return graphs


def draw_structures(graphs: list[Graph]) -> Any:
    """Fig. 4 as a 2 x 2 grid at one scale."""
    import matplotlib.pyplot as plt

    spans = [graph_span(g, late_roots=True) for g in graphs]
    span = (max(w for w, _ in spans), max(h for _, h in spans))
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, WIDTH * span[1] / span[0] + 0.6),
                             constrained_layout=True)
    for ax, graph in zip(axes.flat, graphs, strict=True):
        draw_graph(ax, graph, radius=0.3, span=span, fontsize=FONT, late_roots=True,
                   labels={**VRNN_LABELS, "x": "$c$"} if "conditional" in graph.title
                   else VRNN_LABELS)
    return fig


# ----------------------------------------------------------------------- lifelong fig. 1a
def replay_proportions(num_tasks: int, batch_size: int) -> list[tuple[int, float]]:
    """(rows replayed, fraction) of a minibatch at task k = 0..num_tasks-1 (pi = k/(k+1))."""
    return [(r, r / batch_size) for r in (replay_count(batch_size, k)
                                          for k in range(num_tasks))]


def draw_task_sequence(tasks: TaskSequence, per_task: int = 4, batch_size: int = 128) -> Any:
    """Fig. 1a: the distributions arrive one after another; at task k the learner sees only
    task k's data, plus the replayed fraction pi = k / (k + 1) of each minibatch."""
    import matplotlib.pyplot as plt

    n = len(tasks)
    props = replay_proportions(n, batch_size)
    fig, axes = plt.subplots(1, n, figsize=(WIDTH, 2.6), constrained_layout=True)
    axes = [axes] if n == 1 else list(axes)
    for k, (ax, task) in enumerate(zip(axes, tasks.tasks, strict=True)):
        images = task.train[:per_task]
        cols = max(1, int(per_task ** 0.5))
        rows = -(-len(images) // cols)
        c, h, w = images.shape[1:]
        grid = torch.ones(c, rows * h, cols * w)
        for i, img in enumerate(images):
            r, q = divmod(i, cols)
            grid[:, r * h:(r + 1) * h, q * w:(q + 1) * w] = img
        ax.imshow(grid.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"task {k}: {task.name}", fontsize=FONT)
        rows_replayed, pi = props[k]
        ax.set_xlabel(rf"replay $\pi$ = {k}/{k + 1}" + f"\n= {rows_replayed}/{batch_size} rows"
                      if k else "no replay\n(first task)", fontsize=FONT)
    fig.suptitle("time: each task's data is seen only while it is current", fontsize=FONT)
    return fig


# ------------------------------------------------------------------------ lifelong fig. 2
TERM_TEXT = {"neg_elbo": r"$-\mathrm{ELBO}(x, \hat x)$",
             "consistency": r"$\mathrm{KL}(Q_\phi(z_d|\hat x)\,\|\,Q_\Phi(z_d|\hat x))$",
             "info_gain": r"$\max(0, L_I)$", "likelihood": r"$\mathrm{KL}(P_\theta\,\|\,P_\Theta)$",
             "ewc": "EWC penalty"}


def objective_at(weights: ObjectiveWeights, tasks_seen: int,
                 image_shape: tuple[int, int, int] = (1, 28, 28)) -> StudentObjective:
    """The student's objective at task ``tasks_seen`` (0: no teacher yet). A small untrained
    VAE stands in for the frozen teacher: fig. 2 needs the objective's flags, weights and
    replay rows, which do not depend on the teacher's values."""
    if tasks_seen < 0:
        raise ValueError(f"tasks_seen must be >= 0, got {tasks_seen}")
    if tasks_seen == 0:
        return StudentObjective(weights, None)
    from lgm.models.vae import DiscreteContinuousVAE

    teacher = DiscreteContinuousVAE("dense", image_shape, 2, max(tasks_seen, 2)).eval()
    return StudentObjective(weights, Teacher(teacher, tasks_seen=tasks_seen))


def objective_terms(objective: StudentObjective) -> dict[str, float]:
    """The weight of each term of ``TERMS`` (but the total) that ``objective`` adds (eq. 6):
    a term is present when the objective's flags and weights switch it on."""
    w, teacher = objective.weights, objective.teacher
    weights = {"neg_elbo": 1.0,
               "consistency": w.consistency_weight if objective.uses_consistency else 0.0,
               "info_gain": w.info_gain_weight,
               "likelihood": w.likelihood_weight if teacher is not None else 0.0,
               "ewc": 1.0 if teacher is not None and teacher.fisher is not None else 0.0}
    if tuple(weights) != TERMS[1:]:
        raise RuntimeError(f"the objective's terms changed: {TERMS}")
    return {k: v for k, v in weights.items() if v > 0}


def draw_teacher_student(objective: StudentObjective, batch_size: int = 128) -> Any:
    """Fig. 2: real data of the current task and the frozen teacher's replay feed the student;
    the teacher's posterior over z_d constrains the student's on the replayed rows."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    terms = objective_terms(objective)
    r = objective.replay_rows(batch_size)
    k = objective.teacher.tasks_seen if objective.teacher is not None else 0
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4), constrained_layout=True)
    boxes = {"data": (0.14, 0.72, f"data of task {k} only\n" + rf"$x \sim P_{{{k}}}(x)$"),
             "teacher": (0.14, 0.28, "teacher (frozen)\n" + r"$P_\Theta(x|z)$, $Q_\Phi(z|x)$"
                         + f"\nknows tasks 0..{k - 1}"),
             "student": (0.72, 0.5, "student\n" + r"$P_\theta(x|z)$, $Q_\phi(z|x)$")}
    half = (0.12, 0.13)
    for x0, y0, text in boxes.values():
        ax.add_patch(FancyBboxPatch((x0 - half[0], y0 - half[1]), 2 * half[0], 2 * half[1],
                                    boxstyle="round,pad=0.01", fc="#eef3f8", ec="black"))
        ax.text(x0, y0, text, ha="center", va="center", fontsize=FONT)

    def arrow(a: str, b: str, label: str, dy: float, **style: Any) -> None:
        (xa, ya, _), (xb, yb, _) = boxes[a], boxes[b]
        end = (xb - half[0] - 0.01, yb + (0.06 if ya > yb else -0.06))
        ax.annotate("", xy=end, xytext=(xa + half[0] + 0.01, ya),
                    arrowprops=dict(arrowstyle="-|>", color="0.2", **style))
        ax.text((xa + xb) / 2 + 0.04, (ya + end[1]) / 2 + dy, label, ha="center",
                va="center", fontsize=FONT)

    arrow("data", "student", f"real x: {batch_size - r} of {batch_size} rows", 0.07)
    if r:
        arrow("teacher", "student", r"replay $\hat x \sim P_\Theta(x|z)$: "
              f"{r} rows " + rf"($\pi$ = {k}/{k + 1})", -0.09)
    if "consistency" in terms:
        ax.annotate("", xy=(0.72, 0.5 - half[1] - 0.01), xytext=(0.14, 0.28 - half[1] - 0.01),
                    arrowprops=dict(arrowstyle="-|>", color="#c1121f", ls="--",
                                    connectionstyle="arc3,rad=0.3"))
        ax.text(0.76, 0.2, "consistency on the replayed rows:\n"
                r"$Q_\phi(z_d|\hat x)$ pulled to $Q_\Phi(z_d|\hat x)$", ha="left", va="center",
                fontsize=FONT, color="#c1121f")
    ax.text(0.93, 0.78, "after the task,\nthe student\nbecomes the\nnext teacher",
            ha="center", va="center", fontsize=FONT, color="0.35")
    loss = " + ".join(TERM_TEXT[t] if v == 1.0 else f"{v:g} {TERM_TEXT[t]}"
                      for t, v in terms.items())
    ax.text(0.5, 0.99, f"student loss = {loss}", ha="center", va="top", fontsize=FONT)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    return fig
