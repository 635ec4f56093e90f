"""Fig. 1 of the KD paper (four forms of a deep DGM): the identities its section 3.1 states,
checked on the toy model :class:`lgm.models.graph.ToyDGM` (recorded as identities)."""

from __future__ import annotations

from typing import Any

import torch

from lgm.report.page import Page


def identities(page: Page, model: Any, pass_: Any, forms: Any, noise: dict[str, torch.Tensor],
               x: torch.Tensor, generator: torch.Generator) -> None:
    """(1) latents are deterministic given their auxiliary variables and inputs; (2) the
    compact form keeps only inputs, auxiliary variables and targets; (3) p(y | eps, x) is
    tractable by function composition."""
    fresh = {**noise, "y1": torch.randn(len(x), 1, generator=generator),
             "y2": torch.randn(len(x), 1, generator=generator)}
    again = model.ancestral(fresh, x)
    local = model.ancestral(fresh, x, parents=pass_.samples())
    same_z1 = torch.equal(again["z1"].sample, pass_["z1"].sample)
    same_z2 = torch.equal(local["z2"].sample, pass_["z2"].sample)
    page.check("Sec. 3.1: latents are deterministic given their auxiliary variables and inputs",
               same_z1 and same_z2, f"z1 identical: {same_z1}; z2 identical (same y1): "
               f"{same_z2}", rule="identical latents in two passes with the same eps and x",
               kind="identity")

    original, _, _, compact = forms
    latents = {c.name for c in pass_.latents}

    def ancestors(name: str) -> set[str]:
        out: set[str] = set()
        for p in original.parents(name):
            out |= {p} | ancestors(p)
        return out

    expected = {y.name: {a for a in ancestors(y.name) if a not in latents}
                | {f"eps:{a}" for a in ancestors(y.name) if a in latents}
                for y in pass_.targets}
    found = {y.name: set(compact.parents(y.name)) for y in pass_.targets}
    kinds = {compact.nodes[n] for n in compact.nodes}
    page.check("Sec. 3.1: the compact form keeps only inputs, auxiliary variables and targets",
               found == expected and "deterministic" not in kinds
               and not latents & set(compact.nodes),
               f"parents of y2: {sorted(found['y2'])}",
               rule="no latent node; each target's parents = its non-latent ancestors and the "
                    "eps of its latent ancestors", kind="identity")

    a1, b1, a2, c2, b2 = model.weights.detach()
    std = model.log_std.detach().exp()
    z1 = a1 * x + std[0] * noise["z1"]
    z2 = a2 * z1 + c2 * pass_["y1"].sample + std[2] * noise["z2"]
    err = (pass_["y2"].params["mu"].detach() - b2 * z2).abs().max().item()
    page.check("Sec. 3.1: p(y | eps, x) is tractable by function composition", err < 1e-6,
               f"largest difference {err:.1e}",
               rule="the pass's mean of y2 equals b2 z2(eps, x, y1) recomputed by hand, to 1e-6",
               kind="identity")
