"""Bring committed lifelong results to the current key scheme of :mod:`lgm.experiments.cache`.

For every ``results/<experiment>/*.json`` that holds a lifelong run it

1. rebuilds the run's :class:`~lgm.experiments.config.RunConfig` from the stored config
   (fields the current config no longer has must hold their old default, e.g. ``extras: {}``)
   and stores the current config's form;
2. stamps the current numerics fingerprint (``fingerprint``; :mod:`lgm.experiments.fingerprints`)
   and the data fingerprint of the data files found here (``data_fingerprint``), and rewrites
   the absolute data paths of the ``data`` line relative to the data root;
3. renames the JSON and its ``.npz`` to the current key (``cache.result_key``).

Only run it when the code that computed the results has the same numerics fingerprint as the
current code (checked by ``tests/test_store_fingerprint.py``) and the data here is the data the
results were computed from. It is idempotent: run it again after a change of the config's
fields or of the key scheme.

    python scripts/rekey_results.py [--dry-run] [results/fashion ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from lgm.experiments import cache
from lgm.experiments.config import RunConfig

OLD_DEFAULTS: dict[str, Any] = {"extras": {}}  # fields removed since, with their old default
NOTE = ("re-keyed by scripts/rekey_results.py: the numerics fingerprint of the code that "
        "computed it (commit 25231c6 and before, code version d12bf78fdbb4) equals the "
        "current code's; data fingerprint of the Fashion-MNIST files it was computed from")


def rebuild_config(stored: dict[str, Any]) -> RunConfig:
    """The current RunConfig of a stored config (removed fields must hold their old default)."""
    fields = set(RunConfig.model_fields)
    dropped = {k: v for k, v in stored.items() if k not in fields}
    for k, v in dropped.items():
        if k not in OLD_DEFAULTS or OLD_DEFAULTS[k] != v:
            raise SystemExit(f"stored field {k}={v!r} has no place in the current RunConfig")
    return RunConfig(**{k: v for k, v in stored.items() if k in fields})


def relative_data_line(line: str, files: list[dict[str, Any]]) -> str:
    """The ``data`` line with every absolute path of a data file made relative to its root."""
    for f in files:
        line = re.sub(rf"(?<![\w.-])/\S*?/{re.escape(f['path'])}", f["path"], line)
    return line


def rekey(path: Path, dry_run: bool) -> Path | None:
    """Re-key one result file; returns its new path (None: not a lifelong run result)."""
    record = json.loads(path.read_text())
    if not isinstance(record, dict) or "config" not in record or "tasks" not in record:
        return None
    cfg = rebuild_config(record["config"])
    fp = cache.data_fingerprint(cfg)
    if fp is None:
        raise SystemExit(f"{path}: the data of experiment {cfg.experiment} is not at hand "
                         "(set LGM_DATA): its fingerprint cannot be recorded")
    record["config"] = cfg.to_dict()
    record["config_key"] = cache.params_hash(cache.config_params(cfg), 16)
    record["fingerprint"] = cache.entry_fingerprint(cache.LIFELONG_ENTRY)
    record["fingerprint_entry"] = cache.LIFELONG_ENTRY
    record["data_fingerprint"] = fp.to_dict()
    record["data"] = relative_data_line(record.get("data", ""), fp.to_dict()["files"])
    old_version = record.pop("code_version", None)
    old_note = record.pop("code_version_note", None)
    if old_version is not None:
        record["history"] = [n for n in (old_note, f"code version {old_version}; {NOTE}") if n]
    new = path.with_name(f"{cache.result_key(cfg, fp)}.json")
    if record.get("arrays_file"):
        old_npz = path.with_name(record["arrays_file"])
        record["arrays_file"] = new.with_suffix(".npz").name
    print(f"{path.name} -> {new.name}")
    if dry_run:
        return new
    blob = cache.strict_json(record, f"result {new.name}")
    if record.get("arrays_file") and old_npz != new.with_suffix(".npz"):
        old_npz.rename(new.with_suffix(".npz"))
    new.write_bytes(blob)
    if new != path:
        path.unlink()
    return new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path,
                        default=sorted(p for p in cache.COMMITTED_RESULTS.iterdir() if p.is_dir()))
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    for folder in args.folders:
        for path in sorted(folder.glob("*.json")):
            rekey(path, args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
