"""`make bench` draws its chart: stage times beside the DuckDB and gzip baselines, one panel per scale, committed
as an image that BENCHMARKS.md shows."""

from __future__ import annotations

import json
import shutil
import struct
import sys
from pathlib import Path

import pytest

from core.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))  # bench/ holds scripts, not a package
import chart  # noqa: E402
import run as bench_run  # noqa: E402


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def report(scale: float, day1: float, day2: float) -> dict:
    stages = [
        ("baseline: gzip -dc (day 1 inputs)", 1.0),
        ("baseline: DuckDB KPI from TSV.gz (day 1)", 2.0),
        ("day 1: landing", day1),
        ("day 1: dbt build +actor_actress_kpis", day1),
        ("day 1: publish", 1.0),
        ("day 2 (1% change): landing", day2),
        ("day 2 (1% change): dbt build +actor_actress_kpis", day2),
        ("day 2 (1% change): publish", 1.0),
    ]
    return {
        "scale": scale,
        "measured_at": "2026-01-01T00:00:00+00:00",
        "machine": "2 cores",
        "rows_day1": {"title.basics": 10},
        "stages": [{"stage": s, "seconds": v, "peak_mb": 100} for s, v in stages],
        "first_day_seconds": 2 * day1 + 1,
        "next_day_seconds": 2 * day2 + 1,
        "ratios": {"first_day_vs_duckdb": 1.0, "next_day_vs_first_day": 1.0, "next_day_dbt_vs_first_day_dbt": 1.0},
    }


def test_each_day_is_split_by_stage_beside_the_two_baselines():
    bars = dict(chart.bars(report(0.1, 30.0, 40.0)))
    assert bars["gzip -dc (day 1 inputs)"] == [("baseline", 1.0)]
    assert bars["DuckDB KPI from TSV.gz (day 1)"] == [("baseline", 2.0)]
    assert bars["day 1"] == [("landing", 30.0), ("dbt build", 30.0), ("publish", 1.0)]
    assert bars["day 2 (1% change)"] == [("landing", 40.0), ("dbt build", 40.0), ("publish", 1.0)]


def test_one_panel_per_scale_measured(tmp_path: Path):
    for scale in (0.01, 1.0):
        (tmp_path / f"bench-{scale:g}.json").write_text(json.dumps(report(scale, 10.0 * scale, 20.0 * scale)))
    (tmp_path / "bench-api.json").write_text(json.dumps({"connections": 16}))  # another benchmark: left out
    one = chart.render(tmp_path, tmp_path / "one.png")
    (tmp_path / "bench-0.1.json").write_text(json.dumps(report(0.1, 1.0, 2.0)))
    three = chart.render(tmp_path, tmp_path / "three.png")
    (w1, h1), (w3, h3) = png_size(one), png_size(three)
    assert w1 == w3 and h3 > h1  # a third panel below the other two


def test_a_bench_run_redraws_the_chart_that_benchmarks_md_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    results = tmp_path / "results"
    shutil.copytree(REPO_ROOT / "bench" / "results", results)
    (results / "stages.png").unlink()
    monkeypatch.setattr(bench_run, "RESULTS", results)
    monkeypatch.setattr(bench_run, "BENCHMARKS", tmp_path / "BENCHMARKS.md")
    bench_run.write(report(0.5, 5.0, 6.0))
    assert png_size(results / "stages.png")[1] > 0
    assert (
        "![Stage times beside the DuckDB and gzip baselines](bench/results/stages.png)"
        in (tmp_path / "BENCHMARKS.md").read_text()
    )
    # the committed chart is the one BENCHMARKS.md links to
    assert "(bench/results/stages.png)" in (REPO_ROOT / "BENCHMARKS.md").read_text()
    assert png_size(REPO_ROOT / "bench" / "results" / "stages.png")[0] > 500
