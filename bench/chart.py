"""The benchmark chart: each scale's stage times beside the DuckDB and gzip baselines of the same run.

Reads bench/results/bench-<scale>.json (what `make bench` writes) and draws one panel per scale: the two
baselines, then the first day and the next day as bars stacked by stage (landing, dbt, publish), each
labelled with its seconds. bench/run.py calls `render()` after every run; `python bench/chart.py` redraws it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
IMAGE = RESULTS / "stages.png"
PARTS = (("landing", "#4C72B0"), ("dbt build", "#DD8452"), ("publish", "#55A868"))
BASELINE_COLOR = "#8C8C8C"


def reports(results: Path) -> list[dict]:
    """Every finished scale's report, smallest scale first (the API benchmark and partial runs left out)."""
    found = []
    for path in sorted(results.glob("bench-*.json")):
        if path.name.endswith(".partial.json"):
            continue
        report = json.loads(path.read_text())
        if "scale" in report and "stages" in report:
            found.append(report)
    return sorted(found, key=lambda r: (r["scale"], r.get("days", 2)))


def bars(report: dict) -> list[tuple[str, list[tuple[str, float]]]]:
    """(label, [(part, seconds), …]) per bar: the baselines, then each day split by stage."""
    seconds = {s["stage"]: s["seconds"] for s in report["stages"]}
    out = [
        (stage.removeprefix("baseline: "), [("baseline", value)])
        for stage, value in seconds.items()
        if stage.startswith("baseline:")
    ]
    days = sorted({stage.split(":")[0] for stage in seconds if stage.startswith("day ")})
    for day in days:
        parts = [(p, v) for p, _ in PARTS for stage, v in seconds.items() if stage.startswith(f"{day}: {p}")]
        out.append((day, parts))
    return out


def render(results: Path = RESULTS, out: Path = IMAGE) -> Path:
    found = reports(results)
    if not found:
        raise FileNotFoundError(f"no bench-<scale>.json in {results}: run `make bench` first")
    fig, axes = plt.subplots(len(found), 1, figsize=(10, 2.4 * len(found) + 0.8), squeeze=False)
    colors = dict(PARTS)
    for ax, report in zip(axes[:, 0], found, strict=True):
        rows = bars(report)
        for y, (_, parts) in enumerate(reversed(rows)):
            left = 0.0
            for part, value in parts:
                ax.barh(y, value, left=left, color=colors.get(part, BASELINE_COLOR), edgecolor="white")
                left += value
            ax.text(left, y, f" {left:,.0f} s" if left >= 10 else f" {left:,.1f} s", va="center", fontsize=8)
        ax.set_yticks(range(len(rows)), [label for label, _ in reversed(rows)], fontsize=8)
        days = f", {report['days']} days" if report.get("days", 2) > 2 else ""
        ax.set_title(f"scale {report['scale']:g}{days}, measured {report['measured_at'][:10]}", fontsize=9, loc="left")
        ax.set_xlim(0, max(sum(v for _, v in parts) for _, parts in rows) * 1.15)
        ax.tick_params(axis="x", labelsize=8)
    axes[-1, 0].set_xlabel("wall time (s)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in [*(c for _, c in PARTS), BASELINE_COLOR]]
    fig.legend(handles, [p for p, _ in PARTS] + ["baseline"], loc="upper right", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("make bench: stage times beside DuckDB and gzip -dc", x=0.01, ha="left", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(render())
    sys.exit(0)
