"""The four forms of a deep DGM of the KD paper's fig. 1, derived from an ancestral pass.

Fig. 1 draws one toy DGM four ways (section 3.1; diamonds deterministic, circles random):

(a) *original*: the DAG of eq. 1, inputs x, latents z and targets y, each variable random given
    its parents;
(b) *auxiliary*: every random variable v becomes deterministic, v = g(Pa(v), eps_v), with an
    auxiliary root eps_v of fixed law (the reparameterisation trick for all variables);
(c) *semi-auxiliary*: only the latents get auxiliary roots; the targets stay random;
(d) *compact semi-auxiliary*: the deterministic latents are omitted; each target then depends
    directly on the inputs, the auxiliary roots and earlier targets it reached through them,
    p(y | eps, x) = prod_j p(y_j | eps_<=j, y_<j, x).

The forms are computed from :meth:`AncestralPass.edges` (every :class:`Conditional` names its
parents), so any model of this library can be drawn. A parent that is not a conditional of the
pass is an input (shaded); ``"eps:<name>"`` is the auxiliary root of ``<name>``.

:class:`ToyDGM` is a small model with fig. 1's ingredients (the paper's figure is an image; its
exact edges are not in the text): x -> z1, z1 -> y1, {z1, y1} -> z2, z2 -> y2 -- two latents,
two targets, one target that is the parent of a latent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from lgm.models.semi_auxiliary import AncestralPass, Conditional, gaussian_sample, pick

FORMS = ("original", "auxiliary", "semi-auxiliary", "compact")
NODE_KINDS = ("input", "random", "deterministic", "auxiliary")


@dataclass
class Graph:
    """A drawn DAG: node name -> kind (one of NODE_KINDS), (parent, child) edges."""

    title: str
    nodes: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def parents(self, name: str) -> list[str]:
        return [p for p, c in self.edges if c == name]


def _base(pass_: AncestralPass) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Inputs and conditionals of the pass, and the original form's edges (no eps)."""
    if not pass_.conditionals:
        raise ValueError("the ancestral pass is empty: nothing to draw")
    names = set(pass_.names())
    edges = [(p, c) for p, c in pass_.edges() if not p.startswith("eps:")]
    nodes = {p: "input" for p, _ in edges if p not in names}
    return nodes, edges


def dgm_form(pass_: AncestralPass, form: str) -> Graph:
    """One of the four forms of fig. 1 (``form`` in FORMS) of the model that made ``pass_``."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    nodes, edges = _base(pass_)
    if form == "compact":
        return _compact(pass_, nodes, edges)
    graph = Graph(form, dict(nodes), list(edges))
    for c in pass_.conditionals:
        reparameterised = form == "auxiliary" or (form == "semi-auxiliary"
                                                 and c.role == "latent")
        graph.nodes[c.name] = "deterministic" if reparameterised else "random"
        if reparameterised:
            graph.nodes[f"eps:{c.name}"] = "auxiliary"
            graph.edges.append((f"eps:{c.name}", c.name))
    return graph


def _compact(pass_: AncestralPass, nodes: dict[str, str],
             edges: list[tuple[str, str]]) -> Graph:
    """(d): drop the latents; a node's parents are its non-latent ancestors through them."""
    semi = dgm_form(pass_, "semi-auxiliary")
    latents = {c.name for c in pass_.latents}

    def reach(name: str) -> list[str]:
        out: list[str] = []
        for p in semi.parents(name):
            for q in (reach(p) if p in latents else [p]):
                if q not in out:
                    out.append(q)
        return out

    graph = Graph("compact", dict(nodes))
    for c in pass_.targets:
        graph.nodes[c.name] = "random"
        for p in reach(c.name):
            graph.nodes.setdefault(p, semi.nodes[p])
            graph.edges.append((p, c.name))
    return graph


def dgm_forms(pass_: AncestralPass) -> list[Graph]:
    """The four forms (a)-(d) of fig. 1."""
    return [dgm_form(pass_, f) for f in FORMS]


def depths(graph: Graph) -> dict[str, int]:
    """Topological depth: 0 for roots, else 1 + the deepest parent."""
    out: dict[str, int] = {}

    def depth(name: str, seen: tuple[str, ...] = ()) -> int:
        if name in seen:
            raise ValueError(f"the graph has a cycle through {name!r}")
        if name not in out:
            ps = graph.parents(name)
            out[name] = 1 + max(depth(p, (*seen, name)) for p in ps) if ps else 0
        return out[name]

    for n in graph.nodes:
        depth(n)
    return out


