"""Nothing absurd is ever stored: finite blow-ups, bad labels, broken checkpoints,
a second writer, stale temporary files, and what ``scripts/commit_results.py`` lands.

Each case: the documented exit code (or the named error), a one-line message naming the
culprit, and nothing stored.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import load_script

from lgm.cli import EXIT_CODES, main
from lgm.errors import DivergedError
from lgm.experiments import bounds, cache
from lgm.experiments.cache import cached_run, checkpoint_dir, data_fingerprint, serves
from lgm.experiments.lifelong import checkpoint_meta, run, stack_key
from lgm.experiments.registry import get
from lgm.experiments.spec import make_config
from lgm.paths import HOST, STALE_TMP_S, write_bytes_atomic
from lgm.training.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    checkpoint_code,
    load_checkpoint,
    save_checkpoint,
)
from tests.conftest import tiny_sequence, write_mnist_family
from tests.test_training import small_cfg

ROOT = Path(__file__).resolve().parent.parent
CODE = "numbers-of-this-code"  # the tag the cache gives checkpoints (a fingerprint hash)
USAGE, DIVERGED, CHECKPOINT = EXIT_CODES["usage"], EXIT_CODES["diverged"], EXIT_CODES["checkpoint"]
SMOKE = ["--preset", "smoke", "--seeds", "0", "--set", "classifier_epochs=0"]


def stored(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "results").rglob("*.json")) if (cache_dir / "results").exists() \
        else []


def one_line_failure(code: int, expected: int, err: str, *culprits: str) -> None:
    assert code == expected, (code, err)
    lines = [line for line in err.splitlines() if line.startswith("lgm: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for culprit in culprits:
        assert culprit in lines[0], (culprit, lines[0])


@pytest.fixture
def data(fake_data_root, monkeypatch):
    monkeypatch.setenv("LGM_DATA", str(fake_data_root))
    return fake_data_root


# ------------------------------------------------------------------ divergence bounds


def test_a_divergence_says_what_diverged_and_what_was_kept():
    err = DivergedError("loss is nan at step 3", "training step", "the checkpoint after task 1")
    assert str(err) == "loss is nan at step 3 [training step diverged; kept: the checkpoint " \
                       "after task 1]"
    assert str(pickle.loads(pickle.dumps(err))) == str(err)  # crosses processes (ray) intact


@pytest.mark.parametrize("family", sorted(bounds.BOUNDS))
def test_each_family_has_a_bound_that_a_blow_up_leaves(family):
    limit = bounds.bound_for(family).limit
    sound = {"metrics": {"ours": {"nll_data": 0.5 * limit, "kl_teacher": 1.0,
                                  "kl_teacher_se": 10 * limit}},
             "tasks": [{"neg_elbo": 0.9 * limit, "training": {"terms": {"loss": 1e30}}}]}
    bounds.check_result(sound, family, "x")  # standard errors and undone epochs: not checked
    for path, blown in (("metrics.ours.kl_teacher", {"metrics": {"ours": {"kl_teacher": 1e22}}}),
                        ("tasks[1].neg_elbo", {"tasks": [{"neg_elbo": 1.0},
                                                         {"neg_elbo": 3 * limit}]})):
        with pytest.raises(DivergedError, match=re.escape(f"{family}: {path} =")):
            bounds.check_result(blown, family, family)


def test_the_bernoulli_bound_is_a_thousand_trivial_models():
    assert bounds.bound_for("fashion").limit == pytest.approx(1000 * 784 * 0.6931, rel=1e-4)


def test_committed_results_are_within_their_bounds():
    for path in sorted(cache.COMMITTED_RESULTS.rglob("*.json")):
        record = json.loads(path.read_text())
        family = record.get("config", {}).get("experiment", path.parent.name)
        assert bounds.diverged(record, family) is None, path


def test_a_finite_blow_up_of_a_lifelong_run_exits_4_and_stores_nothing(data, tmp_path, capsys):
    code = main(["run", "fashion", *SMOKE, "--set", "lr=0.03", "--set", "num_tasks=3",
                 "--set", "max_epochs=3"])
    one_line_failure(code, DIVERGED, capsys.readouterr().err, "fashion lifelong seed 0",
                     "divergence bound", "kept: nothing")
    assert stored(tmp_path / "cache") == []


@pytest.mark.parametrize("argv,culprit", [
    (["run", "kd_hm", "--preset", "smoke", "--set", "lr=1e6"], "kd_hm/kd_hm-seed0-smoke"),
    (["run", "kd_toy_gaussian", "--preset", "smoke", "--set", "lr=1e3"], "non-finite"),
], ids=["kd_hm", "kd_toy"])
def test_kd_and_toy_blow_ups_exit_4_and_store_nothing(argv, culprit, tmp_path, capsys):
    one_line_failure(main(argv), DIVERGED, capsys.readouterr().err, culprit)
    assert stored(tmp_path / "cache") == []


def test_a_stored_blow_up_is_not_served(data, tmp_path):
    cfg = small_cfg(method="vanilla", num_tasks=1)
    path = cache.result_paths(cfg)[1]
    cache.save_result(path, {"config": cfg.to_dict(), "tasks": [{"neg_elbo": 1e12}],
                             "provenance": {}, "data_fingerprint": data_fingerprint(cfg).to_dict(),
                             "fingerprint": cache.entry_fingerprint(cache.LIFELONG_ENTRY)})
    with pytest.warns(UserWarning, match="diverged result"):
        assert cache.lookup(cfg) is None


# ------------------------------------------------------------------ data checks


def test_labels_outside_the_classes_are_named(tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    write_mnist_family(root, per_class=6, test_per_class=2)
    path = root / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[8:58] = bytes([200]) * 50  # the first 50 labels (after the 8-byte header)
    path.write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setenv("LGM_DATA", str(root))
    code = main(["run", "fashion", *SMOKE])
    one_line_failure(code, USAGE, capsys.readouterr().err, "train-labels-idx1-ubyte.gz",
                     "outside 0..9", "index 0 (200)")
    assert stored(tmp_path / "cache") == []


def test_images_of_the_wrong_size_are_named(tmp_path, monkeypatch, capsys):
    import numpy as np

    from lgm.data.idx import write_idx

    root = tmp_path / "data"
    write_mnist_family(root, per_class=4, test_per_class=2)
    write_idx(root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz",
              np.zeros((40, 27, 28), dtype=np.uint8))
    monkeypatch.setenv("LGM_DATA", str(root))
    one_line_failure(main(["run", "fashion", *SMOKE]), USAGE, capsys.readouterr().err,
                     "train-images-idx3-ubyte.gz", "28x28")


# ------------------------------------------------------------------ checkpoints


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory):
    """A lifelong run's checkpoint after 2 of 3 tasks (tiny data), and its config."""
    folder = tmp_path_factory.mktemp("ckpt")
    cfg = small_cfg(method="lifelong", num_tasks=3)
    with checkpoint_code(CODE):
        run(cfg, tasks=tiny_sequence(), checkpoint_dir=folder, stop_after=2)
    return cfg, (folder / "last.pt").read_bytes()


