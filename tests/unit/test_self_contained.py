"""A clone into an empty folder is complete: the tests and tools read nothing from beside the repository, and
the real IMDb excerpts the tests need are committed under tests/data with IMDb's terms."""

from __future__ import annotations

import re

from conftest import SAMPLES

from core.config import REPO_ROOT
from ingestion.datasets import DATASETS

# Paths that point out of the clone: a sibling folder, the parent of the repository, a machine's own layout.
OUTSIDE = re.compile(r"\.\./shared|REPO_ROOT\.parent|parents?\[\d\]\s*/\s*[\"']shared|[\"']/(work|home|root)/")
SCANNED = ("tests", "core", "ingestion", "serving", "pipeline", "devdata", "api", "bench", "airflow", "services", ".ci")


def test_no_path_outside_the_repository():
    offenders = []
    for folder in SCANNED:
        for path in sorted((REPO_ROOT / folder).rglob("*")):
            if path.suffix not in {".py", ".sh", ""} or not path.is_file():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if OUTSIDE.search(line):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    makefile = (REPO_ROOT / "Makefile").read_text()
    offenders += [f"Makefile: {line}" for line in makefile.splitlines() if OUTSIDE.search(line)]
    assert offenders == []


def test_the_real_excerpts_are_committed_with_their_terms():
    assert SAMPLES.is_relative_to(REPO_ROOT)
    for name, dataset in DATASETS.items():
        lines = (SAMPLES / "heads-2024" / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
        assert lines[0].split("\t") == dataset.column_names
        assert len(lines) > 100, name
    terms = (SAMPLES / "README.md").read_text()
    assert "non-commercial" in terms and "developer.imdb.com" in terms
