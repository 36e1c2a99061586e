"""serving/roles.sql, the one file with the roles and GRANTs: Python (serving.roles) and the shell scripts
(common.sh's roles_sql, the postgres image's copy of it) read the same sections, with psql's variables."""

from __future__ import annotations

import re
import subprocess

import pytest

from core.config import REPO_ROOT
from serving import roles


def test_python_puts_in_identifiers_and_names_as_psql_does():
    assert roles.statements("reader_privileges", db="imdb", writer="imdb_writer", reader="imdb_reader") == [
        "revoke create on schema public from public",
        'grant connect on database "imdb" to "imdb_reader"',
        'grant usage on schema public to "imdb_reader"',
        'grant select on all tables in schema public to "imdb_reader"',
        'alter default privileges for role "imdb_writer" in schema public grant select on tables to "imdb_reader"',
    ]
    assert roles.statements("table_grant", table="actor_actress_kpis", reader='we"ird') == [
        'grant select on actor_actress_kpis to "we""ird"'
    ]


def test_sections_with_psql_meta_commands_are_not_run_from_python():
    with pytest.raises(ValueError, match="psql meta-commands"):
        roles.statements("roles", writer="w", reader="r", writer_password="x", reader_password="y")


@pytest.mark.parametrize("section", ["roles", "databases", "reader_privileges", "table_grant"])
def test_the_shell_helpers_read_the_same_sections(section, tmp_path):
    common = subprocess.run(
        ["bash", "-c", f'source "$0"/services/common.sh; roles_sql {section}', REPO_ROOT],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path)},
    ).stdout
    script = (REPO_ROOT / "services" / "docker-postgres-init.sh").read_text()
    image_section = re.search(r"^section\(\) \{ (.*); \}$", script, re.M)[1]
    image = subprocess.run(
        ["bash", "-c", image_section.replace("$1", section)],
        capture_output=True,
        text=True,
        check=True,
        env={"ROLES_SQL": str(REPO_ROOT / "serving" / "roles.sql"), "PATH": "/usr/bin:/bin"},
    ).stdout
    assert common.rstrip("\n") == roles.sections()[section].rstrip("\n") == image.rstrip("\n")
