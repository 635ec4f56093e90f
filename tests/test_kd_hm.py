"""The Helmholtz machine of appendix H, the Old Faithful loader and the kd_hm experiment."""

from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lgm.data.faithful import (
    MEAN,
    N_ROWS,
    STD,
    FaithfulFormatError,
    load_faithful,
    standardise,
    unstandardise,
)
from lgm.errors import DivergedError
from lgm.experiments.kd_hm import (
    KDHMConfig,
    gradient_reach,
    kd_hm_config,
    marginal_kl,
    run_kd_hm,
)
from lgm.losses.distillation import local_distillation_loss, target_free_loss
from lgm.models.helmholtz import (
    LATENTS,
    TARGETS,
    HelmholtzMachine,
    binary_states,
)
from lgm.models.semi_auxiliary import SemiAuxiliaryDGM
from lgm.training.model_fits import wake_sleep

pytestmark = pytest.mark.usefixtures("one_cpu_thread")  # tiny models: one thread is fastest


@pytest.fixture(autouse=True, scope="module")
def _optimiser_import():
    """torch imports torch._dynamo when the first optimiser is built (seconds on a loaded
    machine): pay it once here rather than inside whichever test trains first."""
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])


def machine(hidden: int, seed: int) -> HelmholtzMachine:
    torch.manual_seed(seed)
    return HelmholtzMachine(hidden)


