"""Run `airflow dags test` for one daily run and show it as it happens (called by services/airflow.sh pipeline).

`airflow dags test` runs every task in its own process and writes everything to one stream. This wrapper
keeps that stream in the run's log file, prints a line as each task finishes (task, state, seconds, read
from Airflow's metadata database, so the state is Airflow's own), then a summary table. Each task's part of
the stream also goes to the file the Airflow UI reads for that task
(`<base_log_folder>/dag_id=…/run_id=…/task_id=…/attempt=N.log`). When the run failed it prints the failing
tasks' last log lines and their log files, and exits 1.

usage: dagrun_progress.py LOG_FILE airflow dags test imdb_pipeline RUN_DATE -c CONF
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

STARTING = re.compile(r"\[DAG TEST\] running task <TaskInstance: (?P<dag>[^.\s]+)\.(?P<task>\S+) (?P<run>\S+) \[")
ENDING = re.compile(r"\[DAG TEST\] end task task_id=(?P<task>\S+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ERROR = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt|Timeout): ")  # the line a traceback ends with
TAIL = 25  # log lines shown for a failed task
MARK = {"failed": "FAILED", "upstream_failed": "not run"}


class Run:
    """What the stream told so far: the run id, the task being run and its lines."""

    def __init__(self, engine: sa.Engine | None, log_root: Path) -> None:
        self.engine, self.log_root = engine, log_root
        self.dag_id: str | None = None
        self.run_id: str | None = None
        self.task: str | None = None
        self.lines: list[str] = []
        self.task_logs: dict[str, Path] = {}

    def instance(self, task_id: str) -> dict | None:
        """The task instance's row in Airflow's metadata database (state, duration, attempt)."""
        if self.engine is None or self.run_id is None:
            return None
        query = sa.text(
            "select task_id, state, duration, try_number, start_date from task_instance "
            "where dag_id = :d and run_id = :r and task_id = :t and map_index = -1"
        )
        with self.engine.connect() as c:
            row = c.execute(query, {"d": self.dag_id, "r": self.run_id, "t": task_id}).mappings().first()
        return dict(row) if row else None

    def instances(self) -> list[dict]:
        if self.engine is None or self.run_id is None:
            return []
        query = sa.text(
            "select task_id, state, duration, try_number, start_date from task_instance "
            "where dag_id = :d and run_id = :r and map_index = -1 order by start_date nulls last, task_id"
        )
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(query, {"d": self.dag_id, "r": self.run_id}).mappings()]

    def run_state(self) -> str | None:
        if self.engine is None or self.run_id is None:
            return None
        with self.engine.connect() as c:
            return c.execute(
                sa.text("select state from dag_run where dag_id = :d and run_id = :r"),
                {"d": self.dag_id, "r": self.run_id},
            ).scalar()

    def task_log(self, task_id: str, attempt: int) -> Path:
        """Where Airflow's file task handler (and so the UI) looks for this task's log."""
        return (
            self.log_root / f"dag_id={self.dag_id}" / f"run_id={self.run_id}" / f"task_id={task_id}"
        ) / f"attempt={max(attempt, 1)}.log"

    def feed(self, line: str) -> None:
        if m := STARTING.search(line):
            self.dag_id, self.run_id, self.task, self.lines = m["dag"], m["run"], m["task"], []
        if self.task is not None:
            self.lines.append(ANSI.sub("", line))
        if (m := ENDING.search(line)) and m["task"] == self.task:
            self.finish(self.task)
            self.task = None

    def finish(self, task_id: str) -> None:
        row = self.instance(task_id) or {"state": "?", "duration": None, "try_number": 1}
        path = self.task_log(task_id, row["try_number"] or 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(self.lines), encoding="utf-8")
        self.task_logs[task_id] = path
        seconds = f"{row['duration']:7.1f} s" if row["duration"] is not None else "      - s"
        state = row["state"] or "?"
        print(f"  {task_id:<40} {MARK.get(state, state):<10} {seconds}", flush=True)


def main(argv: list[str]) -> int:
    log_file, command = Path(argv[0]), argv[1:]
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    engine = sa.create_engine(url, pool_pre_ping=True) if url else None
    log_root = Path(os.environ.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER", log_file.parent / "airflow"))
    run = Run(engine, log_root)
    t0 = time.monotonic()
    print(f"  {'task':<40} {'state':<10} {'seconds':>9}", flush=True)
    with log_file.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            out.flush()
            run.feed(line)
        code = proc.wait()

    rows = run.instances()
    state = run.run_state()
    if rows:
        summary(rows, time.monotonic() - t0)
    failed = [r for r in rows if r["state"] in ("failed", "up_for_retry")]
    if state == "success" and not failed and code == 0:
        return 0
    for r in failed:
        path = run.task_logs.get(r["task_id"]) or run.task_log(r["task_id"], r["try_number"] or 1)
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        errors = [line for line in lines if ERROR.search(line)]
        print(f"\n--- {r['task_id']} failed: {errors[-1] if errors else '(no exception in its log)'}", file=sys.stderr)
        print(f"--- last {min(TAIL, len(lines))} lines of {path}:", file=sys.stderr)
        print("\n".join(lines[-TAIL:]), file=sys.stderr)
    if not failed:  # failed before any task ran (the DAG did not import, the database did not answer, …)
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        print(f"\n--- airflow dags test exited {code}; last {TAIL} lines of {log_file}:", file=sys.stderr)
        print("\n".join(ANSI.sub("", line) for line in lines[-TAIL:]), file=sys.stderr)
    return 1


def summary(rows: list[dict], wall: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="imdb_pipeline run", title_justify="left")
    for name, justify in (("task", "left"), ("state", "left"), ("seconds", "right"), ("attempt", "right")):
        table.add_column(name, justify=justify)
    for r in rows:
        seconds = f"{r['duration']:.1f}" if r["start_date"] is not None and r["duration"] is not None else "-"
        table.add_row(r["task_id"], r["state"] or "none", seconds, str(r["try_number"] or "-"))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"] or "none"] = counts.get(r["state"] or "none", 0) + 1
    table.caption = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f"; {wall:.0f} s in all"
    Console(width=100).print(table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
