"""Everyday targets: `make test-unit` (no services, seconds), `make clean` (asks; keeps the downloads), and the
setup's supported versions (one lock for Python 3.11-3.13; `make lock-check` resolves it for each)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from core.config import REPO_ROOT


def make(*args: str, env: dict[str, str] | None = None, answer: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        input=answer,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_test_unit_collects_only_the_tests_that_need_no_service():
    result = make("test-unit", "PYTEST_ARGS=--collect-only -q")
    assert result.returncode == 0, result.stderr[-2000:]
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert len(collected) > 50
    assert all(line.startswith("tests/unit/") for line in collected), [c for c in collected if "unit" not in c][:3]


def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    for rel in ("cache/2026-01-15/title.ratings.tsv.gz", "ivy/jars/delta.jar", "warehouse/landing.db/t/x.parquet"):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(b"x")
    return data


def test_clean_asks_first_then_removes_all_but_the_downloads(tmp_path: Path):
    data = data_dir(tmp_path)
    env = {"DATA_DIR": str(data)}  # a DATA_DIR of its own: `make down` inside finds nothing of ours to stop

    kept = make("clean", env=env, answer="n\n")
    assert kept.returncode == 0, kept.stderr
    assert "remove these" in kept.stderr and "nothing removed" in kept.stderr
    assert (data / "warehouse/landing.db/t/x.parquet").is_file()

    removed = make("clean", env=env, answer="y\n")
    assert removed.returncode == 0, removed.stderr
    assert not (data / "warehouse").exists()
    assert (data / "cache/2026-01-15/title.ratings.tsv.gz").is_file() and (data / "ivy/jars/delta.jar").is_file()


def test_clean_removes_the_downloads_too_when_told(tmp_path: Path):
    data = data_dir(tmp_path)
    result = make("clean", env={"DATA_DIR": str(data), "CLEAN_CACHE": "1", "YES": "1"})
    assert result.returncode == 0, result.stderr
    assert not data.exists()


def test_one_lock_serves_every_supported_python():
    # resolved for 3.11 with markers for the others (make lock-check resolves it for 3.11, 3.12 and 3.13)
    header = (REPO_ROOT / "requirements.lock").read_text().splitlines()[1]
    assert "--universal" in header, header
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert re.search(r'^requires-python = ">=3\.11,<3\.14"$', pyproject, re.M)
    setup = (REPO_ROOT / "services" / "setup.sh").read_text()
    assert "(3, 11) <= sys.version_info[:2] <= (3, 13)" in setup
    assert re.search(r"version \"\(17\|21\)", setup)  # Java 17 or 21 accepted as found
    assert re.search(r"--tests.*chromium", setup)  # Chromium only for `make test`
