"""docker-compose.yml, checked against the scripts it runs and the image it builds (there is no Docker engine
where the suite runs, so nothing here starts a container).

The compose file is rendered with .env.example's values the way `docker compose` interpolates it; then, for
every service: each command it runs exists in the image's layout (the Dockerfile's apt packages, the .venv it
builds from requirements.lock, the files the build context keeps); every variable its scripts need is set;
the addresses it talks to are the other services' names and ports; what it publishes is what it listens on,
on the host's loopback; and the start order waits on healthchecks."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from core.config import REPO_ROOT

EXPECTED = {"spark-thrift": 10000, "postgres": 5433, "airflow": 8080, "api": 8008}
WORKDIR = "/opt/imdb"

# Where each external program the scripts call comes from in the image. A script that starts calling a new
# program fails test_every_command_the_scripts_run_is_in_the_image until it is added here (and to the image).
# python:3.11-slim-bookworm: Debian's essential packages (coreutils, grep, sed, util-linux)
BASE_IMAGE = {
    "basename", "cat", "chmod", "chown", "comm", "cut", "date", "dirname", "env", "head", "id", "ls", "md5sum",
    "mkdir", "mktemp", "mv", "realpath", "rm", "runuser", "seq", "sha256sum", "sleep", "sort", "tail", "touch",
    "tr", "wc", "grep", "sed"
}  # fmt: skip
APT = {"curl": "curl", "openssl": "openssl", "make": "make", "ps": "procps", "psql": "postgresql-client",
       "java": "openjdk-", "pg_isready": "postgresql-client"}  # fmt: skip
VENV = {"airflow": "apache-airflow-core", "dbt": "dbt-core", "uvicorn": "uvicorn", "spark-submit": "pyspark",
        "spark-class": "pyspark", "python": None}  # fmt: skip
IMAGE_COMMANDS = {"postgres": {"pg_isready", "psql"}}  # services that run a published image, not ours
# What each service listens on: (bind-address variable, port variable) its scripts read.
LISTENS = {
    "spark-thrift": [("THRIFT_HOST", "THRIFT_PORT"), ("SPARK_LOCAL_IP", "SPARK_UI_PORT")],
    "airflow": [("AIRFLOW_HOST", "AIRFLOW_PORT")],
    "api": [("API_HOST", "API_PORT")],
}
STANDARD_VARS = {"HOME", "PATH", "PWD", "SECONDS", "BASH_SOURCE", "UID", "RANDOM", "IFS", "PPID"}
BUILTINS = {
    "alias", "break", "builtin", "cd", "command", "continue", "declare", "echo", "eval", "exec", "exit",
    "export", "false", "getopts", "hash", "kill", "let", "local", "printf", "pwd", "read", "readonly", "return",
    "set", "shift", "source", "test", "trap", "true", "type", "ulimit", "umask", "unset", "wait", "if", "then",
    "elif", "else", "fi", "case", "esac", "for", "while", "until", "do", "done", "in", "function", "select",
    "time"
}  # fmt: skip
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


# ------------------------------------------------------------------------------------------ reading things


def render(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error} (the error when VAR is unset)."""

    def value(m: re.Match) -> str:
        name, op, arg = m["name"], m["op"], m["arg"]
        if name in env and (env[name] or op not in (":-", ":?")):
            return env[name]
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            pytest.fail(f"docker-compose.yml needs {name}: {arg} (.env.example does not set it)")
        return ""

    return re.sub(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}", value, text)


def dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if re.match(r"^\w+=", line))
    return {k: v for k, v in pairs}


def compose() -> dict:
    return yaml.safe_load(render((REPO_ROOT / "docker-compose.yml").read_text(), dotenv(REPO_ROOT / ".env.example")))


def dockerfile() -> str:
    return (REPO_ROOT / "Dockerfile").read_text()


def dockerfile_env() -> dict[str, str]:
    text = re.sub(r"\\\n", " ", dockerfile())
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


def apt_packages() -> set[str]:
    text = re.sub(r"\\\n", " ", dockerfile())
    found: set[str] = set()
    for m in re.finditer(r"apt-get install (.*?)(?:&&|$)", text, re.M):
        found |= {w for w in m[1].split() if not w.startswith("-")}
    return found


