"""A catalogue of bad inputs: the command line, page parameters, data files, cache.

For each: a non-zero exit (or a named error), a message that names the culprit, no traceback,
and no result marked complete in the cache.
"""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import pytest
from conftest import load_script

from lgm.cli import EXIT_CODES, main
from tests.conftest import write_mnist_family

ROOT = Path(__file__).resolve().parent.parent
USAGE, DATA, STORAGE = EXIT_CODES["usage"], EXIT_CODES["data"], EXIT_CODES["storage"]
SMOKE = ["run", "fashion", "--preset", "smoke", "--set", "classifier_epochs=0"]

# (id, argv, culprit in the message, exit code); argparse's own refusals exit 2 via SystemExit
CLI = [
    ("unknown experiment", ["run", "cifar"], "unknown experiment 'cifar'", USAGE),
    ("unknown field", ["run", "fashion", "--set", "lamda=0.1"], "lamda", USAGE),
    ("negative weight", ["run", "fashion", "--set", "info_gain_weight=-1"], "info_gain_weight",
     USAGE),
    ("infinite lr", ["run", "fashion", "--set", "lr=Infinity"], "lr", USAGE),
    ("nan lr", ["run", "fashion", "--set", "lr=NaN"], "lr", USAGE),
    ("zero lr", ["run", "fashion", "--set", "lr=0"], "lr", USAGE),
    ("string lr", ["run", "fashion", "--set", "lr=fast"], "lr", USAGE),
    ("float batch", ["run", "fashion", "--set", "batch_size=12.5"], "batch_size", USAGE),
    ("bool epochs", ["run", "fashion", "--set", "max_epochs=true"], "max_epochs", USAGE),
    ("burn-in past cap", ["run", "fashion", "--set", "min_epochs=9", "--set", "max_epochs=3"],
     "min_epochs", USAGE),
    ("val fraction 1", ["run", "fashion", "--set", "val_fraction=1"], "val_fraction", USAGE),
    ("pad mass 0", ["run", "fashion", "--set", "pad_mass=0"], "pad_mass", USAGE),
    ("unknown method", ["run", "fashion", "--set", "method=magic"], "method", USAGE),
    ("unknown direction", ["run", "fashion", "--set", "consistency_direction=up"],
     "consistency_direction", USAGE),
    ("seed via set", ["run", "fashion", "--set", "seed=3"], "use --seeds", USAGE),
    ("pinned experiment", ["run", "fashion", "--set", "experiment=mnist"], "experiment", USAGE),
    ("extras", ["run", "fashion", "--set", "extras=5"], "extras", USAGE),
    ("device tpu", ["run", "fashion", "--device", "tpu"], "device", USAGE),
    ("kd negative lr", ["run", "kd_hm", "--set", "lr=-1"], "lr", USAGE),
    ("kd toy infinite lam", ["run", "kd_toy_gaussian", "--set", "lam=Infinity"], "lam", USAGE),
    ("kd unknown field", ["run", "kd_table1", "--set", "widht=3"], "widht", USAGE),
    ("train bad method", ["train", "--method", "magic"], "method", USAGE),
    ("train two seeds", ["train", "--seed", "1-3"], "--seed takes one seed", USAGE),
    ("unknown page", ["plan", "--pages", "fig99"], "fig99", USAGE),
]
SEEDS = [("reversed", "3-1", "empty or reversed"), ("repeated", "1,1", "distinct"),
         ("letters", "x", "0-4"), ("negative", "-1", "0-4")]


def assert_clean_failure(code: int, expected: int, err: str, culprit: str, cache: Path) -> None:
    assert code == expected, (code, err)
    assert culprit in err, err
    assert "Traceback" not in err, err
    assert not list((cache / "results").rglob("*.json")) if (cache / "results").exists() else True


