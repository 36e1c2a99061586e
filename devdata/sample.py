"""Builds the bundled sample that `make run` lands without any network: a small synthetic snapshot (scale
0.001) merged with the real IMDb excerpts of tests/data/heads-2024 (real rows win on a key
clash), as day1, and its next day (1% change) as day2. Written once into sample_data/ and committed.

    python -m devdata.sample [--out sample_data] [--samples tests/data]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
from pathlib import Path

from core.config import REPO_ROOT, SAMPLE_DIR
from devdata import synth
from ingestion.datasets import DATASETS


def _lines(path: Path) -> tuple[str, list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="\n") as f:
        header, *rows = f.read().splitlines()
    return header, rows


def merge_real(synthetic_dir: Path, real_dir: Path, out_dir: Path) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for d in DATASETS.values():
        header, rows = _lines(synthetic_dir / d.file_name)
        width = len(d.key)
        by_key = {tuple(r.split("\t")[:width]): r for r in rows}
        real = real_dir / f"{d.name}.tsv"
        if real.is_file():
            by_key.update({tuple(r.split("\t")[:width]): r for r in _lines(real)[1]})
        # IMDb sorts its files as text by key
        merged = [by_key[k] for k in sorted(by_key)]
        with gzip.GzipFile(out_dir / d.file_name, "wb", mtime=0) as f:  # mtime 0: reproducible bytes
            f.write(("\n".join([header, *merged]) + "\n").encode("utf-8"))
        counts[d.name] = len(merged)
    return counts


def build(out: Path, samples: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        synth.generate(Path(tmp) / "synthetic", scale=0.001, seed=2026)
        print("day1", merge_real(Path(tmp) / "synthetic", samples / "heads-2024", out / "day1"))
    print("day2", synth.next_day(out / "day1", out / "day2", change_rate=0.01, seed=2027))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m devdata.sample", description=__doc__)
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR)
    parser.add_argument("--samples", type=Path, default=REPO_ROOT / "tests" / "data")
    args = parser.parse_args()
    build(args.out, args.samples)
