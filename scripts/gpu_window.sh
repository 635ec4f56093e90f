#!/usr/bin/env bash
# The one script a GPU window runs (issue 13): every benchmark of benchmarks/ in a few
# minutes, then the paper-preset grid with the rest of the window; logs and results under $OUT.
#
#   1. here, before the window (needs the package registry and ../shared/data):
#        scripts/gpu_window.sh prep
#      puts the Python packages the device lacks into .whl/ (pydantic and its parts; POT
#      without its 170 MB bsp module) and the MNIST-family data into data/ (both ignored by
#      git, so they travel as `carry`), and prints the size that will travel (limit 64 MiB).
#   2. through the device tool, one call:
#        run(command="bash scripts/gpu_window.sh", carry=[".whl", "data"], timeout_s=600)
#      A second call on the still-warm machine continues the grid in the same cache:
#        run(command="GPU_WINDOW_BENCH=0 GPU_WINDOW_S=<s left> bash scripts/gpu_window.sh", ...)
#   3. here, after it:
#        scripts/gpu_window.sh unpack <files_at>
#      extracts results.tgz into the local cache (runs/) and lists what
#      scripts/commit_results.py would copy into results/ (then commit with a results/README
#      line: device, date, commit, wall time, from env.txt and grid.log).
#
# Environment (run mode): GPU_WINDOW_S (seconds this command may take, default 560: the device
# tool stops a command at 600), GPU_WINDOW_BENCH (1: run the benchmarks, default), GPU_WINDOW_
# BENCH_S (their share, default 210), GPU_WINDOW_SMOKE=1 (the CPU rehearsal: tiny benchmarks,
# --preset smoke, two small pages, device cpu), PYTHON (default python3), LGM_DATA (default
# ./data when present), LGM_CACHE (default /tmp/lgm-window-cache: a second call continues), OUT
# (default: a new temporary folder).
set -u -o pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
MODE=${1:-run}

lock_version() {  # the version requirements.lock pins for a package
  grep -i -E "^$1==" requirements.lock | head -1 | cut -d= -f3
}

download() {  # <folder> <package==version>: a wheel for the device's CPython 3.12
  ${PIP:-$PYTHON -m pip} download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$1" "$2" \
    || { echo "prep: cannot download $2" >&2; exit 1; }
}

