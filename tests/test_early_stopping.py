"""Fig. 3c's early-stopping analysis: replaying the rule on a stored validation curve."""

from __future__ import annotations

import pytest

from lgm.report.early_stopping import replay_rule, stopping_rows


def test_replaying_the_rule_on_synthetic_curves():
    slow = [100.0 - 0.001 * e for e in range(200)]  # decreasing by 0.001 % an epoch
    assert replay_rule(slow, patience=50, min_epochs=20) == 200  # any decrease resets it
    assert replay_rule(slow, patience=50, min_epochs=20, min_delta=1e-3) == 51
    bumpy = [10.0, 9.0, 9.5, 9.6, 9.7, 8.0, 9.0, 9.0, 9.0]
    assert replay_rule(bumpy, patience=2) == 4  # no decrease at epochs 3 and 4
    assert replay_rule(bumpy, patience=3) == 5  # stops before the better epoch 5 comes
    assert replay_rule(bumpy, patience=4) == 9  # waits for it, then runs out of epochs


def test_replay_agrees_with_the_training_loop():
    """The curve a run stores, replayed with the run's own settings, gives its epochs."""
    torch = pytest.importorskip("torch")
    from lgm.experiments import make_config
    from lgm.experiments.lifelong import run
    from tests.conftest import tiny_sequence

    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        seq = tiny_sequence(1, n_train=32, n_val=16)
        for task in seq.tasks:
            task.train, task.val, task.test = (x.double() for x in (task.train, task.val,
                                                                      task.test))
        seq.tasks[0].val = 1.0 - seq.tasks[0].train[:16]  # worsens: stops at 1 + patience
        cfg = make_config("smoke", method="vanilla", num_tasks=1, batch_size=16, max_epochs=6,
                          patience=2, min_epochs=1, lr=3e-3)
        fit = run(cfg, tasks=seq)["tasks"][0]["training"]
    finally:
        torch.set_default_dtype(dtype)
    assert replay_rule(fit["val_curve"], patience=2, min_epochs=1) == fit["epochs"] == 3


def test_stopping_rows_count_trainings_at_the_cap():
    def run(epochs, best):
        return {"tasks": [{"task": t, "training": {"epochs": e, "best_epoch": b}}
                          for t, (e, b) in enumerate(zip(epochs, best, strict=True))]}
    results = {"lifelong": [run([200, 200], [190, 180])], "ewc": [run([60, 200], [10, 199])]}
    rows = stopping_rows(results, 200)
    assert rows == [["lifelong", "2 of 2", "200", "185", "15"],
                    ["ewc", "1 of 2", "130", "104", "26"]]
