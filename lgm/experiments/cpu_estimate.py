"""How long a paper-scale unit takes on this machine's CPU, from a short calibration.

A lifelong run's time is almost all training steps: at the paper preset every task trains to
the epoch cap (200; the committed runs stop early in a few per cent of the trainings), each
epoch one pass over the task's training images (plus replay, for lifelong and EWC) and one
validation pass. So a seed costs

    sum over tasks t of  epochs_t * n_train_t * c_train(method, arch, batch)
  + sum over tasks t of  (n_test_t * c_test + 2 * m_t * c_feat)            (evaluation, eq. 20)
  + classifier_epochs * n_classifier * c_classifier                        (Frechet features)

with ``n_train_t`` the images the method trains on at task t (upto: every task so far; full:
all of them once), ``n_test_t`` the cumulative test set and ``m_t`` the Frechet samples. The
per-image costs ``c`` are measured here (:func:`calibrate`): a few epochs of the real training
loop (:func:`lgm.experiments.lifelong.run_stack`) on synthetic images of the experiment's shape,
the evaluation and the classifier's training, at the current torch thread count; they are cached
per machine and thread count in ``$LGM_CACHE/calibration/``. KD units are not calibrated: their
CPU times are measured ones where a unit has run on a CPU, else stated guesses (each KD
experiment's ``paper_cpu_s``).
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import torch

from lgm.experiments.config import RunConfig
from lgm.paths import cache_root, write_bytes_atomic

# Per task of each experiment: training images (before the validation split) and test images,
# facts of the data sets (MNIST's per-digit counts; Fashion-MNIST 6000/1000 per class).
MNIST_TRAIN = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
MNIST_TEST = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
TASK_IMAGES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "fashion": ((6000,) * 10, (1000,) * 10),
    "mnist": (MNIST_TRAIN, MNIST_TEST),
    "permuted": ((60000,) * 5, (10000,) * 5),
    "svhn_mnist": ((73257, 60000), (26032, 10000)),
    "fashion_then_mnist": ((60000, 60000), (10000, 10000)),
    "fashion_mnist20": ((6000,) * 10 + MNIST_TRAIN, (1000,) * 10 + MNIST_TEST),
}
IMAGE_SHAPES = {"svhn_mnist": (3, 32, 32)}  # others (1, 28, 28)

CAL_STEPS, CAL_EPOCHS = 12, (1, 3)  # steps per epoch and the two epoch counts timed


@dataclass(frozen=True)
class Calibration:
    """Seconds per image measured on this machine at ``threads`` torch threads."""

    train: float       # one training image, one epoch (its step share and validation)
    test: float        # one test image's negative ELBO
    feature: float     # one image's generation and classifier features (Frechet)
    classifier: float  # one image, one epoch of the Frechet classifier's training
    threads: int
    machine: str


def machine() -> str:
    """The CPU model (``/proc/cpuinfo``), else the platform's processor name."""
    try:
        for line in open("/proc/cpuinfo"):  # noqa: SIM115
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _synthetic(cfg: RunConfig, n_train: int, n_test: int) -> Any:
    """Two tasks of random binary images of the experiment's shape, with labels."""
    from lgm.data.tasks import Task, TaskSequence

    shape = IMAGE_SHAPES.get(cfg.experiment, (1, 28, 28))
    g = torch.Generator().manual_seed(0)

    def images(n: int) -> torch.Tensor:
        return (torch.rand(n, *shape, generator=g) < 0.2).float()

    tasks = [Task(t, f"synthetic {t}", images(n_train), images(max(2, n_train // 9)),
                  images(n_test), torch.arange(n_train) % 10, None, torch.arange(n_test) % 10)
             for t in range(2)]
    return TaskSequence(cfg.experiment, "synthetic", shape, tasks, "in-memory calibration")


def _cpu_clock() -> float:
    """This process's CPU seconds per torch thread: what a timing would read on an otherwise
    idle machine, whatever else runs beside the calibration."""
    return time.process_time() / torch.get_num_threads()


def _timed(fn: Any, *args: Any, **kwargs: Any) -> float:
    t0 = _cpu_clock()
    fn(*args, **kwargs)
    return _cpu_clock() - t0


def _train_cost(cfg: RunConfig) -> float:
    """Seconds per training image and epoch: two timings of the real loop that differ only in
    their epochs, so the fixed costs cancel."""
    from lgm.experiments.fingerprints import silent
    from lgm.experiments.lifelong import run_stack

    n = CAL_STEPS * cfg.batch_size
    tasks = _synthetic(cfg, n, 64)
    times = []
    for epochs in CAL_EPOCHS:
        run = cfg.model_copy(update={"num_tasks": None, "max_epochs": epochs, "min_epochs": epochs,
                                     "patience": epochs, "visuals": 0, "classifier_epochs": 0,
                                     "fisher_samples": min(cfg.fisher_samples, 256),
                                     "iw_samples": 0, "device": "cpu", "seed": 0})
        with silent():
            times.append(_timed(run_stack, [run], tasks=[tasks]))
    return (times[1] - times[0]) / ((CAL_EPOCHS[1] - CAL_EPOCHS[0]) * 2 * n)


def _eval_costs(cfg: RunConfig) -> tuple[float, float, float]:
    """Seconds per test image (ELBO), per Frechet image (generation and features) and per
    classifier image-epoch (two trainings that differ in their epochs)."""
    from lgm.experiments.lifelong import new_model
    from lgm.metrics.classifier import FrechetScorer, train_classifier
    from lgm.metrics.elbo import negative_elbo

    n = 2048
    tasks = _synthetic(cfg, n, n)
    model = new_model(cfg, tasks, torch.device("cpu")).select(0)
    negative_elbo(model, tasks[0].test[:64], seed=0)  # warm-up
    test = _timed(negative_elbo, model, tasks[0].test, seed=0) / n
    x, y = tasks[0].train, tasks[0].train_labels
    one, three = (_timed(train_classifier, x, y, epochs=e, device="cpu") for e in (1, 3))
    scorer = FrechetScorer(train_classifier(x[:256], y[:256], epochs=1, device="cpu"))
    feature = _timed(lambda: scorer.score(model.eval().generate(n // 2), tasks[0].test[: n // 2]))
    return test, feature / n, (three - one) / (2 * n)


def _calibration_path(cfg: RunConfig) -> Any:
    name = f"{cfg.experiment}-{cfg.method}-{cfg.arch}-b{cfg.batch_size}-t{torch.get_num_threads()}"
    key = "".join(c if c.isalnum() else "-" for c in machine())[:40]
    return cache_root() / "calibration" / key / f"{name}.json"


@cache
def calibrate(cfg: RunConfig) -> Calibration:
    """The per-image costs of ``cfg``'s method, architecture and batch size on this machine at
    the current thread count (read from the cache, else measured: a few seconds)."""
    path = _calibration_path(cfg)
    if path.exists():
        try:
            return Calibration(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            pass  # damaged: measure again
    test, feature, classifier = _eval_costs(cfg)
    cal = Calibration(_train_cost(cfg), test, feature, classifier, torch.get_num_threads(),
                      machine())
    write_bytes_atomic(path, json.dumps(asdict(cal), indent=1).encode(), "a CPU calibration")
    return cal


def train_images(cfg: RunConfig) -> list[int]:
    """Per task, the training images ``cfg``'s method sees in one epoch (after the validation
    split and any ``max_per_task`` cut); ``full`` trains once, on all of them, at task 0."""
    train, _ = TASK_IMAGES[cfg.experiment]
    n_tasks = cfg.num_tasks or len(train)
    per = [min(round(n * (1 - cfg.val_fraction)), cfg.max_per_task or n) for n in train[:n_tasks]]
    if cfg.method == "upto":
        return [sum(per[: t + 1]) for t in range(n_tasks)]
    if cfg.method == "full":
        return [sum(per)] + [0] * (n_tasks - 1)
    return per


def seed_seconds(cfg: RunConfig, classifier: bool = True) -> float:
    """Estimated CPU seconds of one seed of ``cfg`` at the calibrated thread count, every task
    trained to ``max_epochs`` (``classifier``: include training the Frechet classifier)."""
    cal = calibrate(cfg)
    _, test = TASK_IMAGES[cfg.experiment]
    n_tasks = cfg.num_tasks or len(test)
    cumulative = [sum(test[: t + 1]) for t in range(n_tasks)]
    train = sum(n * cfg.max_epochs * cal.train for n in train_images(cfg))
    evaluation = sum(n * cal.test + 2 * min(cfg.frechet_samples, n) * cal.feature
                     * (cfg.classifier_epochs > 0) for n in cumulative)
    n_classifier = sum(TASK_IMAGES[cfg.experiment][0])
    fit = cfg.classifier_epochs * n_classifier * cal.classifier if classifier else 0.0
    return train + evaluation + fit
