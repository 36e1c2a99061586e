"""What the Spark UI's REST API says about the statements the Thrift server ran: how many files each scan of a
table read and skipped. `make bench` and the tests use it to show that an incremental build reads only the
landing files of new loads (Delta's data skipping on `_load_id`)."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request

from core.config import settings


def base_url() -> str:
    """The UI's REST root; Spark moves the UI to the next port when SPARK_UI_PORT is taken, and logs where."""
    log = settings().data_dir / "logs" / "spark-thrift.log"
    text = log.read_text(errors="replace") if log.is_file() else ""
    ports = re.findall(r"started service 'SparkUI' on port (\d+)", text)
    return f"http://127.0.0.1:{ports[-1] if ports else 4040}/api/v1/applications"


def _get(url: str):
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - loopback only
        return json.load(r)


def _number(value: str) -> int:
    digits = re.sub(r"\D", "", value or "")
    return int(digits) if digits else 0


def _executions(since: dt.datetime):
    """The statements submitted since `since` (UTC), with their plan nodes and metrics. Only as far back as the UI
    keeps statements (spark.sql.ui.retainedExecutions)."""
    base = base_url()
    app = _get(base)[0]["id"]
    for execution in _get(f"{base}/{app}/sql?details=true&planDescription=false&offset=0&length=100000"):
        submitted = dt.datetime.strptime(execution["submissionTime"][:23], "%Y-%m-%dT%H:%M:%S.%f")
        if submitted.replace(tzinfo=dt.UTC) >= since:
            yield execution


def _metrics(node: dict) -> dict[str, str]:
    return {m["name"]: m["value"] for m in node.get("metrics", [])}


def scans(table: str, since: dt.datetime) -> list[tuple[int, int]]:
    """(files read, files skipped) of every scan of `table` (schema.table) in the statements submitted since
    `since` (UTC)."""
    out = []
    for execution in _executions(since):
        for node in execution.get("nodes", []):
            if node.get("nodeName", "").startswith("Scan") and node["nodeName"].endswith(table):
                metrics = _metrics(node)
                out.append(
                    (_number(metrics.get("number of files read")), _number(metrics.get("number of files pruned")))
                )
    return out


def rows_past_filters(table: str, statement: str, since: dt.datetime) -> int:
    """Rows of `table` (schema.table) that got past the filters right above its scans, summed over the scans of
    the statements submitted since `since` (UTC) whose text contains `statement` (Delta runs a MERGE's jobs under
    statements that repeat its text): what the table fed into their joins and shuffles."""
    passing = ("ColumnarToRow", "Filter", "Project")
    total = 0
    for execution in _executions(since):
        if statement not in execution.get("description", ""):
            continue
        nodes = {node["nodeId"]: node for node in execution.get("nodes", [])}
        parent = {edge["fromId"]: edge["toId"] for edge in execution.get("edges", [])}
        for node in nodes.values():
            if not (node.get("nodeName", "").startswith("Scan") and node["nodeName"].endswith(table)):
                continue
            rows = _number(_metrics(node).get("number of output rows"))
            above = nodes.get(parent.get(node["nodeId"], -1))
            while above is not None and above.get("nodeName") in passing:
                rows = _number(_metrics(above).get("number of output rows", str(rows)))
                above = nodes.get(parent.get(above["nodeId"], -1))
            total += rows
    return total