def toy_rows(n: int = 64, seed: int = 0) -> torch.Tensor:
    """Two standardised clusters, like the short and long eruptions of Old Faithful."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.tensor([[-1.2, -1.1], [0.7, 0.6]])[torch.arange(n) % 2]
    return centre + 0.3 * torch.randn(n, 2, generator=g)


# --------------------------------------------------------------------------- data
def test_packaged_data_has_272_rows_and_the_notes_standardisation():
    data = load_faithful()
    assert len(data) == N_ROWS and data.raw.shape == (272, 2)
    y = data.standardised
    assert y.mean(0).abs().max() < 1e-3                          # notes' means
    assert (y.std(0, unbiased=False) - 1).abs().max() < 1e-3     # population std
    assert torch.allclose(unstandardise(y), data.raw, atol=1e-4)
    assert "faithful" in data.source


def test_loader_reads_a_user_csv_with_or_without_row_names(tmp_path: Path):
    plain = tmp_path / "plain.csv"
    plain.write_text('"eruptions","waiting"\n3.6,79\n1.8,54\n')
    named = tmp_path / "named.csv"  # R's write.csv
    named.write_text('"","eruptions","waiting"\n"1",3.6,79\n"2",1.8,54\n')
    for path in (plain, named):
        data = load_faithful(path)
        assert torch.allclose(data.raw, torch.tensor([[3.6, 79.0], [1.8, 54.0]]))
        assert str(path) in data.source
    expected = (torch.tensor([[3.6, 79.0]]) - torch.tensor(MEAN)) / torch.tensor(STD)
    assert torch.allclose(standardise(torch.tensor([[3.6, 79.0]])), expected)


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("eruptions,waiting\n", "no data rows"),
    ("duration,wait\n3.6,79\n", "header must be eruptions,waiting"),
    ("eruptions,waiting\n3.6,79\n3.6\n", "line 3: expected 2 values"),
    ("eruptions,waiting\n3.6,79,12\n", "line 2: expected 2 values"),
    ('"","eruptions","waiting"\n3.6,79\n', r"line 2: expected 3 values \(row name"),
    ("eruptions,waiting\n3.6,seventy\n", "line 2: not a number"),
    ("eruptions,waiting\n3.6,-79\n", "line 2: durations must be finite and > 0"),
])
def test_malformed_csv_gives_a_clear_error(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(FaithfulFormatError, match=message):
        load_faithful(path)


def test_missing_csv_is_file_not_found(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="eruptions,waiting"):
        load_faithful(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        standardise(torch.zeros(3))


# --------------------------------------------------------------------------- the model
def test_generative_parameter_counts_are_the_notes_186_and_54():
    assert HelmholtzMachine(8).generative_parameter_count() == 186
    assert HelmholtzMachine(2).generative_parameter_count() == 54


def test_semi_auxiliary_pass_thresholds_the_shared_uniforms():
    hm = machine(8, 0)
    assert isinstance(hm, SemiAuxiliaryDGM)
    noise = hm.sample_noise(50, torch.Generator().manual_seed(1))
    assert set(noise) == set(LATENTS) | set(TARGETS)
    p = hm.ancestral(noise)
    assert p.names() == ["z4", "z3", "y2", "z2", "z1", "y1"]
    for c in p.latents:
        assert c.kind == "bernoulli" and f"eps:{c.name}" in c.parents
        assert torch.equal(c.sample, (torch.sigmoid(c.params["logits"]) > noise[c.name]).float())
    for c in p.targets:
        assert c.kind == "gaussian" and torch.all(c.params["std"] == 0.5)
        assert torch.allclose(c.sample, c.params["mu"] + 0.5 * noise[c.name])
    assert ("y2", "z2") in p.edges() and ("z1", "y1") in p.edges()


def test_local_and_teacher_forced_passes_read_the_given_values():
    teacher, student = machine(8, 0), machine(2, 1)
    noise = teacher.sample_noise(40, torch.Generator().manual_seed(2))
    t = teacher.ancestral(noise)
    local = student.ancestral(noise, parents=t.samples())
    z3 = t["z3"].sample
    assert torch.allclose(local["y2"].params["mu"], student.generative["y2"](z3))
    forced = student.ancestral(noise, parents={"y2": t["y2"].sample})  # eq. 4's y_<j
    assert torch.allclose(forced["z2"].params["logits"],
                          student.generative["z2"](t["y2"].sample))
    own_z3 = forced["z3"].sample                   # latents stay the student's own
    assert torch.allclose(forced["y2"].params["mu"], student.generative["y2"](own_z3))


def test_ancestral_rejects_bad_arguments():
    hm = machine(2, 0)
    noise = hm.sample_noise(5)
    with pytest.raises(ValueError, match="noise lacks"):
        hm.ancestral({k: v for k, v in noise.items() if k != "z3"})
    with pytest.raises(ValueError, match="no input variable"):
        hm.ancestral(noise, x=torch.zeros(5, 1))
    with pytest.raises(ValueError, match="parents of 'z2' must have 5 rows"):
        hm.ancestral(noise, parents={"y2": torch.zeros(3, 1)})
    with pytest.raises(ValueError, match="noise shape"):
        hm.ancestral({**noise, "z1": torch.rand(5, 3)})
    with pytest.raises(ValueError, match="hidden"):
        HelmholtzMachine(0)


def test_exact_marginal_sums_the_joint_and_integrates_to_one():
    hm = machine(8, 3)
    y = toy_rows(6)
    states = binary_states()
    joint = [hm.log_joint({"y1": y[:, :1], "y2": y[:, 1:],
                           **{z: states[i].expand(6, 2) for z, i in zip(LATENTS, idx,
                                                                         strict=True)}})
             for idx in itertools.product(range(4), repeat=4)]
    assert torch.allclose(torch.logsumexp(torch.stack(joint), 0), hm.log_marginal(y), atol=1e-5)
    grid = torch.linspace(-8, 8, 241)
    g1, g2 = torch.meshgrid(grid, grid, indexing="ij")
    with torch.no_grad():
        density = hm.log_marginal(torch.stack([g1.flatten(), g2.flatten()], 1)).exp()
    assert float(density.sum() * (grid[1] - grid[0]) ** 2) == pytest.approx(1.0, abs=2e-3)


def test_samples_follow_the_exact_marginal():
    """The Monte Carlo KL from ``sample`` agrees with KL integrated on a grid."""
    p, q = machine(8, 4), machine(2, 5)
    grid = torch.linspace(-8, 8, 241)
    g1, g2 = torch.meshgrid(grid, grid, indexing="ij")
    pts = torch.stack([g1.flatten(), g2.flatten()], 1)
    with torch.no_grad():
        lp, lq = p.log_marginal(pts), q.log_marginal(pts)
    exact = float((lp.exp() * (lp - lq)).sum() * (grid[1] - grid[0]) ** 2)
    mc, se = marginal_kl(p, q, 20_000, torch.Generator().manual_seed(0))
    assert exact > 0.05 and abs(mc - exact) < 4 * se + 1e-3


# --------------------------------------------------------------------------- distillation
def test_zero_loss_when_the_student_has_the_teachers_weights():
    teacher = machine(2, 0)
    student = copy.deepcopy(teacher)
    noise = teacher.sample_noise(128, torch.Generator().manual_seed(0))
    ours = target_free_loss(teacher, student, noise, lam=1.0)
    assert abs(ours.loss.item()) < 1e-6 and abs(float(ours.latent)) < 1e-6
    assert abs(local_distillation_loss(teacher, student, noise).item()) < 1e-6
    other = machine(2, 1)
    assert target_free_loss(teacher, other, noise, lam=1.0).loss.item() > 1e-3


def test_latent_loss_gives_gradients_where_the_surrogate_gives_none():
    teacher, student = machine(8, 0), machine(2, 1)
    reach = gradient_reach(teacher, student, 256, torch.Generator().manual_seed(0))
    sd, lz = reach["surrogate"], reach["latent"]
    assert sd["y1"] > 0 and sd["y2"] > 0           # the targets' own networks learn
    assert all(sd[z] == 0 for z in LATENTS)        # hard binary samples cut the gradient
    assert all(lz[z] > 0 for z in LATENTS)         # eq. 6 reaches every binary layer
    assert all(p.grad is None for p in student.parameters())


def test_wake_sleep_lowers_the_data_negative_log_likelihood():
    hm, data = machine(4, 0), toy_rows(64)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        before = float(-hm.log_marginal(data).mean())
    history = wake_sleep(hm, data, steps=80, generator=g)
    with torch.no_grad():
        after = float(-hm.log_marginal(data).mean())
    assert after < before - 0.3
    assert np.mean(history[-10:]) < np.mean(history[:10])


def test_wake_sleep_names_the_step_of_a_nan():
    hm = machine(2, 0)
    with torch.no_grad():
        hm.generative["y1"][2].bias.fill_(math.nan)
    with pytest.raises(DivergedError, match="step 0"):
        wake_sleep(hm, toy_rows(8), steps=3)
    with pytest.raises(ValueError, match=r"shape \[N, 2\]"):
        wake_sleep(hm, torch.zeros(8, 3), steps=3)


# --------------------------------------------------------------------------- the experiment
@pytest.mark.parametrize("field, value, message", [
    ("dataset", "mnist", "dataset"),
    ("seeds", (-1,), "seeds.0"),
    ("seeds", (), "seeds"),
    ("teacher_steps", 2.5, "teacher_steps"),
    ("lr", 0.0, "lr"),
    ("lam", -1.0, "lam"),
    ("lam", float("nan"), "lam"),
    ("dr_samples", 10, "dr_samples"),
    ("methods", ("ours", "kd"), "methods"),
    ("device", "tpu", "device"),
])
def test_config_rejects_bad_fields(field: str, value: object, message: str):
    with pytest.raises(ValueError, match=message):
        KDHMConfig(**{field: value})


def test_presets_and_overrides():
    assert kd_hm_config("paper").teacher_steps == 1000
    assert kd_hm_config("paper").lr == 1e-2 and kd_hm_config("paper").weight_decay == 1e-4
    assert kd_hm_config("smoke", seed=3).seeds == (3,)  # the page's single-seed form
    assert kd_hm_config("paper").seeds == (0, 1, 2, 3, 4)  # the paper preset's seeds
    assert kd_hm_config("paper", seeds=[0]).seeds == (0,)  # explicit seeds mean what they say
    with pytest.raises(ValueError, match="runs one seed"):
        run_kd_hm(kd_hm_config("smoke", seeds=(0, 1)))
    with pytest.raises(ValueError, match="unknown preset"):
        kd_hm_config("huge")
    with pytest.raises(ValueError, match="unknown parameter"):
        kd_hm_config("smoke", epochs=3)


def test_smoke_run_computes_then_hits_the_cache():
    cfg = kd_hm_config("smoke")
    result = run_kd_hm(cfg)
    assert result["cache"] == "computed" and "Old Faithful" in result["data"]
    metrics = result["metrics"]
    assert set(metrics) == {"teacher", *cfg.methods}
    assert metrics["teacher"]["kl_teacher"] == 0.0
    assert metrics["teacher"]["params"] == 186 and metrics["ours"]["params"] == 54
    for name, m in metrics.items():
        assert all(math.isfinite(v) for v in m.values()), name
        assert result["arrays"][f"samples_{name}"].shape == (cfg.plot_samples, 2)
    assert result["arrays"]["loss_ours"].shape == (cfg.distill_steps,)
    reach = result["gradient_reach"]
    assert reach["surrogate"]["z3"] == 0 < reach["latent"]["z3"]
    again = run_kd_hm(cfg)
    assert again["cache"] == "hit" and again["metrics"] == metrics


def test_the_committed_paper_seeds_are_served_without_training(monkeypatch, tmp_path):
    """results/kd_hm holds the five paper-preset seeds (computed on a CPU): the current code
    serves them (same keys, same numerics fingerprint) and trains nothing."""
    from lgm.experiments.registry import get
    from lgm.experiments.spec import make_config as experiment_config

    monkeypatch.setenv("LGM_CACHE", str(tmp_path))
    monkeypatch.setenv("LGM_NO_TRAIN", "1")
    result = get("kd_hm").run(experiment_config(get("kd_hm"), "paper"))
    assert [r["cache"] for r in result["runs"]] == ["hit"] * 5
    assert all("cpu" in r["provenance"]["device"] for r in result["runs"])
