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


def layout(graph: Graph, late_roots: bool = False) -> dict[str, tuple[float, float]]:
    """Node positions: x = topological depth, nodes of one depth spread vertically.

    ``late_roots``: an auxiliary root (kind "auxiliary") sits one column before its child
    instead of in the first column (fig. 4's chains: each eps next to the variable it drives).
    """
    d = dict(depths(graph))
    if late_roots:
        for n, kind in graph.nodes.items():
            children = [c for p, c in graph.edges if p == n]
            if kind == "auxiliary" and children:
                d[n] = min(d[c] for c in children) - 1
    pos: dict[str, tuple[float, float]] = {}
    for level in sorted(set(d.values())):
        names = [n for n in graph.nodes if d[n] == level]
        for k, n in enumerate(names):
            pos[n] = (float(level), (len(names) - 1) / 2 - k)
    return pos


def draw_graph(ax: Any, graph: Graph, radius: float = 0.22,
               span: tuple[float, float] | None = None, *, fontsize: float = 10,
               fills: dict[str, str] | None = None,
               edge_styles: dict[tuple[str, str], dict[str, Any]] | None = None,
               labels: dict[str, str] | None = None, late_roots: bool = False) -> None:
    """Draw ``graph`` on a matplotlib axis: circles random (shaded: inputs), diamonds
    deterministic, auxiliary roots as dashed circles; arrows parent -> child (bent when they
    skip a depth). ``span`` = (width, height) of the view, to draw several graphs at one
    scale. ``fills`` colours nodes, ``edge_styles`` overrides an edge's arrow properties,
    ``labels`` replaces a node's TeX label (fig. 3's pairs, fig. 4's short names)."""
    from matplotlib.patches import Circle, RegularPolygon

    pos = layout(graph, late_roots)
    patches = {}
    for name, kind in graph.nodes.items():
        xy = pos[name]
        fill = (fills or {}).get(name, "0.8" if kind == "input" else "white")
        if kind == "deterministic":
            patch = RegularPolygon(xy, 4, radius=radius * 1.3, fc=fill, ec="black")
        else:
            patch = Circle(xy, radius, fc=fill, ec="black",
                           ls="--" if kind == "auxiliary" else "-")
        patches[name] = ax.add_patch(patch)
        ax.text(*xy, (labels or {}).get(name, tex_label(name)), ha="center", va="center",
                fontsize=fontsize)
    for p, c in graph.edges:
        bend = 0.35 if pos[c][0] - pos[p][0] > 1 and pos[c][1] == pos[p][1] else 0.0
        props = dict(arrowstyle="-|>", color="0.2", shrinkA=1, shrinkB=1,
                     patchA=patches[p], patchB=patches[c],
                     connectionstyle=f"arc3,rad={bend}")
        props.update((edge_styles or {}).get((p, c), {}))
        ax.annotate("", xy=pos[c], xytext=pos[p], arrowprops=props)
    width, height = span or graph_span(graph, late_roots)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(-height / 2, height / 2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(graph.title, fontsize=fontsize)


def graph_span(graph: Graph, late_roots: bool = False) -> tuple[float, float]:
    """(width, height) that holds the drawing of ``graph``."""
    pos = layout(graph, late_roots)
    xs, ys = zip(*pos.values(), strict=True)
    return max(xs) - min(xs) + 1.0, 2 * max(abs(y) for y in ys) + 1.4


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


class ChainDGM(nn.Module):
    """A DGM of scalar Gaussians given as data: ``spec`` lists (name, role, parents) in
    topological order (a parent is an earlier name or the input ``"x"``). Each conditional is
    N(sum_p w_p * p, std^2); a latent with no parent is a parameter-free N(0, 1), a shared
    prior (a GAN's code z). ``std`` small makes the latents near-deterministic features.

    The small DGMs of the KD paper's fig. 3 are such specs: :data:`VANILLA` (x -> y),
    :data:`GAN` (z -> f -> y, features f), :data:`AUTOREGRESSIVE` (y1 | x, y2 | y1, x).
    """

    def __init__(self, spec: tuple[tuple[str, str, tuple[str, ...]], ...],
                 std: float = 0.5, seed: int = 0) -> None:
        super().__init__()
        names: list[str] = []
        for name, _, parents in spec:
            unknown = [p for p in parents if p != "x" and p not in names]
            if unknown:
                raise ValueError(f"conditional {name!r}: parents {unknown} come later or are "
                                 f"unknown; spec must be in topological order")
            names.append(name)
        self.spec, self.std = spec, std
        g = torch.Generator().manual_seed(seed)
        self.weights = nn.ParameterDict({
            name: nn.Parameter(0.5 + torch.rand(len(parents), generator=g, dtype=torch.float64))
            for name, _, parents in spec if parents})

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        return {name: torch.randn(n, 1, generator=generator, dtype=torch.float64)
                for name, _, _ in self.spec}

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        pass_, own = AncestralPass(), {} if x is None else {"x": x}
        for name, role, pa in self.spec:
            if "x" in pa and x is None:
                raise ValueError(f"conditional {name!r} needs the input x")
            if pa:
                w = self.weights[name]
                mu = sum(w[k] * pick(own[p], p, parents) for k, p in enumerate(pa))
                std = torch.full_like(mu, self.std)
            else:
                mu, std = torch.zeros_like(noise[name]), torch.ones_like(noise[name])
            own[name] = pass_.add(Conditional(
                name, role, "gaussian", {"mu": mu, "std": std},
                gaussian_sample(mu, std, noise[name]),
                parents=(*pa, f"eps:{name}") if role == "latent" else pa))
        return pass_


VANILLA = (("y", "target", ("x",)),)
GAN = (("z", "latent", ()), ("f", "latent", ("z",)), ("y", "target", ("f",)))
AUTOREGRESSIVE = (("y1", "target", ("x",)), ("y2", "target", ("y1", "x")))