def locked() -> set[str]:
    lock = (REPO_ROOT / "requirements.lock").read_text()
    return {m.lower() for m in re.findall(r"^([A-Za-z0-9._-]+)==", lock, re.M)}


def ignored(path: str) -> bool:
    """True when .dockerignore keeps `path` (relative to the clone) out of the build context."""
    keep = True
    for pattern in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/").removeprefix("**/")
        parts = Path(path).parts
        hit = any(fnmatch("/".join(parts[: i + 1]), pattern) or fnmatch(parts[i], pattern) for i in range(len(parts)))
        if hit:
            keep = negate
    return not keep


def script_chain(script: str) -> list[Path]:
    """The script and every file it sources (services/common.sh, services/airflow-env.sh, …), in order."""
    chain: list[Path] = []
    todo = [REPO_ROOT / script]
    while todo:
        path = todo.pop(0)
        if path in chain:
            continue
        chain.append(path)
        for name in re.findall(
            r'^\s*\. "\$(?:\(dirname "\$0"\)|REPO_ROOT/services)/([\w.-]+)"', path.read_text(), re.M
        ):
            todo.append(REPO_ROOT / "services" / name)
    return chain


def shell_lines(text: str):
    """(line number, code) of a shell script: comments, single-quoted text and quoted heredoc bodies removed."""
    end, expands = None, True
    for number, line in enumerate(text.splitlines(), 1):
        if end is not None:
            if line.strip() == end:
                end = None
            elif expands:
                yield number, line  # an unquoted heredoc expands variables (and runs nothing)
            continue
        if m := HEREDOC.search(line):
            end, expands = m[2], not m[1]
        yield number, re.sub(r"'[^']*'", "''", re.sub(r"(^|\s)#.*$", "", line))


def commands(text: str) -> set[str]:
    """Names of the programs a script runs: first words of its commands, after pipes, `&&`, `$(` …"""
    found: set[str] = set()
    in_string = False
    for _, line in _code_lines(text):
        if in_string:  # inside a double-quoted string that spans lines
            in_string = line.count('"') % 2 == 0
            continue
        line = re.sub(r'"(?:[^"\\$]|\\.|\$(?!\())*"', '""', line)  # double-quoted text without $( is data
        if line.count('"') % 2:
            line, in_string = line[: line.rindex('"')], True
        if re.match(r"\s*(local|declare|readonly)\s|\s*\w+\+?=\(", line) and "$(" not in line:
            continue  # declarations, arrays
        line = re.sub(r"\bin\s+[\w*.-]+(\s*\|\s*[\w*.-]+)*\)", "in", line)  # a one-line case pattern
        for m in [None, *re.finditer(r"\$\(|\|\||&&|[;|]|\b(then|do|else)\s", line)]:
            rest = line[m.end() if m else 0 :].lstrip()
            rest = re.sub(r"^((if|elif|while|until|!|export|nohup|exec|time|command|then|do|else)\s+)+", "", rest)
            rest = re.sub(r'^(\w+=("[^"]*"|\S)*\s+)+', "", rest)
            if re.match(r"[\w*.-]+(\s*\|\s*[\w*.-]+)*\)", rest):  # a case pattern
                continue
            if word := re.match(r"([a-z][\w.-]*)(\s|$|\))", rest):
                found.add(word[1])
    return found - BUILTINS


def _code_lines(text: str):
    """Lines outside every heredoc body (which hold SQL or Python, not commands)."""
    end = None
    for number, line in enumerate(text.splitlines(), 1):
        if end is not None:
            end = None if line.strip() == end else end
            continue
        if m := HEREDOC.search(line):
            end = m[2]
        yield number, re.sub(r"'[^']*'", "''", re.sub(r"(^|\s)#.*$", "", line))