def _outer(blob: bytes) -> dict:
    return torch.load(io.BytesIO(blob), weights_only=False)


def _state(blob: bytes) -> dict:
    return torch.load(io.BytesIO(_outer(blob)["payload"]), weights_only=False)


def _resave(path: Path, state: dict, cfg, tasks: int = 3) -> None:
    with checkpoint_code(CODE):
        save_checkpoint(path, state, checkpoint_meta([cfg], tasks))


def _cut_records(state):
    state["records"] = [r[:1] for r in state["records"]]  # the final model is kept


def _wrong_shape(state):
    key = next(k for k, v in state["model"].items() if v.dim() == 2)
    state["model"][key] = torch.zeros(3, 3)


def _missing_key(state):
    state["model"].pop(next(iter(state["model"])))


def _extra_key(state):
    state["model"]["surplus.weight"] = torch.zeros(1)


def _no_codes(state):
    del state["discrete"]


def _wrong_codes(state):
    state["discrete"] += 2


TAMPER = [("records cut to one task", _cut_records, "discrete codes"),
          ("tensor of the wrong shape", _wrong_shape, "does not fit the model (size mismatch"),
          ("missing key", _missing_key, "does not fit the model (Missing key"),
          ("extra key", _extra_key, "does not fit the model (Unexpected key"),
          ("no number of codes", _no_codes, "lacks the entry 'discrete'"),
          ("wrong number of codes", _wrong_codes, "discrete codes")]


