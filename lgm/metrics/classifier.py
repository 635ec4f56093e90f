"""Feature classifier for the Frechet metric (paper appendix 7.10, eq. 20).

Following the reference (see notes "Evaluation"): a small conv classifier trained with
cross-entropy on the whole dataset; its 512-d penultimate layer gives the features whose
Gaussian statistics eq. 20 compares between generated samples and test images.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path

import filelock
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from lgm.metrics.frechet import frechet_distance
from lgm.paths import atomic_write, ensure_folder, store_error

__all__ = [
    "CLASSIFIER_VERSION",
    "FEATURE_DIM",
    "FeatureClassifier",
    "FrechetScorer",
    "extract_features",
    "load_or_train_classifier",
    "train_classifier",
]

# Bump whenever the architecture or training procedure changes: it invalidates caches.
CLASSIFIER_VERSION = 1
FEATURE_DIM = 512
_SUPPORTED_SIZES = (28, 32)


class FeatureClassifier(nn.Module):
    """Two conv blocks -> 512-d ReLU feature layer -> logits.

    Input: images [B, C, H, W] in [0, 1] with H, W in {28, 32}.
    """

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int) -> None:
        super().__init__()
        if height not in _SUPPORTED_SIZES or width not in _SUPPORTED_SIZES:
            raise ValueError(f"image height/width must be in {_SUPPORTED_SIZES}, "
                             f"got {height}x{width}")
        if num_classes < 2:
            raise ValueError(f"need at least 2 classes, got {num_classes}")
        self.image_shape = (in_channels, height, width)
        self.num_classes = num_classes
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        flat = 64 * (height // 4) * (width // 4)
        self.fc = nn.Sequential(nn.Linear(flat, FEATURE_DIM), nn.ReLU())
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features [B, 512]."""
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"expected images [B, {', '.join(map(str, self.image_shape))}], "
                             f"got {tuple(x.shape)}")
        return self.fc(self.conv(x))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits [B, num_classes]."""
        return self.head(self.features(x))


def _validate_data(images: Tensor, labels: Tensor) -> None:
    if images.dim() != 4:
        raise ValueError(f"images must be [N, C, H, W], got shape {tuple(images.shape)}")
    if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"labels must be [N] with N={images.shape[0]}, "
                         f"got shape {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor, got {labels.dtype}")
    if images.shape[0] == 0:
        raise ValueError("no training images")


def _build_model(images: Tensor, labels: Tensor, seed: int) -> FeatureClassifier:
    """Fresh classifier sized for the data, initialised from ``seed`` (global RNG untouched)."""
    _, c, h, w = images.shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return FeatureClassifier(c, h, w, num_classes=int(labels.max()) + 1)


def train_classifier(
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | str,
) -> FeatureClassifier:
    """Train a :class:`FeatureClassifier` with Adam and cross-entropy; return it in eval mode.

    Data stay as tensors on ``device``; each epoch visits a fresh index permutation drawn
    from a CPU generator seeded by ``seed``, so CPU training is deterministic for a seed.
    """
    _validate_data(images, labels)
    device = torch.device(device)
    x = images.to(device, torch.float32)
    y = labels.to(device, torch.long)
    model = _build_model(images, labels, seed).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    model.train()
    bar = tqdm(range(epochs), desc="classifier", disable=None)
    for _ in bar:
        perm = torch.randperm(n, generator=gen).to(device)
        loss_sum = torch.zeros((), device=device)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * idx.numel()
        bar.set_postfix(loss=f"{loss_sum.item() / n:.4f}")
    return model.eval()


def _cache_path(dataset_key: str, images: Tensor, labels: Tensor, cache_dir: Path,
                epochs: int, seed: int) -> Path:
    """Cache file name; the hash covers everything that changes the trained weights."""
    if not dataset_key or os.sep in dataset_key or "/" in dataset_key:
        raise ValueError(f"dataset_key must be a non-empty name without '/', got {dataset_key!r}")
    spec = {
        "version": CLASSIFIER_VERSION,
        "epochs": epochs,
        "seed": seed,
        "image_shape": list(images.shape[1:]),
        "num_samples": int(images.shape[0]),
        "num_classes": int(labels.max()) + 1,
    }
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"classifier-{dataset_key}-{digest}.pt"


def _try_load(model: FeatureClassifier, path: Path) -> bool:
    """Load weights from ``path`` into ``model``; warn and return False if that fails."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:  # corrupt / truncated / mismatched file: retrain instead
        warnings.warn(f"could not load classifier cache {path} ({err!r}); retraining",
                      RuntimeWarning, stacklevel=3)
        return False
    return True


