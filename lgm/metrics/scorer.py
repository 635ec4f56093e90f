"""The Frechet scorer of one experiment: a classifier trained on the experiment's data.

Labels: the class-split experiments use their class labels; the experiments whose tasks share
classes (permuted MNIST, SVHN -> MNIST) label each image ``10 * task + class``, so that the
features also tell the tasks (the permutations, the datasets) apart.
"""

from __future__ import annotations

import torch

from lgm.data.tasks import TaskSequence
from lgm.metrics.classifier import FrechetScorer, load_or_train_classifier
from lgm.paths import cache_root

SHARED_CLASS_EXPERIMENTS = ("permuted", "svhn_mnist", "fashion_then_mnist")


def scorer_labels(tasks: TaskSequence) -> tuple[torch.Tensor, torch.Tensor]:
    """All training images of the sequence and the classifier's labels for them."""
    images, labels = [], []
    for task in tasks.tasks:
        y = task.train_labels
        if tasks.experiment in SHARED_CLASS_EXPERIMENTS:
            y = 10 * task.index + y
        images.append(task.train)
        labels.append(y)
    return torch.cat(images), torch.cat(labels)


def build_scorer(tasks: TaskSequence, *, key: str, epochs: int, seed: int = 0,
                 device: torch.device | str = "cpu") -> FrechetScorer:
    """Train (or load from the cache) the experiment's classifier; wrap it as a scorer. The
    cache key includes the data fingerprint of the files the tasks were read from."""
    images, labels = scorer_labels(tasks)
    if tasks.files is not None:  # a classifier of other data files is another classifier
        key = f"{key}-{tasks.files.digest[:12]}"
    model = load_or_train_classifier(key, images, labels, cache_dir=cache_root() / "classifiers",
                                     epochs=epochs, seed=seed, device=device)
    return FrechetScorer(model)
