"""One daily run of the ingestion side: download the files of a run date into the cache, then land them.

Used by the CLI (`python -m ingestion run`) and by the Airflow DAG's tasks, so both do exactly the same.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from core import config, lease, status
from core.thrift import Session, session
from ingestion import land
from ingestion.datasets import DATASETS, Dataset
from ingestion.download import DownloadResult, download_all

log = logging.getLogger(__name__)


def selected(names: list[str] | None = None) -> list[Dataset]:
    from ingestion.datasets import get

    return [get(n) for n in names] if names else list(DATASETS.values())


def download(
    run_date: dt.date,
    base_url: str | None = None,
    datasets: list[Dataset] | None = None,
    *,
    run_id: str | None = None,
    progress: bool = False,
    spark: Session | None = None,
) -> dict[Dataset, Path]:
    """Fetch the files of a run date into DATA_DIR/cache/<run_date>/ and record `download` status rows: `failed`
    with the error for every file not fetched when anything goes wrong (a bad URL as much as a network error)."""
    datasets = datasets or selected()
    run_id = run_id or status.new_run_id(run_date)
    rows = [status.StatusRow(run_id, run_date, "download", d.file_name) for d in datasets]
    results: list[DownloadResult] = []
    error: Exception | None = None
    try:
        base_url = base_url or config.settings().base_url
        cache = config.settings().cache_dir
        headers = {d.file_name: "\t".join(d.column_names).encode() for d in datasets}
        results = download_all(
            [d.file_name for d in datasets], run_date, base_url, cache, progress=progress, headers=headers
        )
    except Exception as exc:
        error = exc
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for row, d in zip(rows, datasets, strict=True):
        done = next((r for r in results if r.path.name == d.file_name), None)
        row.finished_at = now
        if done is None:  # files after the failing one were not tried: failed too, with the same reason
            row.status, row.error = "failed", f"{type(error).__name__}: {error}"[:4000]
    try:
        if spark is not None:
            status.record(spark, rows)
        else:
            with session() as s:
                status.record(s, rows)
    except Exception:
        if error is None:
            raise
        log.exception("could not record the download status rows")
    if error is not None:
        raise error
    return {d: config.settings().cache_dir / run_date.isoformat() / d.file_name for d in datasets}


def run(
    run_date: dt.date,
    base_url: str | None = None,
    datasets: list[Dataset] | None = None,
    *,
    run_id: str | None = None,
    progress: bool = False,
    on_step: Callable[[str], None] | None = None,
    **land_options: object,
) -> list[land.TableReport]:
    """Download and land one run date, holding the pipeline lease for both (CLI `run`)."""
    run_id = run_id or status.new_run_id(run_date)
    with lease.held(run_id, "download and landing", end_of_run=True), session() as spark:
        files = download(run_date, base_url, datasets, run_id=run_id, progress=progress, spark=spark)
        return land.land(spark, files, run_date, run_id=run_id, on_step=on_step, lease_held=True, **land_options)