def variables(chain: list[Path]) -> tuple[set[str], set[str]]:
    """(variables the scripts read, of those the ones they need from the environment: no default, never set)."""
    text = "\n".join(code for path in chain for _, code in shell_lines(path.read_text()))
    read = set(re.findall(r"\$\{?([A-Za-z_]\w*)", text)) | set(re.findall(r"\$\{!?([A-Za-z_]\w*)", text))
    defaulted = set(re.findall(r"\$\{([A-Za-z_]\w*)(?::?[-=+])", text))
    assigned = set(re.findall(r"(?:^|[\s;(])(?:export\s+|local\s+)?([A-Za-z_]\w*)\+?=", text, re.M))
    assigned |= set(re.findall(r"\bfor\s+(\w+)\s+in\b", text)) | set(re.findall(r"\bread\s+(?:-\w+\s+)*(\w+)", text))
    for declared in re.findall(r"^\s*local\s+([^=\n]*?)$", text, re.M):
        assigned |= set(declared.split())
    return read, read - defaulted - assigned - STANDARD_VARS


def service_env(service: dict) -> dict[str, str]:
    return {**dockerfile_env(), **{k: str(v) for k, v in (service.get("environment") or {}).items()}}


def built(services: dict) -> dict[str, dict]:
    return {name: s for name, s in services.items() if s.get("build")}


# --------------------------------------------------------------------------------------------------- tests


def test_services_and_ports_match_the_defaults():
    services = compose()["services"]
    assert set(EXPECTED) <= set(services)
    for name, port in EXPECTED.items():
        published = [p.split(":") for p in services[name]["ports"]]
        assert any(host == "127.0.0.1" and int(hp) == port for host, hp, _ in published), (name, published)


def test_spark_versions_match_the_local_stack():
    lock = (REPO_ROOT / "requirements.lock").read_text()
    assert re.search(r"^pyspark==4\.0\.\d+", lock, re.M)
    assert re.search(r"^delta-spark==4\.0\.\d+", lock, re.M)
    # the compose Thrift server runs the same start script (same Delta jars, same spark-defaults.conf)
    assert "services/thrift.sh" in " ".join(compose()["services"]["spark-thrift"]["command"])
    assert 'DELTA_VERSION="4.0.1"' in (REPO_ROOT / "services/thrift.sh").read_text()


def test_the_image_is_laid_out_like_a_clone_after_setup():
    text = dockerfile()
    assert re.search(rf"^WORKDIR {WORKDIR}$", text, re.M)
    # the scripts call $REPO_ROOT/.venv/bin/…, and the DAG runs .venv/bin/dbt: the venv sits in the clone's place
    assert re.search(r"uv venv \.venv\b", text) and re.search(
        r"--python \.venv/bin/python[^\n]*-r requirements\.lock", text
    )
    assert f"{WORKDIR}/.venv/bin" in dockerfile_env()["PATH"]
    assert "services/thrift.sh resolve" in text  # Delta's jars in the image, not fetched by each container
    for secret_or_data in (".env", ".data/x", ".venv/bin/python", ".git/config", "test-artifacts/a.png"):
        assert ignored(secret_or_data), f".dockerignore lets {secret_or_data} into the image"
    assert not ignored(".env.example") and not ignored("services/thrift.sh")


@pytest.mark.parametrize("name", ["spark-thrift", "airflow", "api"])
def test_every_command_the_scripts_run_is_in_the_image(name):
    service = compose()["services"][name]
    command = service["command"]
    assert Path(command[0]).parts[0] == "services", f"{name} runs {command[0]}, not one of services/"
    assert not ignored(command[0]) and (REPO_ROOT / command[0]).stat().st_mode & 0o111, command[0]
    chain = script_chain(command[0])
    functions = {f for p in chain for f in re.findall(r"^\s*([\w-]+)\(\)", p.read_text(), re.M)}
    used = set().union(*(commands(p.read_text()) for p in chain)) - functions
    unknown = used - BASE_IMAGE - set(APT) - set(VENV)
    assert not unknown, f"{name}: {sorted(unknown)} not known to be in the image (add them to the Dockerfile and APT)"
    if "spark-submit" in used or "spark-class" in used:
        used |= {"java", "ps"}  # Spark's launcher scripts
    packages, lock = apt_packages(), locked()
    for tool in sorted(used & set(APT)):
        assert any(p.startswith(APT[tool]) for p in packages), (
            f"{name} runs {tool}: the Dockerfile installs no {APT[tool]}"
        )
    for tool in sorted(used & set(VENV)):
        assert VENV[tool] is None or VENV[tool] in lock, f"{name} runs {tool}: {VENV[tool]} is not in requirements.lock"
    # files the scripts run by path are in the build context
    for path in chain:
        for rel in re.findall(r"\$REPO_ROOT/(services/[\w.-]+)", path.read_text()):
            assert (REPO_ROOT / rel).is_file() and not ignored(rel), f"{path.name} calls {rel}, not in the image"


