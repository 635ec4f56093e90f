"""The 5-layer ladder VAE (lgm.models.ladder) and the Table 1 experiment (kd_compression)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lgm.data.idx import write_idx
from lgm.device import cpu_threads
from lgm.errors import DivergedError
from lgm.experiments.kd_compression import (
    DATA_FREE,
    kd_compression_config,
    metric_values,
    run_lambda,
    run_table1,
)
from lgm.losses.distillation import local_distillation_loss, target_free_loss
from lgm.models.ladder import (
    LATENT_NAMES,
    LadderVAE,
    gaussian_params,
    latent_shapes,
    millions,
    num_parameters,
    precision_weighted,
)
from lgm.models.semi_auxiliary import SemiAuxiliaryDGM
from lgm.training.distill import distill, distillation_loss_fn
from lgm.training.model_fits import fit_elbo

# Table 1's sizes (encoder + decoder, 3 channels), exact integers of our reading
PAPER_COUNTS = {(32, 128): (5_386_502, "5.387M"), (32, 16): (101_670, "0.102M"),
                (32, 8): (30_422, "0.030M"), (32, 4): (10_110, "0.010M"),
                (64, 128): (6_600_966, "6.601M"), (64, 32): (442_950, "0.443M"),
                (64, 16): (120_870, "0.121M"), (64, 8): (35_286, "0.035M")}


@pytest.fixture(autouse=True)
def _one_cpu_thread():
    """These tiny convolutions run fastest on one thread with denormals flushed (as the
    experiment runs them); the previous settings come back afterwards."""
    with cpu_threads(1):
        yield


def model(width: int = 4, size: int = 32, seed: int = 0) -> LadderVAE:
    torch.manual_seed(seed)
    return LadderVAE(size, width).eval()


@pytest.mark.parametrize(("size", "width"), list(PAPER_COUNTS))
def test_parameter_counts_reproduce_table1(size: int, width: int) -> None:
    with torch.device("meta"):  # counts need no memory
        count = num_parameters(LadderVAE(size, width))
    assert (count, millions(count)) == PAPER_COUNTS[(size, width)]


def test_latent_layouts_at_32_and_64() -> None:
    assert latent_shapes(32) == [(16, 16, 16), (16, 8, 8), (16, 4, 4), (16, 2, 2), (16, 1, 1)]
    assert latent_shapes(64) == [(16, 32, 32), (16, 16, 16), (16, 8, 8), (16, 4, 4),
                                 (16, 1, 1)]
    vae = model(2, 64)
    up = vae.bottom_up_pass(torch.rand(2, 3, 64, 64))
    assert [tuple(mu.shape[1:]) for mu, _ in up] == latent_shapes(64)


def test_std_and_precision_weighting() -> None:
    mu, std = gaussian_params(torch.zeros(1, 4, 1, 1))
    assert torch.allclose(std, torch.full_like(std, 1 + 1e-6))  # softplus(0) / ln 2 = 1
    m, s = precision_weighted(torch.tensor(0.0), torch.tensor(1.0), torch.tensor(2.0),
                              torch.tensor(1.0))
    assert float(m) == pytest.approx(1.0) and float(s) == pytest.approx(1 / math.sqrt(2))
    m, s = precision_weighted(torch.tensor(0.0), torch.tensor(1.0), torch.tensor(3.0),
                              torch.tensor(1e3))
    assert float(m) == pytest.approx(0.0, abs=1e-5)  # a vague prior leaves the encoder's


def test_ancestral_pass_is_the_semi_auxiliary_form() -> None:
    vae = model()
    assert isinstance(vae, SemiAuxiliaryDGM)
    noise = vae.sample_noise(3, torch.Generator().manual_seed(0))
    assert sorted(noise) == sorted(LATENT_NAMES)
    p = vae.ancestral(noise)
    assert p.names() == ["z5", "z4", "z3", "z2", "z1", "y"]
    assert [c.role for c in p.conditionals] == ["latent"] * 5 + ["target"]
    assert ("z2", "z1") in p.edges() and ("z1", "y") in p.edges()
    assert torch.equal(p["z5"].sample, noise["z5"])
    z4 = p["z4"]
    assert torch.allclose(z4.sample, z4.params["mu"] + z4.params["std"] * noise["z4"])
    y = p["y"]
    assert torch.allclose(y.params["std"], torch.full_like(y.sample, math.sqrt(0.05)))
    again = vae.ancestral(noise)  # eval mode: a deterministic function of the noise
    assert torch.equal(again["y"].sample, y.sample)
    local = vae.ancestral(noise, parents=p.samples())
    assert torch.allclose(local["y"].params["mu"], y.params["mu"])


def test_student_with_the_teachers_weights_has_zero_loss() -> None:
    teacher = model(4)
    student = model(4)
    student.load_state_dict(teacher.state_dict())
    student.eval()
    noise = teacher.sample_noise(4)
    ours = target_free_loss(teacher, student, noise, lam=0.1, latent_measure="w2",
                            latent_reduction="mean", skip=("z5",))
    assert float(ours.loss.detach()) == pytest.approx(0.0, abs=1e-8)
    assert float(local_distillation_loss(teacher, student, noise, skip=("z5",)).detach()) == \
        pytest.approx(0.0, abs=1e-6)
    assert float(target_free_loss(teacher, model(4, seed=1), noise).loss.detach()) > 0


def test_data_free_distillation_lowers_the_loss() -> None:
    teacher, student = model(4), model(2, seed=1)
    fn = distillation_loss_fn("ours", lam=0.1, latent_measure="w2", latent_reduction="mean",
                              skip=("z5",))
    history = distill(teacher, student, steps=10, batch=8, lr=1e-2, loss_fn=fn,
                      generator=torch.Generator().manual_seed(0), sync_every=5)
    loss = np.asarray(history.loss)
    assert loss[-3:].mean() < 0.7 * loss[:3].mean()
    assert not teacher.training  # the teacher's BatchNorm stayed frozen


def test_neg_elbo_parts_and_warm_up() -> None:
    vae = model(2)
    vae.train()
    x = torch.rand(4, 3, 32, 32)
    torch.manual_seed(0)
    full = vae.neg_elbo(x)
    torch.manual_seed(0)
    no_kl = vae.neg_elbo(x, kl_weight=0.0)
    assert full.kl.shape == (4, 5) and (full.kl >= -1e-4).all()
    assert torch.allclose(no_kl.loss, no_kl.nll)
    assert torch.allclose(full.loss, full.nll + full.kl.sum(1))
    const = 32 * 32 * 3 * math.log(math.sqrt(0.05) * math.sqrt(2 * math.pi))
    assert (full.nll > const).all()  # NLL = squared error / 2 sigma^2 + normaliser


def test_generate_gives_images_in_the_unit_range() -> None:
    vae = model(2)
    vae.train()
    images = vae.generate(5, torch.Generator().manual_seed(0), batch=2)
    assert images.shape == (5, 3, 32, 32)
    assert images.min() >= 0 and images.max() <= 1
    assert vae.training  # restored


def test_bad_inputs_are_rejected() -> None:
    vae = model(2)
    noise = vae.sample_noise(2)
    with pytest.raises(ValueError, match="unconditional"):
        vae.ancestral(noise, x=torch.zeros(2, 1))
    with pytest.raises(ValueError, match="noise lacks"):
        vae.ancestral({"z5": noise["z5"]})
    bad = {**noise, "z1": torch.zeros(2, 16, 8, 8)}
    with pytest.raises(ValueError, match="noise\\['z1'\\] has shape"):
        vae.ancestral(bad)
    with pytest.raises(ValueError, match="expected images"):
        vae.neg_elbo(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="image_size"):
        LadderVAE(48, 4)
    with pytest.raises(ValueError, match="width"):
        LadderVAE(32, 0)


def test_fit_elbo_drops_a_last_batch_of_one_and_warms_up() -> None:
    vae = model(2)
    losses = fit_elbo(vae, torch.rand(9, 3, 32, 32), epochs=2, batch=4, lr=1e-3,
                      weight_decay=1e-4, warmup_fraction=1.0, seed=0)
    assert losses.shape == (4,) and np.isfinite(losses).all()
    assert not vae.training


def test_fit_elbo_names_the_step_of_a_nan() -> None:
    vae = model(2)
    images = torch.rand(8, 3, 32, 32)
    images[5] = float("nan")
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(3))
    first = int((perm == 5).nonzero()) // 4  # the first batch of 4 holding the bad image
    with pytest.raises(DivergedError, match=f"at step {first} of"):
        fit_elbo(vae, images, epochs=1, batch=4, lr=1e-3, weight_decay=0.0,
                 warmup_fraction=0.5, seed=3)


# --------------------------------------------------------------------------- the experiment
def fake_fashion(root) -> None:
    """64 train / 48 test 28x28 images of two blob classes in FashionMNIST's IDX files."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 48)):
        labels = np.arange(n, dtype=np.uint8) % 2
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        images[labels == 0, 8:20, 8:20] = 220
        images[labels == 1, 2:26, 12:16] = 220
        write_idx(root / "FashionMNIST" / "raw" / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / "FashionMNIST" / "raw" / f"{prefix}-labels-idx1-ubyte.gz", labels)


