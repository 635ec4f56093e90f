"""Copy the paper-preset results of the local cache into ``results/``, ready to commit.

``make paper`` runs it after the grid: every result under ``$LGM_CACHE/results`` (default
``runs/results``) whose config or params say ``preset: paper`` is copied, with its ``.npz``,
to ``results/<experiment or group>/`` under the same name (the key), unless it is there
already. The cache serves ``results/`` first, so the book then shows these runs on any machine.
Commit the new files with a line in ``results/README.md`` (device, date, commit, wall time).

    python scripts/commit_results.py [--dry-run] [--preset paper]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lgm.experiments.cache import COMMITTED_RESULTS  # noqa: E402
from lgm.paths import cache_root  # noqa: E402


def preset_of(record: dict) -> str | None:
    """The preset a stored result was computed at (lifelong ``config``, KD ``params``)."""
    for part in ("config", "params"):
        if isinstance(record.get(part), dict) and "preset" in record[part]:
            return record[part]["preset"]
    return None


def destination(path: Path, record: dict, local: Path) -> Path:
    """``results/<group>/<name>``: the group is the cache sub-folder, or a lifelong run's
    experiment."""
    rel = path.relative_to(local)
    group = rel.parts[0] if len(rel.parts) > 1 else record["config"]["experiment"]
    return COMMITTED_RESULTS / group / path.name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    local = cache_root(create=False) / "results"
    copied = 0
    for path in sorted(local.rglob("*.json")) if local.exists() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or preset_of(record) != args.preset:
            continue
        target = destination(path, record, local)
        if target.exists():
            continue
        print(f"{path.relative_to(local)} -> {target}")
        copied += 1
        if not args.dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            for src in (path, path.with_suffix(".npz")):
                if src.exists():
                    shutil.copy2(src, target.with_suffix(src.suffix))
    print(f"{copied} result(s) {'to copy' if args.dry_run else 'copied'} into results/; "
          "commit them with a line in results/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
