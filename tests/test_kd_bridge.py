"""The bridge between the two papers: the lifelong consistency KL as the KD paper's latent
distillation term, the lifelong decoder in semi-auxiliary form, and a smoke run of the two
methods on tiny fake FashionMNIST files (no network, no shared data)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lgm.data.idx import write_idx
from lgm.experiments import kd_bridge as kb
from lgm.losses.consistency import consistency_kl
from lgm.losses.distillation import target_free_loss
from lgm.models.vae import DiscreteContinuousVAE, frozen_copy

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tiny models: one thread is fastest


def logits(n: int, k: int, seed: int) -> torch.Tensor:
    return 3 * torch.randn(n, k, generator=torch.Generator().manual_seed(seed),
                           dtype=torch.float64)


@pytest.mark.parametrize("extra", [0, 1, 3])
@pytest.mark.parametrize("direction", ["reverse", "forward"])
def test_consistency_kl_is_the_latent_distillation_term(direction: str, extra: int) -> None:
    student, teacher = logits(64, 4 + extra, 0), logits(64, 4, 1)
    kd = kb.consistency_as_latent_loss(student, teacher, direction=direction)
    assert kd.shape == (64,)
    assert torch.allclose(kd, consistency_kl(student, teacher, direction=direction),
                          atol=1e-12, rtol=0)
    assert torch.allclose(kd, kb.reference_kl(student, teacher, direction), atol=1e-12, rtol=0)


def test_forward_is_kl_teacher_student_and_differs_from_reverse() -> None:
    student, teacher = logits(32, 3, 2), logits(32, 3, 3)
    forward = kb.consistency_as_latent_loss(student, teacher, direction="forward")
    p_t, p_s = teacher.softmax(-1), student.softmax(-1)
    assert torch.allclose(forward, (p_t * (p_t.log() - p_s.log())).sum(-1))
    reverse = kb.consistency_as_latent_loss(student, teacher, direction="reverse")
    assert (forward - reverse).abs().max() > 1e-2
    same = kb.consistency_as_latent_loss(teacher, teacher, direction="forward")
    assert same.abs().max() < 1e-12


def test_bridge_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="direction must be"):
        kb.consistency_as_latent_loss(logits(2, 3, 0), logits(2, 3, 1), direction="both")
    with pytest.raises(ValueError, match=r"\[B, codes\]"):
        kb.consistency_as_latent_loss(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="fewer than its teacher"):
        kb.consistency_as_latent_loss(logits(2, 2, 0), logits(2, 3, 1))
    with pytest.raises(ValueError, match="batch >= 1"):
        kb.equality_rows(batch=0)


def test_equality_rows_report_zero_difference() -> None:
    rows = kb.equality_rows(batch=128, teacher_codes=3, extra_codes=(0, 2))
    assert len(rows) == 4 and {r["student_codes"] for r in rows} == {3, 5}
    assert all(r["max_abs_diff"] < 1e-12 and r["max_abs_diff_torch"] < 1e-12 for r in rows)
    assert all(r["mean_kl"] > 0 for r in rows)


# --------------------------------------------------------------------------- the lifelong VAE
def tiny_vae(discrete: int = 2) -> DiscreteContinuousVAE:
    torch.manual_seed(0)
    return DiscreteContinuousVAE("dense", (1, 28, 28), 3, discrete).eval()


def test_lifelong_decoder_in_semi_auxiliary_form() -> None:
    teacher = tiny_vae()
    gen = kb.LifelongGenerative(teacher)
    noise = gen.sample_noise(5, torch.Generator().manual_seed(0))
    codes = torch.tensor([0, 1, 0, 1, 1])
    pass_ = gen.ancestral(noise, codes)
    assert pass_.names() == ["z_c", "x"] and pass_["x"].kind == "bernoulli"
    expected = torch.sigmoid(teacher.decode(noise["z_c"], torch.nn.functional.one_hot(
        codes, 2).float()))
    assert torch.allclose(pass_["x"].sample, expected)
    with pytest.raises(ValueError, match="codes"):
        gen.ancestral(noise)
    # the grown student (one more code) shares the layout; eq. 7 is 0 only for the teacher
    grown = kb.LifelongGenerative(teacher.grown(1).eval())
    same = target_free_loss(gen, kb.LifelongGenerative(frozen_copy(teacher)), noise, codes)
    assert float(same.loss) == 0.0
    assert target_free_loss(gen, grown, noise, codes).loss.item() > 0.0


def test_guide_distillation_vanishes_for_the_teacher_itself() -> None:
    teacher, x = tiny_vae(), torch.rand(4, 1, 28, 28)
    assert kb.guide_distillation(teacher, frozen_copy(teacher), x).abs().max() < 1e-5
    student = teacher.grown(1).eval()
    kl = kb.guide_distillation(teacher, student, x)
    assert kl.shape == (4,) and (kl > 0).all()


# --------------------------------------------------------------------------- config, run
@pytest.mark.parametrize(("override", "match"), [
    ({"experiment": "cifar"}, "unknown experiment"),
    ({"num_tasks": 1}, "num_tasks"),
    ({"max_epochs": 0}, "max_epochs"),
    ({"seeds": ()}, "seeds"),
    ({"lam": -0.1}, "lam"),
    ({"baselines": ("lifelong",)}, "baselines"),
    ({"device": "gpu"}, "device"),
    ({"lam": float("nan")}, "lam"),
    ({"seeds": (1, 1)}, "seeds"),
    ({"cpu_threads": 0}, "cpu_threads"),
])
def test_bridge_config_errors(override: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        kb.kd_bridge_config("smoke", **override)
    with pytest.raises(ValueError, match="unknown parameter"):
        kb.kd_bridge_config("smoke", epochs=2)


def write_fake_fashion(root: Path, per_class: int = 12, test_per_class: int = 6) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("t10k", test_per_class)):
        labels = np.repeat(np.arange(10, dtype=np.uint8), n)
        x = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):
            x[i, 2 * c + 3:2 * c + 6, 4:24] = 250
        write_idx(root / "FashionMNIST" / "raw" / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(root / "FashionMNIST" / "raw" / f"{split}-labels-idx1-ubyte.gz", labels)


def test_smoke_run_bridge(tmp_path: Path) -> None:
    write_fake_fashion(tmp_path)
    cfg = kb.kd_bridge_config("smoke", data_root=str(tmp_path), baselines=())
    out = kb.run_bridge(cfg)
    assert set(out["runs"]) == {"lifelong", "kd (ours)"}
    for results in out["runs"].values():
        curve = kb.neg_elbo_curve(results)
        assert curve.shape == (1, 2) and np.isfinite(curve).all() and (curve > 0).all()
    ours = out["runs"]["kd (ours)"][0]
    assert "FashionMNIST" in ours["data"] or str(tmp_path) in ours["data"]
    assert math.isfinite(float(ours["arrays"]["loss"][-1]))
    assert kb.distillation_run(cfg, 0)["cache"] == "hit"