@pytest.mark.parametrize("change,culprit", [t[1:] for t in TAMPER], ids=[t[0] for t in TAMPER])
def test_a_damaged_checkpoint_is_named_in_one_line(two_tasks, change, culprit, tmp_path):
    cfg, blob = two_tasks
    state = _state(blob)
    change(state)
    _resave(tmp_path / "last.pt", state, cfg)
    with pytest.raises(CheckpointError) as err, checkpoint_code(CODE):
        run(cfg, tasks=tiny_sequence(), checkpoint_dir=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "last.pt") in message and culprit in message, message
    assert "\n" not in message and "--fresh" in message


def test_a_checkpoint_carries_its_key_code_and_task_count(two_tasks, tmp_path):
    cfg, blob = two_tasks
    path = tmp_path / "last.pt"
    outer = _outer(blob)
    assert outer["meta"]["config_key"] == stack_key([cfg]) and outer["meta"]["code"] == CODE
    assert outer["meta"]["num_tasks"] == 3 and outer["tasks_done"] == 2
    cases = [("damaged (its contents", {**outer, "payload": outer["payload"][:-9] + b"x" * 9}),
             ("numerics fingerprint changed", {**outer, "meta": {**outer["meta"], "code": "0"}}),
             ("run of 5 tasks", {**outer, "meta": {**outer["meta"], "num_tasks": 5}}),
             ("another configuration", {**outer, "meta": {**outer["meta"], "config_key": "x"}}),
             ("1 task record(s) where it says 2", None)]
    for culprit, record in cases:
        if record is None:  # records cut, the checksum recomputed, the count left as it was
            state = _state(blob)
            _cut_records(state)
            inner = io.BytesIO()
            torch.save(state, inner)

            record = {**outer, "payload": inner.getvalue(),
                      "sha256": hashlib.sha256(inner.getvalue()).hexdigest()}
        buffer = io.BytesIO()
        torch.save(record, buffer)
        path.write_bytes(buffer.getvalue())
        meta = CheckpointMeta(stack_key([cfg]), CODE, 3)
        with pytest.raises(CheckpointError, match=re.escape(culprit)):
            load_checkpoint(path, meta)


def test_a_checkpoint_of_code_with_other_numbers_is_not_resumed(two_tasks, tmp_path):
    cfg, blob = two_tasks
    (tmp_path / "last.pt").write_bytes(blob)
    with pytest.raises(CheckpointError, match="numerics fingerprint changed"), \
            checkpoint_code("other numbers"):
        run(cfg, tasks=tiny_sequence(), checkpoint_dir=tmp_path)
    with checkpoint_code(CODE):  # the same code resumes it
        assert len(run(cfg, tasks=tiny_sequence(), checkpoint_dir=tmp_path)["tasks"]) == 3


def test_a_first_format_checkpoint_with_cut_records_is_refused(two_tasks, tmp_path):
    cfg, blob = two_tasks
    state = _state(blob)
    _cut_records(state)
    torch.save(state, tmp_path / "last.pt")  # the old format: a bare state
    with pytest.raises(CheckpointError, match="1 finished task"):
        run(cfg, tasks=tiny_sequence(), checkpoint_dir=tmp_path)


def test_a_broken_checkpoint_exits_6_and_fresh_discards_it(data, tmp_path, capsys):
    cfg = make_config(get("fashion"), "smoke", seeds=[0], classifier_epochs=0).runs()[0]
    path = checkpoint_dir([cfg], data_fingerprint(cfg)) / "last.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a checkpoint")
    one_line_failure(main(["run", "fashion", *SMOKE]), CHECKPOINT, capsys.readouterr().err,
                     str(path), "corrupt", "--fresh")
    assert stored(tmp_path / "cache") == []
    assert main(["run", "fashion", *SMOKE, "--fresh"]) == 0
    assert len(stored(tmp_path / "cache")) == 1


