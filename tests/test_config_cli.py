"""Bad input is refused with a clear message before any compute."""

from __future__ import annotations

import json

import pytest

from lgm.cli import main
from lgm.experiments import RunConfig, make_config
from lgm.experiments.spec import ConfigError


@pytest.mark.parametrize("field,value", [
    ("experiment", "cifar"), ("method", "magic"), ("arch", "resnet"),
    ("consistency_direction", "up"), ("info_gain_weight", -0.1), ("ewc_gamma", -1.0),
    ("num_tasks", 0), ("batch_size", 0), ("tau0", 0.0), ("tau_min", -1.0), ("lr", 0.0),
    ("val_fraction", 1.0), ("lr", float("nan")), ("lr", float("inf")), ("pad_mass", 0.0),
    ("max_per_task", 1), ("frechet_samples", 1), ("seed", -1), ("device", "tpu"),
    ("class_order", [1, -2, 3]),
])
def test_out_of_range_values_are_refused(field, value):
    with pytest.raises(ConfigError, match=f"^{field}") as err:
        RunConfig(**{field: value})
    assert "got" in str(err.value)  # the offending value is quoted


@pytest.mark.parametrize("field,value", [("seed", "0"), ("batch_size", 12.5), ("lr", "fast"),
                                         ("max_epochs", True), ("binarize", 1)])
def test_wrong_types_are_refused_not_coerced(field, value):
    with pytest.raises(ConfigError, match=f"^{field}"):
        RunConfig(**{field: value})


def test_presets_and_unknown_fields():
    assert make_config("smoke").max_per_task == 64
    assert make_config("paper").patience == 50
    with pytest.raises(ValueError, match="unknown preset"):
        make_config("huge")
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) lamda"):
        make_config("quick", lamda=0.1)


def test_key_changes_with_results_relevant_fields_only():
    a = make_config("quick")
    assert a.key() == make_config("quick", device="cuda").key()
    assert a.key() != make_config("quick", info_gain_weight=0.1).key()
    assert a.initial_discrete == 1 and make_config("quick", method="ewc").initial_discrete == 10


def test_cli_trains_and_writes_a_result(tmp_path, monkeypatch):
    import lgm.experiments.lifelong as methods
    from tests.conftest import tiny_sequence
    monkeypatch.setattr(methods, "load_tasks", lambda cfg, device: tiny_sequence(2))
    out = tmp_path / "r.json"
    code = main(["train", "--preset", "smoke", "--method", "vanilla", "--device", "cpu",
                 "--set", "classifier_epochs=1", "--set", "frechet_samples=16", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    (run,) = result["runs"]
    assert run["config"]["method"] == "vanilla" and len(run["tasks"]) == 2
    assert "frechet" in run["tasks"][0] and run["provenance"]["torch"]


def test_a_bug_shows_its_traceback_and_a_project_error_one_line(monkeypatch, capsys):
    """The command line reports the project's own errors in one line with their exit code; any
    other exception is a bug and propagates (its traceback), never dressed up as 'usage'."""
    from lgm import cli
    from lgm.experiments.spec import ConfigError

    def bug() -> int:
        raise KeyError("discrete")

    monkeypatch.setattr(cli, "cmd_experiments", bug)
    with pytest.raises(KeyError, match="discrete"):
        cli.main(["experiments"])

    def refused() -> int:
        raise ConfigError("lr must be > 0 (got -1)")

    monkeypatch.setattr(cli, "cmd_experiments", refused)
    assert cli.main(["experiments"]) == cli.EXIT_CODES["usage"]
    assert capsys.readouterr().err == "lgm: error: lr must be > 0 (got -1)\n"


def test_a_bad_thread_setting_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    from lgm import cli

    monkeypatch.setenv("LGM_CACHE", str(tmp_path))
    monkeypatch.setenv("LGM_THREADS", "two")
    assert cli.main(["run", "kd_hm", "--preset", "smoke"]) == cli.EXIT_CODES["usage"]
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == ["lgm: error: LGM_THREADS='two': expected a positive integer (torch CPU "
                      "threads per experiment; unset means 1)"]
    assert not (tmp_path / "results").exists()
