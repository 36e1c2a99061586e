"""Command line: `python -m ingestion run|download|land|publish|synth …` (argument parsing and summaries only)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from core import config

# Wide enough for the summary table when the output is a pipe or a log file (Airflow, CI).
console = Console(width=None if sys.stdout.isatty() else 160)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _summary(reports) -> None:
    table = Table(title="landing")
    for col in ("table", "source rows", "inserted", "updated", "deleted", "unchanged", "rejected", "note"):
        table.add_column(col, justify="left" if col in ("table", "note") else "right")
    for r in reports:
        table.add_row(
            r.table,
            f"{r.source_rows:,}",
            f"{r.inserted:,}",
            f"{r.updated:,}",
            f"{r.deleted:,}",
            f"{r.unchanged:,}",
            f"{r.rejected:,}",
            "same file as last run" if r.skipped else f"{r.method}, delta v{r.delta_version}",
        )
    console.print(table)
    for r in reports:
        if r.note:  # e.g. why a file fell back from the raw diff to the Spark diff
            console.print(f"[yellow]{r.table}[/yellow]: {r.note}")


def _add_common(p: argparse.ArgumentParser, base_url: bool = True) -> None:
    p.add_argument("--run-date", type=_date, default=dt.datetime.now(dt.UTC).date(), help="YYYY-MM-DD (today)")
    if base_url:
        p.add_argument(
            "--base-url",
            default=None,
            help="http(s)://, file:// or a directory (default IMDB_BASE_URL, else https://datasets.imdbws.com/)",
        )
    p.add_argument("--datasets", nargs="*", help="IMDb names, e.g. title.basics (default: all in the registry)")


def _add_landing_overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-shrink",
        action="store_true",
        default=None,
        help="land a snapshot that soft-deletes or drops more rows than the guards allow (IMDB_ALLOW_SHRINK=1)",
    )
    p.add_argument(
        "--allow-older-run-date",
        action="store_true",
        default=None,
        help="land a date older than the newest landed one: rolls every layer back (IMDB_ALLOW_OLDER_RUN_DATE=1)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingestion", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every Spark statement")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="download the run date's files (once) and land them")
    _add_common(p)
    _add_landing_overrides(p)
    p = sub.add_parser("download", help="fetch the run date's files into DATA_DIR/cache/<run_date>/")
    _add_common(p)
    p = sub.add_parser("land", help="land already downloaded files into the landing Delta tables")
    _add_common(p, base_url=False)
    p.add_argument("--from", dest="source_dir", type=Path, help="directory with the *.tsv.gz (default: the cache)")
    _add_landing_overrides(p)
    p = sub.add_parser("publish", help="copy the KPIs and the pipeline status into PostgreSQL")
    _add_common(p, base_url=False)
    sub.add_parser("maintain", help="compact, purge deletion vectors and vacuum the Delta tables past thresholds")
    sub.add_parser("synth", help="write synthetic IMDb-shaped snapshots (see synth --help)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["synth"]:
        from devdata import synth

        return synth.main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    from core.lease import LeaseHeld
    from core.thrift import ThriftError, session
    from ingestion import land
    from ingestion.download import DownloadError
    from pipeline import daily
    from serving.publish import PublishError

    datasets = daily.selected(args.datasets)
    try:
        if args.command == "download":
            files = daily.download(args.run_date, args.base_url, datasets, progress=True)
            for path in files.values():
                console.print(f"cached  {path}")
        elif args.command == "run":
            with console.status("landing…") as spinner:
                reports = daily.run(
                    args.run_date,
                    args.base_url,
                    datasets,
                    progress=True,
                    on_step=spinner.update,
                    allow_shrink=args.allow_shrink,
                    allow_older_run_date=args.allow_older_run_date,
                )
            _summary(reports)
        elif args.command == "land":
            source = args.source_dir or config.settings().cache_dir / args.run_date.isoformat()
            files = {d: source / d.file_name for d in datasets}
            missing = [str(p) for p in files.values() if not p.is_file()]
            if missing:
                console.print(f"[red]missing files:[/red] {', '.join(missing)} (run `download` first)")
                return 2
            with session() as spark, console.status("landing…") as spinner:
                reports = land.land(
                    spark,
                    files,
                    args.run_date,
                    on_step=spinner.update,
                    allow_shrink=args.allow_shrink,
                    allow_older_run_date=args.allow_older_run_date,
                )
            _summary(reports)
        elif args.command == "maintain":
            from ingestion import maintenance

            with session() as spark:
                done = maintenance.maintain(spark)
            for a in done:
                console.print(f"{a.table}: {a.action} in {a.seconds:.1f} s ({a.reason})")
            if not done:
                console.print("nothing to do: every table is within its thresholds")
        elif args.command == "publish":
            from serving import publish

            result = publish.publish(args.run_date)
            console.print(result.summary())
    except (DownloadError, land.LandingError, ThriftError, PublishError, LeaseHeld, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
