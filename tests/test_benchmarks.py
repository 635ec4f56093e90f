"""The benchmarks run at tiny sizes on the CPU and print their ratio lines.

Only the shape of the output is checked (rates depend on the machine): every row is measured
(none "failed"), the ratios against the plain loop, the base row and separate S=1 runs are
printed, and the flags that need a GPU say so. The grid mode runs the smoke plan of one small
page into private caches.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
RATE = re.compile(r"^\s*(.+?):\s+[\d,.e+]+ samples/s(.*)$")


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def bench_steps() -> ModuleType:
    return load("bench_steps")


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """The benchmarks set torch's thread count (``--tiny``: one thread) in this process; the
    tests after these must run with the count they started with."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def rows(text: str) -> dict[str, str]:
    """Row name -> what follows the rate (the ratios)."""
    return {m[1].strip(): m[2] for line in text.splitlines() if (m := RATE.match(line))}


TINY = ["--device", "cpu", "--tiny", "--steps", "1", "--warmup", "1", "--vrnn-steps", "1",
        "--repeats", "1"]


def test_conv_step_stacked_and_bf16(bench_steps: ModuleType, capsys: pytest.CaptureFixture
                                    ) -> None:
    assert bench_steps.main([*TINY, "--models", "conv", "--seeds", "1", "2", "--bf16",
                             "--bf16-steps", "1", "--graph", "--vmap"]) == 0
    out = capsys.readouterr().out
    assert "failed" not in out and "Error" not in out
    got = rows(out)
    assert set(got) == {f"{kind} S={s}{sfx}" for kind in ("lgm", "vmap") for s in (1, 2)
                        for sfx in ("", " +bf16")} | {"plain", "plain +bf16"}
    assert "vs plain" in got["lgm S=1"] and "vs 2 separate S=1 runs" in got["lgm S=2"]
    assert "vs lgm S=2" in got["vmap S=2"]
    assert "vs base" in got["lgm S=2 +bf16"] and "vs base" in got["plain +bf16"]
    assert "--graph: cuda only, skipped" in out
    assert re.search(r"\|mean bf16 - mean fp32\| = [\d.]+: (within|OUTSIDE) the seeds' spread",
                     out)


def test_ladder_and_vrnn_steps(bench_steps: ModuleType, capsys: pytest.CaptureFixture) -> None:
    assert bench_steps.main([*TINY, "--models", "ladder", "vrnn", "--channels-last",
                             "--cudnn-benchmark"]) == 0
    out = capsys.readouterr().out
    assert "failed" not in out and "Error" not in out
    got = rows(out)
    for case in ("teacher h=4 elbo", "student h=2 elbo", "distill h=4->2", "teacher 16 elbo",
                 "student 8 elbo", "distill 16->8"):
        assert "vs plain" in got[f"{case} lgm"], case
    assert "vs base" in got["teacher h=4 elbo lgm +cl"]
    assert not any(name.startswith("teacher 16") and "+cl" in name for name in got)  # no convs
    assert "--cudnn-benchmark: cuda only, skipped" in out


def test_grid_mode_smoke_one_page(capsys: pytest.CaptureFixture, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "no-data"))  # kd_hm reads packaged data
    assert load("bench_grid").main(["--preset", "smoke", "--pages", "kd_hm",
                                    "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\s+1\s+kd_hm\s+kd_hm\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M), out
    assert re.search(r"grid wall time [\d.]+ s", out)
    assert re.search(r"ratio: grid x[\d.]+ faster than its parts run one by one", out)


def test_bench_stacked_prints_its_gemm_ceiling_and_each_rate_share(capsys, monkeypatch):
    """bench_stacked at a tiny size: the GEMM ceiling of the step's own products is printed with
    its FLOP count, and every rate says its share of it."""
    import torch

    bench = load("bench_stacked")
    shapes = bench.gemm_shapes(128, 64, j=2)
    # teacher: 5 forward products on 64 rows; student: 7 products with backward on 128 rows
    assert len(shapes) == 12 and sum(grad for *_, grad in shapes) == 7
    assert bench.gemm_flops([(2, 3, 4, False), (2, 3, 4, True)]) == 2 * 24 + 6 * 24
    threads = torch.get_num_threads()
    monkeypatch.setattr(sys, "argv", ["bench_stacked.py", "--device", "cpu", "--seeds", "1", "2",
                                      "--steps", "2", "--warmup", "1", "--repeats", "1"])
    try:
        bench.main()
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "GEMM ceiling:" in out and "MFLOP/sample" in out
    rows = [m for line in out.splitlines() if (m := RATE.match(line))
            and "GEMM ceiling:" not in line]
    assert {r.group(1) for r in rows} == {"baseline", "lgm S=1", "lgm S=2"}
    assert all("of the GEMM ceiling" in r.group(2) for r in rows)
