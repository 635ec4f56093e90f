"""The diagrams of the KD paper's figs. 3-4 and the lifelong paper's figs. 1a-2 are derived from
the library's objects (lgm.losses.pairs, lgm.report.diagrams): the derived structures are
checked here against the losses, models, replay rule and objective they describe."""

from __future__ import annotations

from fractions import Fraction

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from lgm.losses import distillation  # noqa: E402
from lgm.losses.distillation import (  # noqa: E402
    divergence,
    local_distillation_loss,
    target_free_loss,
)
from lgm.losses.pairs import compared_pairs  # noqa: E402
from lgm.models.graph import GAN, ChainDGM, ToyDGM  # noqa: E402
from lgm.models.helmholtz import GRAPH as HM_GRAPH  # noqa: E402
from lgm.models.vae import DiscreteContinuousVAE  # noqa: E402
from lgm.report import diagrams  # noqa: E402
from lgm.training.objective import StudentObjective, Teacher  # noqa: E402
from lgm.training.settings import ObjectiveWeights  # noqa: E402
from tests.conftest import tiny_sequence  # noqa: E402


def toy_pair(seed: int = 0):
    torch.manual_seed(seed)
    teacher, student = ToyDGM().double(), ToyDGM().double()
    with torch.no_grad():
        student.weights.mul_(0.8)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 1, generator=g, dtype=torch.float64)
    noise = {k: v.double() for k, v in teacher.sample_noise(16, g).items()}
    return teacher, student, noise, x


def test_ours_pairs_are_what_eq7_sums():
    teacher, student, noise, x = toy_pair()
    pairs = compared_pairs(target_free_loss, teacher, student, noise, x, lam=0.3)
    assert [(p.name, p.term) for p in pairs] == [("y1", "sd"), ("y2", "sd"), ("z1", "z"),
                                                  ("z2", "z")]
    # the student reads the teacher's targets (y1 is a parent of z2), its own latents
    assert dict(pairs[3].parents) == {"z1": "student", "y1": "teacher"}
    assert dict(pairs[1].parents) == {"z2": "student"}
    # the recorded pairs recompute eq. 7 exactly
    t = teacher.ancestral(noise, x)
    s = student.ancestral(noise, x, parents={c.name: c.sample for c in t.targets})
    per = {p.name: divergence(t[p.name], s[p.name]).mean() for p in pairs}
    loss = target_free_loss(teacher, student, noise, x, lam=0.3).loss
    expected = per["y1"] + per["y2"] + 0.3 * (per["z1"] + per["z2"])
    assert torch.allclose(loss, expected, rtol=1e-12, atol=0)


def test_local_pairs_every_conditional_at_the_teachers_samples():
    teacher, student, noise, x = toy_pair()
    pairs = compared_pairs(local_distillation_loss, teacher, student, noise, x)
    assert [p.name for p in pairs] == ["z1", "y1", "z2", "y2"]
    assert {p.term for p in pairs} == {"local"}
    for p in pairs:
        for parent, source in p.parents:
            assert source == ("shared" if parent == "x" else "teacher"), (p.name, parent)


def test_recording_leaves_the_loss_module_unchanged():
    teacher, student, noise, x = toy_pair()
    compared_pairs(target_free_loss, teacher, student, noise, x)
    assert distillation.divergence is divergence
    with pytest.raises(ValueError, match="lambda"):
        compared_pairs(target_free_loss, teacher, student, noise, x, lam=-1.0)
    assert distillation.divergence is divergence
    with pytest.raises(ValueError, match="loss must be"):
        compared_pairs(divergence, teacher, student, noise, x)


def test_fig3_panels():
    panels = {p.label: p for p in diagrams.distillation_panels()}
    summary = {k: [(p.name, p.term, p.measure, p.parents) for p in v.pairs]
               for k, v in panels.items()}
    assert summary["a"] == [("y", "sd", "kl", (("x", "shared"),))]
    # GAN: the output and the features, features by W2; the shared code z is not distilled
    assert [(n, t, m) for n, t, m, _ in summary["b"]] == [("y", "sd", "kl"), ("f", "z", "w2")]
    # fully-visible autoregressive (eq. 3): y2 at the teacher's y1
    assert summary["c"][1] == ("y2", "sd", "kl", (("y1", "teacher"), ("x", "shared")))
    assert [p.name for p in panels["d"].pairs] == ["z1", "y1", "z2", "y2"]
    assert {p.term for p in panels["e"].pairs} == {"sd", "z"}
    assert panels["d"].graph.title == "original"
    assert panels["e"].graph.title == "semi-auxiliary"
    assert "eps:z1" in panels["e"].graph.nodes and "eps:z1" not in panels["d"].graph.nodes
    assert "y2 [sd, kl] | y1(teacher), x(shared)" in diagrams.pair_summary(panels["c"])


