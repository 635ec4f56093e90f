"""The one fit loop (lgm/training/fit.py) and what runs on it.

The golden numbers below were recorded from the hand-written loops that :func:`fit` replaced
(commit 0192706: ``kd_compression.fit_elbo``, ``training.distill.distill``,
``models.helmholtz.wake_sleep``, ``models.vrnn.train_elbo``, ``kd_bridge._fit``,
``kd_continual.step2``), on tiny float64 cases on one thread; the refactored fits reproduced
them bit for bit on the recording machine. The tolerance (1e-6 relative) only absorbs float64
rounding differences between CPUs and thread counts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lgm.errors import DivergedError
from lgm.experiments import kd_bridge, kd_compression, kd_continual, kd_hm, kd_vrnn
from lgm.experiments.experiment import Experiment
from lgm.experiments.spec import ExperimentConfig, make_config
from lgm.models.conditional_ladder import ConditionalLadderVAE
from lgm.models.helmholtz import HelmholtzMachine
from lgm.models.ladder import TOP, LadderVAE
from lgm.models.vae import DiscreteContinuousVAE, frozen_copy
from lgm.models.vrnn import VRNN, VRNNSize
from lgm.training.distill import distill, distillation_loss_fn
from lgm.training.fit import (
    EpochBatches,
    Optimiser,
    fit,
    float64_cpu,
)
from lgm.training.model_fits import fit_elbo, train_elbo, wake_sleep

RTOL = 1e-6  # the scalar CPU kernels (no AVX) drift up to 1.3e-7 over a fit
MODULES = (kd_compression, kd_continual, kd_hm, kd_vrnn, kd_bridge)


@pytest.fixture(autouse=True)
def _float64_one_thread():
    with float64_cpu():
        yield


def close(got: list[float], want: list[float]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert math.isclose(g, w, rel_tol=RTOL) or (math.isnan(g) and math.isnan(w)), (g, w)


def psum(model: torch.nn.Module) -> float:
    return float(sum(p.detach().sum() for p in model.parameters()))


# --------------------------------------------------------------------------- the same numbers
def test_ladder_elbo_and_distillation_keep_the_old_numbers() -> None:
    torch.manual_seed(0)
    teacher = LadderVAE(32, 2, 1)
    x = torch.rand(9, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    losses = fit_elbo(teacher, x, epochs=2, batch=4, lr=1e-3, weight_decay=1e-4,
                      warmup_fraction=0.5, seed=3)
    assert losses.dtype == np.float64  # the default dtype, as before
    close(losses.tolist(), [28234.54961056273, 27924.201551558464, 28495.031636653606,
                            28110.155310954535])
    close([psum(teacher)], [84.42110942480956])
    torch.manual_seed(5)
    student = LadderVAE(32, 1, 1)
    fn = distillation_loss_fn("ours", lam=0.1, latent_measure="w2", latent_reduction="mean",
                              skip=(TOP,))
    h = distill(teacher, student, steps=3, batch=4, lr=1e-3, weight_decay=1e-4, loss_fn=fn,
                generator=torch.Generator().manual_seed(7), sync_every=2)
    close(h.loss, [1565.9691103475654, 1435.001199183522, 1429.185248492014])
    close(h.latent, [3.8264308913725076, 3.784906552781117, 4.068957306869621])
    close([psum(student)], [39.40690604741617])


def test_wake_sleep_and_hm_distillation_keep_the_old_numbers() -> None:
    torch.manual_seed(0)
    teacher = HelmholtzMachine(4)
    y = torch.randn(30, 2, generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(4)
    close(wake_sleep(teacher, y, steps=4, lr=1e-2, weight_decay=1e-4, generator=g),
          [16.327835264467595, 16.580057287533997, 16.406340261439425, 16.12246202942772])
    close([psum(teacher)], [0.8010217373080093])
    torch.manual_seed(8)
    student = HelmholtzMachine(2)
    h = distill(teacher, student, steps=3, batch=16, lr=1e-2, weight_decay=1e-4, generator=g,
                loss_fn=distillation_loss_fn("ours", lam=1.0))
    close(h.loss, [1.6995161452713685, 1.6738854564832237, 1.7325005176961965])
    close([psum(student)], [-3.775745459584498])


def test_vrnn_elbo_and_distillation_keep_the_old_numbers() -> None:
    torch.manual_seed(0)
    model = VRNN(VRNNSize((8,), 12), length=6)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(7, 6, 3, generator=gen)
    x[..., 0] = (x[..., 0] > 0).double()
    mask = torch.ones(7, 6)
    mask[0, 4:] = 0
    g = torch.Generator().manual_seed(9)
    close(train_elbo(model, x, mask, steps=3, batch=4, lr=1e-3, weight_decay=1e-4,
                     clip_grad=1.0, generator=g),
          [7.070525347248084, 7.0463845694218215, 7.1139541861489475])
    close(train_elbo(model, x, mask, steps=2, batch=4, lr=1e-3, weight_decay=0.0,
                     clip_grad=1.0, generator=g, parameters=model.encoder_parameters()),
          [7.3716735118169145, 6.9492411861478685])
    close([psum(model)], [-1.7123889052346426])
    torch.manual_seed(3)
    student = VRNN(VRNNSize((4,), 6), length=6)
    h = distill(model, student, steps=2, batch=3, lr=1e-3, weight_decay=1e-4, clip_grad=10.0,
                generator=g, loss_fn=kd_vrnn.vrnn_distillation_loss("ours", 1e-3))
    close(h.loss, [0.0618737290086908, 0.05346375043969122])
    close([psum(student)], [-9.843253716668954])


def test_bridge_fits_keep_the_old_numbers() -> None:
    rc = kd_bridge.run_config(kd_bridge.kd_bridge_config("smoke"), "lifelong", 0)
    rc = rc.model_copy(update={"batch_size": 4}) if hasattr(rc, "model_copy") else (
        __import__("dataclasses").replace(rc, batch_size=4))
    torch.manual_seed(0)
    vae = DiscreteContinuousVAE(rc.arch, (1, 28, 28), rc.continuous, 1, seeds=(0,))
    data = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(5)).round()
    g = torch.Generator().manual_seed(30_000)
    losses = kd_bridge.fit_lifelong_vae(vae, lambda b, tau: kd_bridge.elbo_loss(vae, b, tau),
                                        data, rc, g, desc="t0")
    close(losses, [561.1060026657831, 568.7133005028144, 577.3490608731092])
    student, more = kd_bridge.distilled_task(frozen_copy(vae), data, rc, 1, 0.1, g)
    close(more, [302.9314997062345, 295.4080651830301, 306.16173488904843])
    close([psum(vae), psum(student)], [1462.678843071786, 1467.5786791926369])


def test_continual_step2_keeps_the_old_numbers() -> None:
    cfg = kd_continual.kd_continual_config("smoke", width=1, batch=4, task1_epochs=1,
                                           curl_width=2)
    torch.manual_seed(0)
    old = ConditionalLadderVAE(32, 1, 1, 2).eval()
    x = torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(6))
    data = kd_continual.ContinualData((x, x), (x, x), (x, torch.zeros(6, dtype=torch.long)),
                                      0.3, "t")
    model, losses = kd_continual.step2("ours", cfg, old, data, 0)
    close(losses.tolist(), [1071.6678267683524, 1001.5315256370922])
    close([psum(model)], [49.30863319224604])


# --------------------------------------------------------------------------- the loop
def quadratic(target: float = 3.0) -> tuple[torch.nn.Linear, object]:
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    return model, lambda step: (model.weight[0, 0] - target) ** 2


def test_fit_records_parts_and_leaves_eval_mode() -> None:
    model, loss = quadratic()

    def loss_at(step: int) -> dict[str, torch.Tensor]:
        value = loss(step)
        return {"loss": value, "twice": 2 * value}

    h = fit(model, loss_at, steps=5, opt=Optimiser(0.1), check_every=2)
    assert len(h.loss) == 5 and h.arrays()["twice"].tolist() == [2 * v for v in h.loss]
    assert h.loss[0] == 9.0 and h.loss[-1] < h.loss[0] and not model.training


def test_fit_names_the_fit_the_loss_and_the_first_bad_step() -> None:
    for check_every in (4, 1):
        model, loss = quadratic()

        def loss_at(step: int, loss=loss) -> torch.Tensor:
            return loss(step) * (math.nan if step in (3, 4) else 1.0)

        with pytest.raises(DivergedError,
                           match="non-finite -ELBO .* at step 3 of teacher") as err:
            fit(model, loss_at, steps=8, opt=Optimiser(0.1), check_every=check_every,
                desc="teacher", loss_name="-ELBO")
        assert err.value.stage == "training step" and err.value.kept == "nothing"


def test_fit_stops_early_and_calls_the_checkpoint_hook() -> None:
    model, loss = quadratic()
    seen: list[int] = []
    h = fit(model, loss, steps=100, opt=Optimiser(0.5), check_every=5,
            checkpoint=lambda step, hist: seen.append(step),
            stop=lambda step, hist: hist.loss[-1] < 1.0)
    assert h.stopped_early and seen == list(range(4, len(h.loss), 5))
    assert len(h.loss) < 100 and h.loss[-1] < 1.0


def test_fit_rejects_bad_settings_before_computing() -> None:
    model, loss = quadratic()
    with pytest.raises(ValueError, match="lr must be > 0"):
        Optimiser(0.0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        Optimiser(math.inf)
    with pytest.raises(ValueError, match="weight_decay"):
        Optimiser(0.1, -1.0)
    with pytest.raises(ValueError, match="clip_grad"):
        Optimiser(0.1, 0.0, 0.0)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        fit(model, loss, steps=0, opt=Optimiser(0.1))
    with pytest.raises(ValueError, match="no parameters"):
        fit(model, loss, steps=1, opt=Optimiser(0.1), parameters=[])


@pytest.mark.parametrize(("n", "batch", "drop_last", "sizes"), [
    (9, 4, True, [4, 4]), (9, 4, False, [4, 4, 1]), (3, 4, True, [3])])
def test_epoch_batches_cover_each_epoch_once(n: int, batch: int, drop_last: bool,
                                             sizes: list[int]) -> None:
    batches = EpochBatches(n, batch, torch.Generator().manual_seed(0), "cpu", drop_last)
    assert batches.per_epoch == len(sizes)
    epochs = [[batches(e * len(sizes) + i) for i in range(len(sizes))] for e in range(2)]
    for epoch in epochs:
        assert [len(b) for b in epoch] == sizes
        seen = torch.cat(epoch)
        assert len(set(seen.tolist())) == len(seen)
    assert not torch.equal(torch.cat(epochs[0]), torch.cat(epochs[1]))  # a new order


# --------------------------------------------------------------------------- experiment shape
@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_kd_module_has_the_experiment_shape(module) -> None:
    assert set(module.PRESETS) == {"smoke", "quick", "paper"} and module.PAPER
    for exp in module.EXPERIMENTS:
        assert isinstance(exp, Experiment) and exp.paper == "kd"
        assert issubclass(exp.config, ExperimentConfig)
        assert exp.pages and exp.paper_values
        paper = make_config(exp, "paper")
        assert paper.seeds == exp.paper_seeds and paper.preset == "paper"
        assert make_config(exp, "paper", seeds=[0]).seeds == (0,)  # explicit seeds: as given
        assert make_config(exp, "smoke").seeds == (0,)


def test_kd_table1_and_lambda_take_their_seeds_from_the_record() -> None:
    names = {e.name: e for e in kd_compression.EXPERIMENTS}
    assert set(names) == {"kd_table1", "kd_lambda"}
    assert names["kd_table1"].paper_seeds == names["kd_lambda"].paper_seeds == (0, 1, 2)
    table = kd_compression.PAPER["table1"]
    assert set(table) == {"celeba", "svhn", "cifar10"}
    assert table["celeba"][(32, "ours")]["teacher"]["1nn"] == (0.17, 0.01)
    assert table["svhn"]["teacher"]["data"]["fid"] == 4.19
    assert all(len(rows) == 10 for rows in table.values())  # teacher + 3 widths x 3 methods


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_fingerprints_are_deterministic_float64(module) -> None:
    first = module.fingerprint()
    assert len(first) >= 4 and all(isinstance(v, float) and math.isfinite(v) for v in first)
    assert module.fingerprint() == first
    assert torch.get_default_dtype() == torch.float64  # the fixture's, restored after


def test_a_fingerprint_sees_a_change_of_the_numerics(monkeypatch) -> None:
    before = kd_hm.fingerprint()
    real = kd_hm.distillation_loss_fn
    monkeypatch.setattr(kd_hm, "distillation_loss_fn",
                        lambda method, lam=1.0: real(method, lam=0.5 * lam))  # a changed loss
    after = kd_hm.fingerprint()
    assert after != before and after[:3] == before[:3]  # the teacher's fit is unchanged
