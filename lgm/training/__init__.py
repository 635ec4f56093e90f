"""Training: the student's objective, the per-task loop, checkpoints and the settings they take."""

from lgm.training.checkpoint import CheckpointError
from lgm.training.loop import train_task
from lgm.training.schedule import gumbel_temperature
from lgm.training.settings import ObjectiveWeights, Schedule

__all__ = ["CheckpointError", "ObjectiveWeights", "Schedule", "gumbel_temperature",
           "train_task"]
