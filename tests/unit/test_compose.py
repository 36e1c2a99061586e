"""docker-compose.yml offers the same services on the same loopback ports as `make up` (SPEC: Defaults)."""

from __future__ import annotations

import re

import yaml

from ingestion.config import REPO_ROOT

EXPECTED = {"spark-thrift": 10000, "postgres": 5433, "airflow": 8080, "api": 8008}


def load() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_services_and_ports_match_the_defaults():
    services = load()["services"]
    assert set(EXPECTED) <= set(services)
    for name, port in EXPECTED.items():
        published = [p.split(":") for p in services[name]["ports"]]
        assert any(host == "127.0.0.1" and int(hp) == port for host, hp, _ in published), (name, published)


def test_spark_versions_match_the_local_stack():
    lock = (REPO_ROOT / "requirements.lock").read_text()
    assert re.search(r"^pyspark==4\.0\.\d+$", lock, re.M)
    assert re.search(r"^delta-spark==4\.0\.\d+$", lock, re.M)
    # the compose Thrift server runs the same start script (same Delta jars, same spark-defaults.conf)
    assert "services/thrift.sh" in " ".join(load()["services"]["spark-thrift"]["command"])
    assert 'DELTA_VERSION="4.0.1"' in (REPO_ROOT / "services/thrift.sh").read_text()