@pytest.mark.parametrize("argv,culprit,code", [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_command_line(argv, culprit, code, capsys, tmp_path):
    assert_clean_failure(main(argv), code, capsys.readouterr().err, culprit, tmp_path / "cache")


@pytest.mark.parametrize("text,culprit", [s[1:] for s in SEEDS], ids=[s[0] for s in SEEDS])
def test_seed_lists(text, culprit, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["run", "fashion", "--seeds", text])
    assert_clean_failure(stop.value.code, USAGE, capsys.readouterr().err, culprit,
                         tmp_path / "cache")


PAGE = [("seeds as a string", {"seeds": "12"}), ("float seed", {"seeds": [3.7]}),
        ("bool seed", {"seeds": [True]}), ("seeds x", {"seeds": "x"}),
        ("repeated seeds", {"seeds": [1, 1]}), ("unknown preset", {"preset": "huge"})]


@pytest.mark.parametrize("params", [p[1] for p in PAGE], ids=[p[0] for p in PAGE])
def test_page_parameters(params):
    render = load_script("render_notebook")
    with pytest.raises(render.ParameterError) as err:
        render.validate_parameters({"preset": "quick", **params},
                                   ["preset", "seeds", "device", "data_root"], "fig3")
    assert next(iter(params)) in str(err.value)


def _corrupt(root: Path, how: str) -> str:
    """Damage the Fashion-MNIST training images; returns the file's name."""
    path = root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    if how == "truncated":
        path.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    elif how == "not gzip":
        path.write_bytes(b"this is not a gzip file")
    elif how == "wrong magic":
        path.write_bytes(gzip.compress(b"\x00\x00\x0b\x09" + raw[4:]))
    elif how == "missing":
        path.unlink()
    return path.name


@pytest.mark.parametrize("how", ["truncated", "not gzip", "wrong magic", "missing"])
def test_data_files(how, tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    write_mnist_family(root, per_class=4, test_per_class=2)
    name = _corrupt(root, how)
    monkeypatch.setenv("LGM_DATA", str(root))
    code = main(SMOKE)
    err = capsys.readouterr().err
    assert code in (DATA, USAGE), err
    assert_clean_failure(code, code, err, name.split(".")[0], tmp_path / "cache")


def test_cache_path_is_a_file(tmp_path, fake_data_root, monkeypatch, capsys):
    (tmp_path / "blocker").write_text("")
    monkeypatch.setenv("LGM_CACHE", str(tmp_path / "blocker"))
    monkeypatch.setenv("LGM_DATA", str(fake_data_root))
    code = main(SMOKE)
    assert_clean_failure(code, STORAGE, capsys.readouterr().err, "blocker", tmp_path / "x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_cache(tmp_path, fake_data_root, monkeypatch, capsys):
    cache = tmp_path / "ro"
    cache.mkdir()
    cache.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("LGM_CACHE", str(cache))
    monkeypatch.setenv("LGM_DATA", str(fake_data_root))
    try:
        assert_clean_failure(main(SMOKE), STORAGE, capsys.readouterr().err, str(cache), cache)
    finally:
        cache.chmod(stat.S_IRWXU)


def test_out_under_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    code = main(["run", "kd_hm", "--out", str(tmp_path / "f" / "r.json")])
    assert_clean_failure(code, USAGE, capsys.readouterr().err, "is a file", tmp_path / "cache")


def test_the_catalogue_is_large_enough():
    assert len(CLI) + len(SEEDS) + len(PAGE) + 4 + 3 >= 30


def test_a_page_run_by_papermill_directly_refuses_unknown_or_bad_parameters(monkeypatch):
    """papermill -p bogus 1 / -p seed '[3]' on a page: the injected cell's names are checked
    against the page's parameters cell inside the kernel (begin), as the renderer checks them."""
    from types import SimpleNamespace

    import IPython

    from lgm.report import parameters

    assert parameters.page_parameters("fig3")[:4] == ["preset", "seeds", "device", "data_root"]
    history = ["", "# Parameters\nbogus = 1\n", "import x"]
    assert parameters.injected(history, {"bogus": 1}) == {"bogus": 1}
    for source, ns, culprit in (("# Parameters\nbogus = 1\n", {"bogus": 1}, "bogus"),
                                ("# Parameters\nseed = [3]\n", {"seed": [3]}, "seed"),
                                ("# Parameters\nseeds = '[3]'\n", {"seeds": "[3]"}, "seeds"),
                                ("# Parameters\npreset = 'big'\n", {"preset": "big"}, "preset")):
        shell = SimpleNamespace(user_ns={"In": ["", source], **ns})
        monkeypatch.setattr(IPython, "get_ipython", lambda shell=shell: shell)
        with pytest.raises(parameters.ParameterError, match=culprit):
            parameters.check_injected("fig3")
    fine = SimpleNamespace(user_ns={"In": ["", "# Parameters\npreset = 'smoke'\n"],
                                    "preset": "smoke"})
    monkeypatch.setattr(IPython, "get_ipython", lambda: fine)
    parameters.check_injected("fig3")  # a declared, valid parameter passes