def _atomic_save(model: FeatureClassifier, path: Path) -> None:
    """Write the weights through a unique temporary file (concurrent writers never collide;
    a full disk raises :class:`~lgm.paths.DiskFullError` and leaves no temporary file)."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()), "classifier")


def load_or_train_classifier(
    dataset_key: str,
    images: Tensor,
    labels: Tensor,
    *,
    cache_dir: str | os.PathLike[str],
    epochs: int,
    seed: int = 0,
    device: torch.device | str,
) -> FeatureClassifier:
    """Return a trained classifier in eval mode, cached in ``cache_dir``.

    The file is ``cache_dir/classifier-<dataset_key>-<hash>.pt``, the hash covering epochs,
    seed, image shape, number of samples (and classes) and :data:`CLASSIFIER_VERSION`.
    A cache file that fails to load is reported with a warning and overwritten.
    """
    _validate_data(images, labels)
    cache_dir = Path(cache_dir)
    path = _cache_path(dataset_key, images, labels, cache_dir, epochs, seed)
    ensure_folder(cache_dir, "classifier cache")
    try:  # one process trains a classifier; another one asking for it waits, then loads it
        lock = filelock.FileLock(str(path.with_name(path.name + ".lock")))
        lock.acquire()
    except OSError as err:
        raise store_error(err, path, "classifier lock") from err
    try:
        if path.exists():
            model = _build_model(images, labels, seed)
            if _try_load(model, path):
                return model.to(device).eval()
        model = train_classifier(images, labels, epochs=epochs, seed=seed, device=device)
        _atomic_save(model, path)
    finally:
        lock.release()
    return model


@torch.no_grad()
def extract_features(model: FeatureClassifier, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Features [N, 512] (float32, on the model's device) of ``images``, in batches.

    ``model`` should be in eval mode (as returned by the functions above).
    """
    device = next(model.parameters()).device
    chunks = [
        model.features(images[start:start + batch_size].to(device, torch.float32))
        for start in range(0, images.shape[0], batch_size)
    ]
    if not chunks:
        return torch.empty(0, FEATURE_DIM, device=device)
    return torch.cat(chunks)


class FrechetScorer:
    """Frechet distance (eq. 20) between classifier features of two image sets."""

    def __init__(self, model: FeatureClassifier, batch_size: int = 1000) -> None:
        self.model = model.eval()
        self.batch_size = batch_size

    def features(self, images: Tensor) -> Tensor:
        return extract_features(self.model, images, self.batch_size)

    def score(self, generated: Tensor, reference: Tensor) -> float:
        """One Frechet distance over all samples (not a mean over minibatches)."""
        return frechet_distance(self.features(generated), self.features(reference))

    @torch.no_grad()
    def accuracy(self, images: Tensor, labels: Tensor) -> float:
        """Top-1 accuracy of the classifier on ``images`` (report its test accuracy)."""
        _validate_data(images, labels)
        device = next(self.model.parameters()).device
        correct = torch.zeros((), dtype=torch.long, device=device)
        for start in range(0, images.shape[0], self.batch_size):
            batch = images[start:start + self.batch_size].to(device, torch.float32)
            pred = self.model(batch).argmax(dim=1)
            correct += (pred == labels[start:start + self.batch_size].to(device)).sum()
        return correct.item() / images.shape[0]