def tex_label(name: str) -> str:
    """'z12' -> $z_{12}$, 'eps:y1' -> $\\epsilon_{y_{1}}$, 'x' -> $x$."""
    def sub(n: str) -> str:
        m = re.fullmatch(r"([A-Za-z]+)(\d+)", n)
        return f"{m.group(1)}_{{{m.group(2)}}}" if m else n
    if name.startswith("eps:"):
        return rf"$\epsilon_{{{sub(name[4:])}}}$"
    return f"${sub(name)}$"


def layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """Node positions: x = topological depth, nodes of one depth spread vertically."""
    d = depths(graph)
    pos: dict[str, tuple[float, float]] = {}
    for level in sorted(set(d.values())):
        names = [n for n in graph.nodes if d[n] == level]
        for k, n in enumerate(names):
            pos[n] = (float(level), (len(names) - 1) / 2 - k)
    return pos


def draw_graph(ax: Any, graph: Graph, radius: float = 0.22,
               span: tuple[float, float] | None = None) -> None:
    """Draw ``graph`` on a matplotlib axis: circles random (shaded: inputs), diamonds
    deterministic, auxiliary roots as dashed circles; arrows parent -> child (bent when they
    skip a depth). ``span`` = (width, height) of the view, to draw several graphs at one
    scale."""
    from matplotlib.patches import Circle, RegularPolygon

    pos, d = layout(graph), depths(graph)
    for name, kind in graph.nodes.items():
        xy = pos[name]
        if kind == "deterministic":
            patch = RegularPolygon(xy, 4, radius=radius * 1.3, fc="white", ec="black")
        else:
            patch = Circle(xy, radius, fc="0.8" if kind == "input" else "white", ec="black",
                           ls="--" if kind == "auxiliary" else "-")
        ax.add_patch(patch)
        ax.text(*xy, tex_label(name), ha="center", va="center", fontsize=10)
    for p, c in graph.edges:
        bend = 0.35 if d[c] - d[p] > 1 and pos[c][1] == pos[p][1] else 0.0
        ax.annotate("", xy=pos[c], xytext=pos[p],
                    arrowprops=dict(arrowstyle="-|>", color="0.2", shrinkA=12, shrinkB=12,
                                    connectionstyle=f"arc3,rad={bend}"))
    width, height = span or graph_span(graph)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(-height / 2, height / 2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(graph.title)


def graph_span(graph: Graph) -> tuple[float, float]:
    """(width, height) that holds the drawing of ``graph``."""
    pos = layout(graph)
    xs, ys = zip(*pos.values(), strict=True)
    return max(xs) + 1.0, 2 * max(abs(y) for y in ys) + 1.4


def draw_forms(axes: Any, graphs: list[Graph]) -> None:
    """Draw several graphs side by side at one scale (fig. 1's panels)."""
    spans = [graph_span(g) for g in graphs]
    span = (max(w for w, _ in spans), max(h for _, h in spans))
    for ax, g in zip(axes, graphs, strict=True):
        draw_graph(ax, g, span=span)


class ToyDGM(nn.Module):
    """A small conditional DGM with fig. 1's ingredients, all variables scalar Gaussians::

        z1 ~ N(a1 x, s1^2)      y1 ~ N(b1 z1, t1^2)
        z2 ~ N(a2 z1 + c2 y1, s2^2)      y2 ~ N(b2 z2, t2^2)

    In semi-auxiliary form z_i = mu_i + s_i eps_i; the targets' draws (keys "y1", "y2" of the
    noise) only make a pass reproducible: the losses compare the targets' conditionals.
    """

    NAMES = ("z1", "y1", "z2", "y2")

    def __init__(self) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.tensor([0.8, 1.0, 0.7, 0.5, 1.2]))
        self.log_std = nn.Parameter(torch.log(torch.tensor([0.5, 0.3, 0.5, 0.3])))

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        return {k: torch.randn(n, 1, generator=generator) for k in self.NAMES}

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        if x is None or x.dim() != 2 or x.shape[1] != 1:
            raise ValueError("ToyDGM needs an input x of shape [N, 1]")
        a1, b1, a2, c2, b2 = self.weights
        std = self.log_std.exp()
        pass_ = AncestralPass()

        def add(name: str, role: str, mu: Tensor, k: int, pa: tuple[str, ...]) -> Tensor:
            s = std[k].expand_as(mu)
            return pass_.add(Conditional(name, role, "gaussian", {"mu": mu, "std": s},
                                         gaussian_sample(mu, s, noise[name]), parents=pa))

        z1 = add("z1", "latent", a1 * x, 0, ("x",))
        y1 = add("y1", "target", b1 * pick(z1, "z1", parents), 1, ("z1",))
        z2 = add("z2", "latent", a2 * pick(z1, "z1", parents) + c2 * pick(y1, "y1", parents),
                 2, ("z1", "y1"))
        add("y2", "target", b2 * pick(z2, "z2", parents), 3, ("z2",))
        return pass_
