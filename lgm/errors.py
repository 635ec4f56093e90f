"""lgm's own errors: the command line reports them in one line; anything else is a bug.

Every error the project raises on purpose (bad input, missing or malformed data, a broken
checkpoint or store, a diverged run) derives from :class:`LgmError`.
"""

from __future__ import annotations


class LgmError(Exception):
    """An error of lgm's own making; its message is one line naming the culprit."""


class DivergedError(LgmError):
    """A run diverged: a NaN/inf loss or metric, or a number beyond its divergence bound.

    ``stage`` is what diverged ("training step", "validation", "evaluation", "result",
    "fingerprint"), ``kept`` what was kept ("nothing", "the checkpoint after task 2"); both
    end the one-line message."""

    def __init__(self, message: str, stage: str, kept: str = "nothing") -> None:
        super().__init__(f"{message} [{stage} diverged; kept: {kept}]")
        self.message, self.stage, self.kept = message, stage, kept

    def __reduce__(self) -> tuple[type[DivergedError], tuple[str, str, str]]:
        return type(self), (self.message, self.stage, self.kept)
