"""KD-based continual learning (Table 2): the conditional ladder VAE, CURL, the losses of step
2, the splits and a smoke run on tiny fake FashionMNIST files (no network, no shared data)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lgm.data.idx import write_idx
from lgm.data.images import ImageData
from lgm.experiments import kd_continual as kc
from lgm.models.conditional_ladder import ConditionalLadderVAE
from lgm.models.curl import CURL
from lgm.models.vae import frozen_copy
from lgm.report.kd_table2 import table2_checks

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tiny models: one thread is fastest


def tiny_vae(conditions: int = 2, width: int = 2) -> ConditionalLadderVAE:
    torch.manual_seed(0)
    return ConditionalLadderVAE(32, width, 1, conditions).eval()


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(seed))


def write_fake_fashion(root: Path, per_class: int = 12, test_per_class: int = 6) -> None:
    """Tiny FashionMNIST IDX files: class c is a bright bar at row 2c plus noise."""
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("t10k", test_per_class)):
        labels = np.repeat(np.arange(10, dtype=np.uint8), n)
        x = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):
            x[i, 2 * c + 3:2 * c + 6, 4:24] = 250
        write_idx(root / "FashionMNIST" / "raw" / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(root / "FashionMNIST" / "raw" / f"{split}-labels-idx1-ubyte.gz", labels)


# --------------------------------------------------------------------------- model
def test_conditional_prior_is_learned_per_condition() -> None:
    vae = tiny_vae()
    with torch.no_grad():
        vae.top_prior[0, :16] = 1.0
        vae.top_prior[1, :16] = -1.0
        vae.top_prior[1, 16:] = 2.0
    cond = torch.tensor([0, 1, 1, 0])
    noise = vae.sample_noise(4, torch.Generator().manual_seed(1))
    z5 = vae.ancestral(noise, cond)["z5"]
    assert z5.parents == ("x", "eps:z5") and z5.role == "latent"
    assert torch.allclose(z5.params["mu"][:, :, 0, 0], torch.tensor([1., -1, -1, 1])[:, None]
                          .expand(4, 16))
    std1 = torch.nn.functional.softplus(torch.tensor(2.0)) / math.log(2) + 1e-6
    assert torch.allclose(z5.params["std"][1], std1.expand(16, 1, 1))
    assert torch.allclose(z5.sample, z5.params["mu"] + z5.params["std"] * noise["z5"])
    # the condition reaches the image through z5 only: same noise, different images
    y = vae.ancestral(noise, torch.zeros(4, dtype=torch.long))["y"].sample
    assert not torch.allclose(y, vae.ancestral(noise, torch.ones(4, dtype=torch.long))["y"].sample)


def test_top_kl_is_against_the_condition_prior() -> None:
    vae, x = tiny_vae(), images(4)
    cond = torch.tensor([0, 1, 0, 1])
    torch.manual_seed(3)
    before = vae.neg_elbo(x, cond).kl
    with torch.no_grad():
        vae.top_prior[1, :16] = 3.0
    torch.manual_seed(3)
    after = vae.neg_elbo(x, cond).kl
    assert torch.equal(before[cond == 0], after[cond == 0])
    assert torch.equal(before[:, :4], after[:, :4])
    assert (after[cond == 1, 4] > before[cond == 1, 4] + 1).all()


def test_conditional_ladder_rejects_bad_input() -> None:
    vae = tiny_vae()
    noise = vae.sample_noise(2)
    with pytest.raises(ValueError, match="needs the conditions"):
        vae.ancestral(noise)
    with pytest.raises(ValueError, match=r"lie in 0\.\.1"):
        vae.ancestral(noise, torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="integer tensor"):
        vae.ancestral(noise, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="3 conditions for 2"):
        vae.ancestral(noise, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="expected images"):
        vae.neg_elbo(torch.rand(2, 3, 32, 32), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="num_conditions"):
        ConditionalLadderVAE(32, 2, 1, 0)


# --------------------------------------------------------------------------- CURL
def test_curl_expands_one_component_from_the_favoured_one() -> None:
    vae = tiny_vae(conditions=3)
    with torch.no_grad():
        vae.top_prior[0] = 0.5
    curl = CURL(vae, width=2)
    x = images(8)
    assert curl.num_active == 1 and curl.log_q_y(x).shape == (8, 1)
    assert curl.expand(x) == 1 and curl.num_active == 2
    assert torch.equal(vae.top_prior[1], vae.top_prior[0])
    assert torch.equal(curl.cluster.head.weight[1], curl.cluster.head.weight[0])
    assert curl.log_q_y(x).shape == (8, 2)
    with torch.no_grad():
        curl.cluster.head.bias[1] = 50.0  # q(y|x) now favours component 1 ...
        vae.top_prior[1] = -0.5
    assert curl.expand(x) == 2
    assert torch.equal(vae.top_prior[2], vae.top_prior[1])  # ... so component 2 copies it
    with pytest.raises(ValueError, match="all 3 components"):
        curl.expand(x)
    x_hat, y = curl.replay(6, torch.Generator().manual_seed(0), components=2)
    assert x_hat.shape == (6, 1, 32, 32) and set(y.tolist()) <= {0, 1}
    assert float(x_hat.min()) >= 0 and float(x_hat.max()) <= 1


def test_curl_elbo_sums_over_components() -> None:
    vae, x = tiny_vae(), images(5)
    curl = CURL(vae, width=2).eval()
    zeros = torch.zeros(5, dtype=torch.long)
    torch.manual_seed(0)
    one = curl.neg_elbo(x)
    torch.manual_seed(0)
    assert torch.allclose(one, vae.neg_elbo(x, zeros).loss)  # K = 1: the conditional ELBO
    curl.expand()
    torch.manual_seed(0)
    mixed = curl.neg_elbo(x)
    q = curl.log_q_y(x).exp()
    torch.manual_seed(0)
    per = torch.stack([vae.neg_elbo(x, torch.full((5,), c)).loss for c in (0, 1)], 1)
    expected = (q * per).sum(1) + (q * (q.log() + math.log(2))).sum(1)
    assert torch.allclose(mixed, expected)
    torch.manual_seed(0)
    labelled = curl.supervised_loss(x, zeros)
    torch.manual_seed(0)
    assert torch.allclose(labelled, vae.neg_elbo(x, zeros).loss + math.log(2) - q[:, 0].log())


# --------------------------------------------------------------------------- step 2
def test_preserving_losses_vanish_at_equal_weights() -> None:
    cfg = kc.kd_continual_config("smoke")
    old = tiny_vae()
    teacher, student = frozen_copy(old), copy.deepcopy(old).eval()
    noise = old.sample_noise(4, torch.Generator().manual_seed(0))
    for method in ("ours", "local"):
        assert kc.preserve_loss(method, cfg)(teacher, student, noise).item() == 0.0
    with torch.no_grad():
        student.top_prior.add_(0.1)
    for method in ("ours", "local"):
        assert kc.preserve_loss(method, cfg)(teacher, student, noise).item() > 0.0
    with pytest.raises(ValueError, match="method must be one of"):
        kc.preserve_loss("ewc", cfg)


def test_curl_learners_snapshot_and_expanded_student() -> None:
    cfg = kc.kd_continual_config("smoke")
    teacher, student = kc.learners("curl", cfg, tiny_vae(), images(8), seed=0)
    assert teacher.num_active == 1 and student.num_active == 2
    assert not any(p.requires_grad for p in teacher.parameters())
    assert set(teacher.sample_noise(3)) == {"z1", "z2", "z3", "z4", "z5"}
    loss = kc.preserve_loss("curl", cfg)(teacher, student, teacher.sample_noise(3))
    assert loss.requires_grad and torch.isfinite(loss)


# --------------------------------------------------------------------------- splits
def test_splits_by_attribute_and_by_class() -> None:
    names = ("Eyeglasses", "Male", "No_Beard")
    attrs = torch.tensor([[0, 1, 1], [1, 0, 0], [0, 0, 1]])
    data = ImageData(torch.zeros(3, 3, 32, 32), torch.zeros(3, dtype=torch.long), "fake",
                     attrs, names)
    assert kc.SPLITS["beard"].is_new(data).tolist() == [False, True, False]
    assert kc.SPLITS["male"].is_new(data).tolist() == [True, False, False]
    assert kc.SPLITS["eyeglasses"].is_new(data).tolist() == [False, True, False]
    grey = ImageData(torch.zeros(4, 1, 32, 32), torch.tensor([5, 8, 7, 0]), "fake")
    assert kc.SPLITS["fashion-footwear"].is_new(grey).tolist() == [True, False, True, False]


def test_missing_celeba_falls_back_to_stand_ins(tmp_path: Path) -> None:
    splits, note = kc.resolve_splits(("male", "eyeglasses"), str(tmp_path))
    assert splits == ("mnist-5to9", "fashion-bag") and "not at hand" in note
    assert kc.resolve_splits(("fashion-bag",), str(tmp_path))[0] == ("fashion-bag",)


def test_split_data_rate_and_caps(tmp_path: Path) -> None:
    write_fake_fashion(tmp_path)
    cfg = kc.kd_continual_config("smoke", data_root=str(tmp_path), n_train=20, n_eval=10)
    data = kc.split_data(cfg, "fashion-footwear")
    assert data.rate == pytest.approx(0.3)  # 3 of 10 balanced classes
    assert [len(t) for t in data.train] == [20, 20] and [len(t) for t in data.test] == [10, 10]
    assert data.train[0].shape[1:] == (1, 32, 32) and "FashionMNIST" in data.source
    assert data.test[1][:, :, :, :2].abs().max() == 0  # padded by 2 pixels


# --------------------------------------------------------------------------- config, run
@pytest.mark.parametrize(("override", "match"), [
    ({"splits": ("celebA",)}, "unknown splits"),
    ({"splits": ()}, "splits"),
    ({"methods": ("ours", "ewc")}, "methods"),
    ({"n_eval": 1}, "n_eval"),
    ({"width": 0}, "width"),
    ({"lr": 0.0}, "lr"),
    ({"lam": -1.0}, "lam"),
    ({"warmup_fraction": 2.0}, "warmup_fraction"),
    ({"channels": 2}, "channels"),
    ({"channels": 1, "splits": ("male",)}, "CelebA has 3 channels"),
    ({"seeds": (-1,)}, "seeds"),
    ({"seeds": (0, 0)}, "seeds"),
    ({"device": "tpu"}, "device"),
    ({"lr": float("inf")}, "lr"),
    ({"batch": True}, "batch"),
    ({"cpu_threads": 0}, "cpu_threads"),
])
def test_config_errors_name_the_field(override: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        kc.kd_continual_config("smoke", **override)


def test_unknown_preset_and_field() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        kc.kd_continual_config("huge")
    with pytest.raises(ValueError, match="unknown parameter"):
        kc.kd_continual_config("smoke", epochs=3)
    assert kc.kd_continual_config("paper").width == 64
    assert kc.kd_continual_config("paper").seeds == (0, 1, 2)
    assert kc.kd_continual_config("paper", seeds=(0,)).seeds == (0,)
    assert kc.kd_continual_config("quick").seeds == (0,)


def test_smoke_run_table2(tmp_path: Path) -> None:
    write_fake_fashion(tmp_path)
    cfg = kc.kd_continual_config("smoke", data_root=str(tmp_path), n_train=16, n_eval=8,
                                 batch=16)
    out = kc.run_table2(cfg)
    split = out["splits"]["fashion-footwear"]
    assert set(split["methods"]) == set(kc.METHODS)
    for results in split["methods"].values():
        for task in ("old", "new"):
            for metric in ("fid", "emd", "mmd", "1nn"):
                assert np.isfinite(kc.metric_values(results, task, metric)).all()
        assert results[0]["arrays"]["samples_new"].shape == (8, 1, 32, 32)
        assert results[0]["rate"] == pytest.approx(0.3)
    assert np.isfinite(kc.metric_values(split["before"], "old", "fid")).all()
    again = kc.method_result(cfg, "fashion-footwear", "ours", 0)
    assert again["cache"] == "hit"


def test_table2_checks_are_data_and_name_missing_methods() -> None:
    good = {m: {k: (1.0 if m == "ours" else 2.0, -0.1 if m == "ours" else 0.5, 1.0)
                for k in kc.TABLE_METRICS} for m in kc.METHODS}
    good["local"] = {k: (2.0, 0.5, 1.5) for k in kc.TABLE_METRICS}
    checks = table2_checks(good)
    assert [c["status"] for c in checks] == ["holds"] * 4
    assert set(checks[0]) == {"claim", "rule", "status", "detail"}
    partial = table2_checks({m: good[m] for m in ("ours", "local")})
    assert [c["status"] for c in partial] == ["cannot be tested at this budget"] * 3 + ["holds"]
    assert partial[0]["detail"] == "needs curl, lgm."