prep() {
  mkdir -p .whl
  for n in pydantic pydantic_core annotated-types typing-inspection typing_extensions; do
    download .whl "$n==$(lock_version "$n")"
  done
  if [ "${GPU_WINDOW_POT:-1}" = 1 ] && ! ls .whl/pot-*.whl >/dev/null 2>&1; then
    local tmp; tmp=$(mktemp -d)
    download "$tmp" "pot==$(lock_version pot)"
    "$PYTHON" - "$tmp"/pot-*.whl .whl <<'EOF'
"""Repack POT without ot/bsp's 170 MB extension (a stub raises if it is used; lgm uses ot.emd2)."""
import base64, hashlib, sys, zipfile
from pathlib import Path
src, dest = Path(sys.argv[1]), Path(sys.argv[2]) / Path(sys.argv[1]).name
stub = (b"def bsp_solve_c(*a, **k):\n    raise ImportError('ot.bsp left out by gpu_window.sh prep')\n"
        b"merge_bijections_c = bsp_solve_c\n")
digest = base64.urlsafe_b64encode(hashlib.sha256(stub).digest()).rstrip(b"=").decode()
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        if item.filename.startswith("ot/bsp/bsp_wrap") and item.filename.endswith(".so"):
            continue
        data = zin.read(item.filename)
        if item.filename.endswith(".dist-info/RECORD"):
            lines = [ln for ln in data.decode().splitlines() if not ln.startswith("ot/bsp/bsp_wrap")]
            lines.insert(0, f"ot/bsp/bsp_wrap.py,sha256={digest},{len(stub)}")
            data = ("\n".join(lines) + "\n").encode()
        zout.writestr(item, data)
    zout.writestr("ot/bsp/bsp_wrap.py", stub)
print(f"prep: {dest.name} repacked without ot/bsp ({dest.stat().st_size / 2**20:.1f} MiB)")
EOF
    rm -rf "$tmp"
  fi
  echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (dirty)')" > .whl/commit.txt
  local src=${GPU_WINDOW_DATA_SRC:-$ROOT/../shared/data}
  mkdir -p data
  cp -rn "$src"/. data/ || { echo "prep: cannot copy the data from $src" >&2; exit 1; }
  local tree; tree=$(git ls-files -z -co --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  local extra; extra=$(du -cb .whl data | tail -1 | cut -f1)
  echo "prep: .whl/ $(ls .whl/*.whl | wc -l) wheels; data/ $(du -sh data | cut -f1);" \
       "travels $(( (tree + extra) / 1048576 )) MiB of 64 MiB"
  [ $((tree + extra)) -lt $((64 * 1048576)) ] || { echo "prep: over 64 MiB: carry less" >&2; exit 1; }
  echo 'prep: now run(command="bash scripts/gpu_window.sh", carry=[".whl", "data"], timeout_s=600)'
}

unpack() {
  local from=${1:?usage: scripts/gpu_window.sh unpack <folder with results.tgz>}
  local cache=${LGM_CACHE:-$ROOT/runs}
  mkdir -p "$cache"
  ls "$from"/results.tgz* >/dev/null 2>&1 || { echo "unpack: no results.tgz in $from" >&2; exit 1; }
  cat "$from"/results.tgz* | tar xzf - -C "$cache"
  echo "unpack: results extracted into $cache/results"
  LGM_CACHE=$cache "$PYTHON" scripts/commit_results.py --dry-run
}

run() {
  local smoke=${GPU_WINDOW_SMOKE:-0}
  local total=${GPU_WINDOW_S:-560} start; start=$(date +%s)
  local out=${OUT:-$(mktemp -d /tmp/gpu-window-out.XXXX)}
  mkdir -p "$out"
  export LGM_CACHE=${LGM_CACHE:-/tmp/lgm-window-cache} LGM_PROGRESS=0 PYTHONUNBUFFERED=1
  if [ -z "${LGM_DATA:-}" ] && [ -d data ]; then export LGM_DATA=$ROOT/data; fi
  local site=/tmp/lgm-window-site
  if ls .whl/*.whl >/dev/null 2>&1 && ! "$PYTHON" -c "import pydantic" 2>/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$site" .whl/*.whl
  fi
  export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
  [ -d "$site" ] && PYTHONPATH=$PYTHONPATH:$site
  local device=cuda preset=paper tiny=() pages=() bench_s=${GPU_WINDOW_BENCH_S:-210}
  if [ "$smoke" = 1 ]; then
    device=cpu preset=smoke tiny=(--tiny --steps 2 --warmup 1 --vrnn-steps 1 --repeats 1
                                  --bf16-steps 3 --seeds 1 2)
    pages=(--pages kd_hm kd_bridge)
  fi
  left() { echo $(( total - ($(date +%s) - start) )); }
  {
    echo "gpu_window: $(date -u +%FT%TZ), preset $preset, device $device, ${total} s"
    echo "commit at prep: $(cat .whl/commit.txt 2>/dev/null || echo unknown)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    "$PYTHON" -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)"
    "$PYTHON" -c "import lgm.cli, pydantic; print('lgm imports; pydantic', pydantic.VERSION)"
    "$PYTHON" -c "import ot; print('POT', ot.__version__)" || echo "POT missing: the KD tables' EMD cannot be computed"
    echo "LGM_DATA=${LGM_DATA:-unset} LGM_CACHE=$LGM_CACHE"
  } 2>&1 | tee "$out/env.txt"

  if [ "${GPU_WINDOW_BENCH:-1}" = 1 ]; then
    local bench_end=$(( $(date +%s) + bench_s ))
    bench() {  # <share of what is left of the benchmark time, %> <script> <args...>
      local share=$1; shift
      local s=$(( (bench_end - $(date +%s)) * share / 100 ))
      if [ "$s" -lt 10 ]; then echo "== $* skipped: no benchmark time left"; return; fi
      echo "== $* (at most $s s)"
      timeout "$s" "$PYTHON" "$@" || echo "== exit $? (124: out of time)"
    }
    {
      local stacked=(--repeats 1 --steps 30)
      [ "$smoke" = 1 ] && stacked=(--repeats 1 --steps 2 --warmup 1 --seeds 1 2 --batch 8)
      bench 12 benchmarks/bench_stacked.py --device "$device" --arch dense "${stacked[@]}"
      bench 30 benchmarks/bench_steps.py --device "$device" --models conv --seeds 1 5 10 \
        --repeats 1 --graph --vmap "${tiny[@]}"
      bench 40 benchmarks/bench_steps.py --device "$device" --models conv --seeds 1 5 \
        --repeats 1 --channels-last --bf16 --cudnn-benchmark "${tiny[@]}"
      bench 50 benchmarks/bench_steps.py --device "$device" --models ladder --repeats 1 \
        --channels-last --bf16 --cudnn-benchmark --graph "${tiny[@]}"
      bench 70 benchmarks/bench_steps.py --device "$device" --models vrnn --repeats 1 --graph \
        --vrnn-steps 3 "${tiny[@]}"
      if [ $(( bench_end - $(date +%s) )) -ge 45 ]; then
        bench 100 benchmarks/bench_grid.py --preset smoke --device "$device" --pages kd_hm kd_bridge
      else echo "== bench_grid at smoke skipped: under 45 s of benchmark time left"; fi
    } 2>&1 | tee "$out/bench.log"
  fi

  # The grid: a unit starts only if its estimate fits the budget; `timeout` ends the one in
  # flight before the device tool would (finished units are in the cache already).
  local grid_s=$(( $(left) - 40 ))
  if [ "$grid_s" -gt 30 ]; then
    local budget; budget=$(awk "BEGIN { printf \"%.1f\", ($grid_s - 20) / 60 }")
    echo "== grid: preset $preset, budget $budget min, stopped after $grid_s s" | tee "$out/grid.log"
    timeout "$grid_s" "$PYTHON" benchmarks/bench_grid.py --preset "$preset" --device "$device" \
      --no-parts --budget-min "$budget" --cache "$LGM_CACHE" "${pages[@]}" 2>&1 | tee -a "$out/grid.log"
    echo "== grid exit ${PIPESTATUS[0]} (124: stopped at the window's end)" | tee -a "$out/grid.log"
  else
    echo "== grid skipped: $(left) s left" | tee "$out/grid.log"
  fi

  timeout 30 "$PYTHON" -m lgm plan --preset "$preset" ${pages[@]:+--pages $(IFS=,; echo "${pages[*]:1}")} \
    > "$out/plan.txt" 2>&1 || echo "plan: exit $?" >> "$out/plan.txt"
  if [ -d "$LGM_CACHE/results" ]; then
    tar czf "$out/results.tgz" -C "$LGM_CACHE" results
    local size; size=$(stat -c %s "$out/results.tgz")
    if [ "$size" -gt $((15 * 1048576)) ]; then  # the device tool returns files of <= 16 MiB
      split -b 15m -d "$out/results.tgz" "$out/results.tgz.part" && rm "$out/results.tgz"
    fi
  fi
  echo "gpu_window: done in $(( $(date +%s) - start )) s; files in $out: $(ls "$out" | tr '\n' ' ')"
}

case "$MODE" in
  prep) prep ;;
  unpack) shift; unpack "$@" ;;
  run) run ;;
  *) echo "usage: scripts/gpu_window.sh [run|prep|unpack <folder>]" >&2; exit 2 ;;
esac
