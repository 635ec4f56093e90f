"""Training: the student's objective, the per-task loop, the methods and checkpoints."""

from lgm.training.checkpoint import CheckpointError
from lgm.training.loop import NonFiniteLossError, train_task
from lgm.training.methods import run
from lgm.training.schedule import gumbel_temperature

__all__ = ["CheckpointError", "NonFiniteLossError", "gumbel_temperature", "run", "train_task"]