def test_healthchecks_run_what_the_containers_have_and_gate_the_start_order():
    services = compose()["services"]
    packages = apt_packages()
    for name, service in services.items():
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", (name, test)
        program = test[1]
        if name in IMAGE_COMMANDS:
            assert program in IMAGE_COMMANDS[name], (name, program)
        elif program.startswith("services/"):
            assert (REPO_ROOT / program).is_file() and not ignored(program), (name, program)
            action = test[2]
            assert re.search(rf"^\s*{re.escape(action)}\)", (REPO_ROOT / program).read_text(), re.M), (name, test)
        else:
            assert any(p.startswith(APT.get(program, "?")) for p in packages), f"{name}: healthcheck runs {program}"
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency, condition)
            assert "healthcheck" in services[dependency]
    assert services["airflow"]["depends_on"].keys() == {"spark-thrift", "postgres"}


@pytest.mark.parametrize("name", ["spark-thrift", "airflow", "api"])
def test_every_variable_the_scripts_need_is_set(name):
    service = compose()["services"][name]
    read, needed = variables(script_chain(service["command"][0]))
    env = service_env(service)
    missing = sorted(v for v in needed if v not in env)
    assert not missing, f"{name}: its scripts read {missing} without a default, and compose does not set them"
    for bind, port in LISTENS.get(name, []):  # the table below checks what the scripts really read
        assert bind in read and port in read, (name, bind, port)


def test_addresses_name_the_other_services_and_ports_agree():
    services = compose()["services"]
    thrift_env = service_env(services["spark-thrift"])
    for name in ("airflow", "api"):
        env = service_env(services[name])
        for variable in ("DATABASE_URL", "API_DATABASE_URL"):
            url = urlsplit(env[variable].replace("postgresql+psycopg2", "postgresql"))
            assert (url.hostname, url.port) == ("postgres", 5432), (name, variable, env[variable])
    airflow = service_env(services["airflow"])
    assert (airflow["THRIFT_HOST"], airflow["THRIFT_PORT"]) == ("spark-thrift", thrift_env["THRIFT_PORT"])
    assert (airflow["PG_HOST"], airflow["PG_PORT"]) == ("postgres", "5432")  # Airflow's own metadata database
    # what a container publishes is what it listens on, bound beyond its own loopback; the host side stays loopback
    for name, listens in LISTENS.items():
        env = service_env(services[name])
        container_ports = {int(p.split(":")[2]) for p in services[name]["ports"]}
        for bind, port in listens:
            assert env[bind] == "0.0.0.0", f"{name}: {bind}={env.get(bind)} is unreachable through the published port"
            assert int(env[port]) in container_ports, (name, port, env[port], container_ports)
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"])
    assert {int(p.split(":")[2]) for p in services["postgres"]["ports"]} == {5432}


def test_postgres_gets_the_roles_and_airflows_database():
    services = compose()["services"]
    mount = next(v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v)
    script = (REPO_ROOT / mount.split(":")[0]).read_text()
    # the script feeds serving/roles.sql, mounted beside it, to psql: the reader role and Airflow's database
    roles = next(v for v in services["postgres"]["volumes"] if v.endswith(":/etc/imdb/roles.sql:ro"))
    sql = (REPO_ROOT / roles.split(":")[0]).read_text()
    assert "-v reader=imdb_reader" in script and "section roles" in script and "section databases" in script
    assert "create role %I login', :'reader')" in sql and re.search(r"create database %I owner %I', 'airflow'", sql)
    writer = services["postgres"]["environment"]["POSTGRES_USER"]
    assert urlsplit(service_env(services["airflow"])["DATABASE_URL"]).username == writer


def test_readme_says_compose_is_checked_not_run():
    readme = (REPO_ROOT / "README.md").read_text()
    assert re.search(r"docker-compose\.yml.{0,200}checked.{0,100}not run", readme, re.S | re.I)