def test_grid_names_a_broken_checkpoint_and_fresh_discards_it(data, tmp_path, capsys):
    from lgm.experiments.plan import make_plan

    units, _ = make_plan("smoke", ["fig6"])
    runs = units[0].cfg.runs()
    path = checkpoint_dir(runs, data_fingerprint(runs[0])) / "last.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a checkpoint")
    grid = ["grid", "--preset", "smoke", "--pages", "fig6"]
    one_line_failure(main(grid), CHECKPOINT, capsys.readouterr().err, str(path), "--fresh")
    assert stored(tmp_path / "cache") == []
    assert main([*grid, "--fresh"]) == 0
    assert len(stored(tmp_path / "cache")) == len(runs)


# ------------------------------------------------------------------ command line


@pytest.mark.parametrize("field,flag", [("preset", "--preset"), ("seeds", "--seeds")])
def test_preset_and_seeds_through_set_point_to_their_flag(field, flag, tmp_path, capsys):
    code = main(["run", "kd_hm", "--set", f"{field}=paper"])
    one_line_failure(code, USAGE, capsys.readouterr().err, field, f"use {flag}")


# ------------------------------------------------------------------ temporary files


def test_stale_temporary_files_go_at_the_next_write(tmp_path):
    target = tmp_path / "r.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    killed = tmp_path / f".r.json.{HOST}-{dead}.abc.tmp"     # its writer is gone
    ancient = tmp_path / ".r.json.k2j3.tmp"                     # the old naming, hours old
    live = tmp_path / f".r.json.{HOST}-{os.getpid()}.def.tmp"  # a writer still running
    other = tmp_path / f".other.json.{HOST}-{dead}.ghi.tmp"     # another key's
    for f in (killed, ancient, live, other):
        f.write_text("partial")
    os.utime(ancient, (time.time() - 2 * STALE_TMP_S,) * 2)
    write_bytes_atomic(target, b"{}", "result")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, other.name, target.name])


# ------------------------------------------------------------------ display settings


@pytest.mark.filterwarnings("error")  # siblings that may not serve are passed over quietly
def test_a_run_with_more_visuals_serves_a_request_for_fewer(data, tmp_path):
    exp = get("fashion")
    rich = make_config(exp, "smoke", seeds=[0], classifier_epochs=0, visuals=2).runs()[0]
    first = cached_run(rich)
    assert first["cache"] == "computed"
    for fewer in (0, 1, 2):
        asked = rich.model_copy(update={"visuals": fewer})
        assert cached_run(asked, compute=False)["tasks"] == first["tasks"]
    with pytest.raises(LookupError):
        cached_run(rich.model_copy(update={"visuals": 3}), compute=False)
    with pytest.raises(LookupError):
        cached_run(rich.model_copy(update={"lr": rich.lr * 2, "visuals": 0}), compute=False)


def test_serves_ignores_only_what_is_kept_for_display():
    assert serves({"visuals": 8, "lr": 1}, {"visuals": 0, "lr": 1})
    assert not serves({"visuals": 0, "lr": 1}, {"visuals": 8, "lr": 1})
    assert not serves({"visuals": 8, "lr": 1}, {"visuals": 0, "lr": 2})


# ------------------------------------------------------------------ landing results