def test_smoke_table1_and_lambda_share_the_cache(tmp_path) -> None:
    fake_fashion(tmp_path)
    cfg = kd_compression_config("smoke", data_root=str(tmp_path))
    table = run_table1(cfg)
    teacher = table["teacher"]
    assert teacher["parameters"] == num_parameters(LadderVAE(32, cfg.teacher_width))
    assert set(table["students"]) == {(2, m) for m in ("ours", "local", "scratch")}
    for (_, method), runs in table["students"].items():
        r = runs[0]
        assert set(r["metrics"]) == {"data", "teacher"}
        assert set(r["metrics"]["teacher"]) == {"fid", "frechet", "emd", "mmd", "1nn"}
        assert r["arrays"]["samples"].shape == (16, 3, 32, 32)
        assert (r["data"] == DATA_FREE) == (method != "scratch")
        assert "classifier" in r["extractor"]
    assert "zero-padded" in teacher["data"] and "FashionMNIST/raw" in teacher["data"]
    assert str(tmp_path) not in teacher["data"]  # paths relative to the data root
    sweep = run_lambda(cfg)
    hits = [r["cache"] for r in sweep["ours"][0.1] + sweep["baselines"]["local"]]
    assert hits == ["hit", "hit"]  # shared with the table's runs
    assert sweep["ours"][0.0][0]["cache"] == "computed"
    assert metric_values(sweep["ours"][0.0], "data", "fid").shape == (1,)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="known: svhn, cifar10, celeba, mnist, fashion"):
        kd_compression_config("quick", dataset="lsun")
    with pytest.raises(ValueError, match="unknown preset"):
        kd_compression_config("huge")
    with pytest.raises(ValueError, match="unknown parameter"):
        kd_compression_config("quick", teacher_size=3)
    with pytest.raises(ValueError, match="lam"):
        kd_compression_config("quick", lam=-1.0)
    with pytest.raises(ValueError, match="student_widths"):
        kd_compression_config("quick", student_widths=())
    with pytest.raises(ValueError, match="student_widths"):
        kd_compression_config("quick", student_widths=(4, 0))
    assert kd_compression_config("quick", student_widths=[4]).student_widths == (4,)
    with pytest.raises(ValueError, match="methods"):
        kd_compression_config("quick", methods=("ours", "marginal"))
    with pytest.raises(ValueError, match="image_size"):
        kd_compression_config("quick", image_size=64)
    with pytest.raises(ValueError, match="device"):
        kd_compression_config("quick", device="tpu")
    with pytest.raises(ValueError, match="lr"):
        kd_compression_config("quick", lr=float("inf"))
    with pytest.raises(ValueError, match="batch"):
        kd_compression_config("quick", batch="12")
    with pytest.raises(ValueError, match="channels"):
        kd_compression_config("quick", dataset="svhn", channels=1)
    celeba = kd_compression_config("paper", dataset="celeba")
    assert (celeba.image_size, celeba.student_widths) == (64, (32, 16, 8))
    assert celeba.lambda_width == 16 and celeba.seeds == (0, 1, 2)  # the paper's three seeds
    assert kd_compression_config("paper").to_dict()["lr"] == 1e-4
