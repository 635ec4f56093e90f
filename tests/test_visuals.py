"""The posterior arrays of ``lgm.metrics.visuals`` (figure 1b), on in-memory data."""

from __future__ import annotations

import numpy as np
import torch

from lgm.data.tasks import Task, TaskSequence
from lgm.metrics import visuals
from lgm.models.vae import DiscreteContinuousVAE


def _model(continuous: int = 2, discrete: int = 3) -> DiscreteContinuousVAE:
    torch.manual_seed(0)
    return DiscreteContinuousVAE("dense", (1, 28, 28), continuous, discrete)


def test_posterior_means_shapes_labels_and_tasks(tiny_tasks):
    model = _model()
    out = visuals.posterior_means(model, tiny_tasks, points=30)  # 10 per task, 3 tasks
    assert out["posterior_mu"].shape == (30, 2) and out["posterior_mu"].dtype == np.float32
    for key in ("posterior_code", "posterior_label", "posterior_task"):
        assert out[key].shape == (30,) and out[key].dtype == np.int64
    assert (out["posterior_task"] == np.repeat([0, 1, 2], 10)).all()
    # the fixture's labels are the task index
    assert (out["posterior_label"] == out["posterior_task"]).all()
    assert out["posterior_code"].min() >= 0 and out["posterior_code"].max() < 3


def test_posterior_means_match_the_encoder(tiny_tasks):
    model = _model(continuous=5, discrete=4)
    out = visuals.posterior_means(model, tiny_tasks, points=6)
    model.eval()
    with torch.no_grad():
        post = model.encode(tiny_tasks[1].test[:2])
    assert np.allclose(out["posterior_mu"][2:4], post.mu.numpy(), atol=1e-6)
    assert (out["posterior_code"][2:4] == post.logits.argmax(-1).numpy()).all()


def test_posterior_means_caps_points_and_marks_missing_labels(tiny_tasks):
    model = _model()
    many = visuals.posterior_means(model, tiny_tasks, points=10_000)
    assert len(many["posterior_mu"]) == sum(len(t.test) for t in tiny_tasks.tasks)
    unlabelled = TaskSequence("fashion", "x", (1, 28, 28),
                              [Task(0, "t", *(tiny_tasks[0].test,) * 3)], "in memory")
    out = visuals.posterior_means(model, unlabelled, points=5)
    assert (out["posterior_label"] == -1).all() and len(out["posterior_label"]) == 5


def test_final_visuals_adds_the_posterior_and_keeps_the_rest(tiny_tasks):
    model = _model()
    out = visuals.final_visuals(model, tiny_tasks, 2)
    assert out["reconstructions"].shape == (3, 2, 2, 1, 28, 28)
    assert out["interpolation"].shape == (3, visuals.GRID, visuals.GRID, 1, 28, 28)
    per_task = visuals.POSTERIOR_POINTS // 3
    expected = sum(min(per_task, len(t.test)) for t in tiny_tasks.tasks)
    assert out["posterior_mu"].shape == (expected, 2)
    seven = visuals.final_visuals(_model(continuous=7), tiny_tasks, 2)
    assert "interpolation" not in seven and seven["posterior_mu"].shape == (expected, 7)