def test_chain_dgm_rejects_a_spec_out_of_order():
    with pytest.raises(ValueError, match="'f'.*topological"):
        ChainDGM((("f", "latent", ("z",)), ("z", "latent", ())))
    assert len(ChainDGM(GAN).ancestral(ChainDGM(GAN).sample_noise(2)).conditionals) == 3


def test_fig4_edges_are_the_conditionals_parents():
    structures = diagrams.model_structures(steps=3)
    graphs = diagrams.structure_graphs(structures)
    for (title, pass_), graph in zip(structures, graphs, strict=True):
        assert set(graph.edges) == set(pass_.edges()), title
        assert len(graph.edges) == len(pass_.edges()), title
        assert set(pass_.names()) <= set(graph.nodes), title
    ladder, vrnn, hm, cond = (p for _, p in structures)
    assert ladder.names() == ["z5", "z4", "z3", "z2", "z1", "y"]
    assert len(vrnn.conditionals) == 9 and vrnn["z2"].parents == ("eps:z2", "z1", "pen1",
                                                                   "offset1")
    assert [(c.name, c.role, tuple(p for p in c.parents if not p.startswith("eps:")))
            for c in hm.conditionals] == list(HM_GRAPH)
    assert cond["z5"].parents == ("x", "eps:z5")


def test_replay_proportions_are_k_over_k_plus_1():
    batch = 2520  # divisible by 1..10: the proportion is exact
    props = diagrams.replay_proportions(10, batch)
    assert [Fraction(r, batch) for r, _ in props] == [Fraction(k, k + 1) for k in range(10)]
    for k, (r, pi) in enumerate(diagrams.replay_proportions(6, 128)):
        assert 0 <= k / (k + 1) - pi < 1 / 128 and r == int(128 * k / (k + 1))


def test_objective_terms_follow_the_student_objective():
    model = DiscreteContinuousVAE("dense", (1, 28, 28), 4, 2)
    lifelong = StudentObjective(ObjectiveWeights(), Teacher(model, tasks_seen=2))
    assert diagrams.objective_terms(lifelong) == {"neg_elbo": 1.0, "consistency": 1.0,
                                                  "info_gain": 0.01}
    first = StudentObjective(ObjectiveWeights(), None)
    assert "consistency" not in diagrams.objective_terms(first)
    vanilla = StudentObjective(ObjectiveWeights(method="vanilla", info_gain_weight=0.0),
                               Teacher(model, tasks_seen=1))
    assert diagrams.objective_terms(vanilla) == {"neg_elbo": 1.0}


def _check_figure(fig) -> None:
    assert fig.get_size_inches()[0] <= diagrams.WIDTH + 1e-9
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
    assert sizes and min(sizes) >= 8
    plt.close(fig)


def test_figures_draw_within_the_books_limits():
    model = DiscreteContinuousVAE("dense", (1, 28, 28), 4, 2)
    objective = StudentObjective(ObjectiveWeights(), Teacher(model, tasks_seen=2))
    _check_figure(diagrams.draw_distillation(diagrams.distillation_panels()))
    _check_figure(diagrams.draw_structures(
        diagrams.structure_graphs(diagrams.model_structures())))
    _check_figure(diagrams.draw_task_sequence(tiny_sequence(3, n_train=8, n_val=2, n_test=2)))
    _check_figure(diagrams.draw_teacher_student(objective))


def test_objective_at_a_task():
    weights = ObjectiveWeights()
    assert diagrams.objective_at(weights, 0).teacher is None
    assert diagrams.objective_at(weights, 3).replay_rows(128) == 96
    with pytest.raises(ValueError, match="tasks_seen"):
        diagrams.objective_at(weights, -1)
