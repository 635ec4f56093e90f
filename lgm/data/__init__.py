"""Data layer: IDX/.mat reading, dataset lookup and the task sequences of the paper's
experiments (section 5, appendix 7.5 and 7.7). See :mod:`lgm.data.tasks` for the choices made."""

from lgm.data.datasets import (
    DATASETS,
    DEBIAN_FASHION_DIR,
    FASHION_CLASSES,
    clear_cache,
    image_shape,
    load_dataset,
    load_uint8,
    locate_dataset,
    to_float,
)
from lgm.data.fingerprint import DataFile, DataFingerprint, file_sha256, recording_reads
from lgm.data.idx import (
    ENV_VAR,
    DataNotFoundError,
    IdxFormatError,
    data_roots,
    download_root,
    read_idx,
    write_idx,
)
from lgm.data.tasks import (
    DEFAULT_PERMUTED_TASKS,
    EXPERIMENTS,
    PERMUTATION_SEED_BASE,
    Task,
    TaskSequence,
    experiment_datasets,
    experiment_fingerprint,
    make_tasks,
    pixel_permutation,
)

__all__ = [
    "DATASETS",
    "DEBIAN_FASHION_DIR",
    "DEFAULT_PERMUTED_TASKS",
    "ENV_VAR",
    "EXPERIMENTS",
    "FASHION_CLASSES",
    "PERMUTATION_SEED_BASE",
    "DataFile",
    "DataFingerprint",
    "DataNotFoundError",
    "IdxFormatError",
    "Task",
    "TaskSequence",
    "clear_cache",
    "data_roots",
    "download_root",
    "experiment_datasets",
    "experiment_fingerprint",
    "file_sha256",
    "image_shape",
    "load_dataset",
    "load_uint8",
    "locate_dataset",
    "make_tasks",
    "pixel_permutation",
    "read_idx",
    "recording_reads",
    "to_float",
    "write_idx",
]
