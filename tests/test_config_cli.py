"""Bad input is refused with a clear message before any compute."""

from __future__ import annotations

import json

import pytest

from lgm.cli import main
from lgm.experiments import RunConfig, make_config


@pytest.mark.parametrize("field,value,match", [
    ("experiment", "cifar", "unknown experiment 'cifar'"),
    ("method", "magic", "unknown method 'magic'"),
    ("arch", "resnet", "unknown arch"),
    ("consistency_direction", "up", "unknown consistency_direction"),
    ("info_gain_weight", -0.1, "info_gain_weight must be >= 0"),
    ("ewc_gamma", -1.0, "ewc_gamma must be >= 0"),
    ("num_tasks", 0, "num_tasks must be >= 1"),
    ("batch_size", 0, "batch_size must be >= 1"),
    ("tau0", 0.0, "tau0 must be > 0"),
    ("tau_min", -1.0, "tau_min must be > 0"),
    ("lr", 0.0, "lr must be > 0"),
    ("val_fraction", 1.0, "val_fraction must be in"),
    ("lr", float("nan"), "lr must be > 0"),
])
def test_out_of_range_values_are_refused(field, value, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**{field: value})


@pytest.mark.parametrize("field,value", [("seed", "0"), ("batch_size", 12.5), ("lr", "fast"),
                                         ("max_epochs", True)])
def test_wrong_types_are_refused(field, value):
    with pytest.raises(TypeError, match=field):
        RunConfig(**{field: value})


def test_presets_and_unknown_fields():
    assert make_config("smoke").max_per_task == 64
    assert make_config("paper").patience == 50
    with pytest.raises(ValueError, match="unknown preset"):
        make_config("huge")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['lamda'\]"):
        make_config("quick", lamda=0.1)


def test_key_changes_with_results_relevant_fields_only():
    a = make_config("quick")
    assert a.key() == make_config("quick", device="cuda").key()
    assert a.key() != make_config("quick", info_gain_weight=0.1).key()
    assert a.initial_discrete == 1 and make_config("quick", method="ewc").initial_discrete == 10


def test_cli_rejects_bad_input_before_compute(capsys, tmp_path):
    assert main(["train", "--set", "info_gain_weight=-1"]) == 2
    assert "info_gain_weight must be >= 0" in capsys.readouterr().err
    assert main(["train", "--set", "no_such=1"]) == 2
    assert "unknown parameter" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--experiment", "cifar"])
    assert main(["train", "--device", "tpu"]) == 2
    assert "unknown device 'tpu'" in capsys.readouterr().err


def test_cli_missing_data_names_the_files(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "nothing"))
    code = main(["train", "--preset", "smoke", "--data-root", str(tmp_path / "nothing")])
    err = capsys.readouterr().err
    assert code == 2 and "train-images-idx3-ubyte" in err and str(tmp_path) in err


def test_cli_trains_and_writes_a_result(tmp_path, monkeypatch):
    import lgm.training.methods as methods
    from tests.conftest import tiny_sequence
    monkeypatch.setattr(methods, "load_tasks", lambda cfg, device: tiny_sequence(2))
    out = tmp_path / "r.json"
    code = main(["train", "--preset", "smoke", "--method", "vanilla", "--device", "cpu",
                 "--set", "classifier_epochs=1", "--set", "frechet_samples=16", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["config"]["method"] == "vanilla" and len(result["tasks"]) == 2
    assert "frechet" in result["tasks"][0] and result["provenance"]["torch"]