def test_commit_results_lands_sound_results_with_provenance_and_refuses_the_rest(
        tmp_path, monkeypatch, capsys):
    assert main(["run", "kd_hm", "--preset", "smoke"]) == 0
    local = tmp_path / "cache" / "results"
    good = next((local / "kd_hm").glob("kd_hm-seed0-smoke-*.json"))
    record = json.loads(good.read_text())
    nan = local / "kd_hm" / "kd_hm-seed1-smoke-000000000000.json"
    nan.write_text(good.read_text().replace(str(record["metrics"]["ours"]["nll_data"]), "NaN"))
    renamed = local / "kd_hm" / "kd_hm-seed2-smoke-111111111111.json"
    renamed.write_text(good.read_text())
    for copy in (nan, renamed):
        copy.with_suffix(".npz").write_bytes(good.with_suffix(".npz").read_bytes())
    blown = json.loads(good.read_text())
    blown["metrics"]["ours"]["kl_teacher"] = 1.16e22
    blown_path = local / "kd_hm" / f"kd_hm-seed0-smoke-{cache.params_hash(blown['params'])}.json"
    committed = tmp_path / "results"
    committed.mkdir()
    (committed / "README.md").write_text("# Committed results\n\nkept text\n")
    mod = load_script("commit_results")
    monkeypatch.setattr(mod, "COMMITTED_RESULTS", committed)
    assert mod.main(["--preset", "smoke"]) == 1  # something was refused
    err = capsys.readouterr().err
    assert f"refused kd_hm/{nan.name}" in err and "non-standard JSON number NaN" in err
    assert f"refused kd_hm/{renamed.name}: it is filed under another key" in err
    landed = sorted(p.name for p in (committed / "kd_hm").iterdir())
    assert landed == [good.name, good.with_suffix(".npz").name]
    readme = (committed / "README.md").read_text()
    assert readme.startswith("# Committed results\n\nkept text\n")
    assert f"| `kd_hm/{good.name}` | cpu (1 threads" in readme
    # a diverged entry under its own key is refused too
    blown_path.parent.mkdir(parents=True, exist_ok=True)
    good.unlink()
    blown_path.write_text(json.dumps(blown))
    assert mod.main(["--preset", "smoke"]) == 1
    assert "diverged result (metrics.ours.kl_teacher = 1.16e+22)" in capsys.readouterr().err


# ------------------------------------------------------------------ a second writer


def _race(tmp_path: Path, local_first: bool) -> tuple[str, str]:
    """A Ray grid of page kd_hm and a local run of kd_hm on one cache; their stderr."""
    env = {**os.environ, "LGM_CACHE": str(tmp_path / "cache"), "LGM_PROGRESS": "0",
           "OMP_NUM_THREADS": "1", "RAY_AUTH_MODE": "disabled"}
    local = [sys.executable, "-m", "lgm", "run", "kd_hm", "--preset", "smoke"]
    grid = subprocess.Popen([sys.executable, "-m", "lgm", "grid", "--preset", "smoke",
                             "--pages", "kd_hm", "--backend", "ray"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    if local_first:  # the timing: Ray takes seconds to start, the run does not
        time.sleep(0.5)
        done = subprocess.run(local, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=240)
    else:  # the grid holds the unit's keys and its worker computes: the run must wait
        for line in grid.stderr:
            seen.append(line)
            if "dispatched to Ray" in line or "Traceback" in line:
                break
        done = subprocess.run(local, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=240)
    rest = grid.communicate(timeout=240)[1]
    grid_err = "".join(seen) + rest
    assert done.returncode == 0 and grid.returncode == 0, (done.stderr, grid_err)
    files = stored(tmp_path / "cache")
    assert len(files) == 2  # the seed's result and the experiment's completion record
    return done.stderr, grid_err


@pytest.mark.parametrize("local_first", [False, True], ids=["ray first", "local first"])
def test_a_ray_grid_and_a_local_run_compute_each_key_once(local_first, tmp_path):
    pytest.importorskip("ray")
    local_err, grid_err = _race(tmp_path, local_first)
    written = re.search(r"done on Ray \((\d+) result files", grid_err)
    ray_computed = written is not None and int(written.group(1)) > 0
    local_computed = "seed 0: computed" in local_err
    assert ray_computed != local_computed, (local_err, grid_err)  # exactly one computed
    if local_first:
        assert local_computed, local_err
        assert ("computed by another process; not dispatched" in grid_err
                or "grid: 0 of 0 missing units" in grid_err), grid_err
    else:
        assert ray_computed and "seed 0: hit" in local_err, (local_err, grid_err)
        assert "waiting for another process computing experiments-kd_hm" in local_err
