"""ingestion.download against a real HTTP server on 127.0.0.1 (no mocks of requests).

Each test installs its own handler function on a threaded http.server; the server records every request
(path and headers) so tests can count attempts and inspect conditional headers. Payloads are real
title.ratings lines, gzipped on the fly.
"""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import SAMPLES

from ingestion.download import DownloadError, DownloadResult, download, download_all, meta_path

SAMPLE = SAMPLES / "heads-2024" / "title.ratings.tsv"
NAME = "title.ratings.tsv.gz"
D1 = dt.date(2024, 1, 15)
D2 = dt.date(2024, 1, 16)
FAST = {"retries": 3, "backoff": 0.001, "timeout": 5}


TSV = SAMPLE.read_bytes()
GZ = gzip.compress(TSV, mtime=0)


# --------------------------------------------------------------------------------------------------------
# The test server.

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Server:
    url: str
    handler: Handler | None = None
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.requests)


def serve_bytes(h: http.server.BaseHTTPRequestHandler, body: bytes, status: int = 200, **headers: str) -> None:
    h.send_response(status)
    h.send_header("Content-Type", "application/x-gzip")
    h.send_header("Content-Length", str(len(body)))
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), v)
    h.end_headers()
    h.wfile.write(body)


def serve_status(h: http.server.BaseHTTPRequestHandler, status: int) -> None:
    serve_bytes(h, f"status {status}\n".encode(), status=status)


def serve_dropped(h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    """Announce the whole body, send half of it, then close the connection."""
    h.send_response(200)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body[: len(body) // 2])
    h.wfile.flush()
    h.close_connection = True


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(url="")

    class _Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with state.lock:
                state.requests.append((self.path, dict(self.headers.items())))
            assert state.handler is not None, "test did not install a handler"
            state.handler(self)

        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (with content) and directory under root, temp files included."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


# --------------------------------------------------------------------------------------------------------
# Plain download, cache hits, conditional GET.


@pytest.mark.parametrize("slash", ["", "/"])
def test_downloads_into_run_date_folder_with_sidecar(server: Server, tmp_path: Path, slash: str) -> None:
    server.handler = lambda h: serve_bytes(h, GZ, ETag='"v1"')
    cache = tmp_path / "cache"

    res = download(NAME, D1, server.url + slash, cache, **FAST)

    assert res == DownloadResult(
        path=cache / "2024-01-15" / NAME, status="downloaded", bytes=len(GZ), seconds=res.seconds, url=res.url
    )
    assert res.url == f"{server.url}/{NAME}"
    assert server.requests[0][0] == f"/{NAME}"
    assert res.path.read_bytes() == GZ
    meta = json.loads(meta_path(res.path).read_text())
    assert meta["url"] == res.url
    assert meta["etag"] == '"v1"'
    assert meta["bytes"] == len(GZ)
    assert len(meta["sha256"]) == 64
    assert meta["downloaded_at"]
    # nothing but the file and its sidecar
    assert sorted(p.name for p in res.path.parent.iterdir()) == [NAME, NAME + ".meta.json"]


def test_same_run_date_twice_makes_no_second_request(server: Server, tmp_path: Path) -> None:
    server.handler = lambda h: serve_bytes(h, GZ)
    cache = tmp_path / "cache"

    first = download(NAME, D1, server.url, cache, **FAST)
    second = download(NAME, D1, server.url, cache, **FAST)

    assert server.count == 1
    assert first.status == "downloaded"
    assert second.status == "cached"
    assert second.path == first.path
    assert second.bytes == len(GZ)


def test_etag_304_on_next_run_date_reuses_previous_copy(server: Server, tmp_path: Path) -> None:
    last_modified = "Mon, 15 Jan 2024 06:00:00 GMT"

    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_response(304)
            h.send_header("ETag", '"v1"')
            h.end_headers()
        else:
            serve_bytes(h, GZ, ETag='"v1"', Last_Modified=last_modified)

    server.handler = handler
    cache = tmp_path / "cache"

    first = download(NAME, D1, server.url, cache, **FAST)
    second = download(NAME, D2, server.url, cache, **FAST)

    assert (first.status, second.status) == ("downloaded", "not_modified")
    assert server.count == 2
    assert "If-None-Match" not in server.requests[0][1]
    headers = server.requests[1][1]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == last_modified
    assert second.path == cache / "2024-01-16" / NAME
    assert (cache / "2024-01-15" / NAME).read_bytes() == (cache / "2024-01-16" / NAME).read_bytes() == GZ
    meta2 = json.loads(meta_path(second.path).read_text())
    assert meta2["etag"] == '"v1"'
    assert meta2["reused_from"] == "2024-01-15"
    assert meta2["sha256"] == json.loads(meta_path(first.path).read_text())["sha256"]
    # and the day after that is a plain cache hit, no request at all
    assert download(NAME, D2, server.url, cache, **FAST).status == "cached"
    assert server.count == 2


def test_conditional_get_uses_newest_earlier_copy_and_refetches_when_changed(server: Server, tmp_path: Path) -> None:
    versions = {"v1": GZ, "v2": gzip.compress(TSV + b"tt9999999\t9.9\t99\n", mtime=0)}
    current = {"tag": "v1"}

    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        tag = current["tag"]
        if h.headers.get("If-None-Match") == f'"{tag}"':
            h.send_response(304)
            h.end_headers()
        else:
            serve_bytes(h, versions[tag], ETag=f'"{tag}"')

    server.handler = handler
    cache = tmp_path / "cache"
    download(NAME, D1, server.url, cache, **FAST)
    current["tag"] = "v2"
    # a later date's copy must not be used as the base for an earlier run date
    later = download(NAME, dt.date(2024, 1, 20), server.url, cache, **FAST)
    assert later.status == "downloaded"
    assert server.requests[-1][1]["If-None-Match"] == '"v1"'

    mid = download(NAME, D2, server.url, cache, **FAST)
    assert server.requests[-1][1]["If-None-Match"] == '"v1"'  # from 2024-01-15, not 2024-01-20
    assert mid.status == "downloaded"
    assert mid.path.read_bytes() == versions["v2"]


# --------------------------------------------------------------------------------------------------------
# Retries.


def test_503_twice_then_200_succeeds(server: Server, tmp_path: Path) -> None:
    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        if server.count <= 2:
            serve_status(h, 503)
        else:
            serve_bytes(h, GZ)

    server.handler = handler
    res = download(NAME, D1, server.url, tmp_path / "cache", **FAST)

    assert res.status == "downloaded"
    assert server.count == 3
    assert res.path.read_bytes() == GZ


def test_5xx_exhausts_retries(server: Server, tmp_path: Path) -> None:
    server.handler = lambda h: serve_status(h, 500)
    cache = tmp_path / "cache"

    with pytest.raises(DownloadError, match=r"HTTP 500 from .* after 3 attempts"):
        download(NAME, D1, server.url, cache, retries=2, backoff=0.001)

    assert server.count == 3
    assert snapshot(cache) == {}


def test_dropped_connection_mid_body_is_retried(server: Server, tmp_path: Path) -> None:
    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        if server.count == 1:
            serve_dropped(h, GZ)
        else:
            serve_bytes(h, GZ)

    server.handler = handler
    res = download(NAME, D1, server.url, tmp_path / "cache", **FAST)

    assert server.count == 2
    assert res.status == "downloaded"
    assert res.path.read_bytes() == GZ
    assert sorted(p.name for p in res.path.parent.iterdir()) == [NAME, NAME + ".meta.json"]


def test_always_dropped_connection_fails_and_leaves_no_file(server: Server, tmp_path: Path) -> None:
    server.handler = lambda h: serve_dropped(h, GZ)
    cache = tmp_path / "cache"
    (cache / "2024-01-14").mkdir(parents=True)  # an unrelated earlier day stays as it is
    before = snapshot(cache)

    with pytest.raises(DownloadError) as exc:
        download(NAME, D1, server.url, cache, **FAST)

    msg = str(exc.value)
    assert msg.startswith(f"{NAME}: truncated body: got {len(GZ) // 2} of {len(GZ)} bytes")
    assert f"from {server.url}/{NAME} after 4 attempts" in msg
    assert server.count == 4
    assert snapshot(cache) == before


def test_body_shorter_than_content_length_without_drop_is_detected(server: Server, tmp_path: Path) -> None:
    # Unknown-length body (no Content-Length, connection close) cut inside the gzip stream: only the gzip
    # trailer can tell, and a second attempt may succeed.
    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.end_headers()
        h.wfile.write(GZ[:-20] if server.count == 1 else GZ)
        h.close_connection = True

    server.handler = handler
    res = download(NAME, D1, server.url, tmp_path / "cache", **FAST)
    assert server.count == 2
    assert res.path.read_bytes() == GZ


def test_timeout_is_retried(server: Server, tmp_path: Path) -> None:
    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        if server.count == 1:
            time.sleep(1.0)
        serve_bytes(h, GZ)

    server.handler = handler
    res = download(NAME, D1, server.url, tmp_path / "cache", retries=2, backoff=0.001, timeout=0.3)
    assert res.status == "downloaded"
    assert server.count == 2


# --------------------------------------------------------------------------------------------------------
# Errors that are not retried.


def test_404_fails_at_once_naming_file_and_url(server: Server, tmp_path: Path) -> None:
    server.handler = lambda h: serve_status(h, 404)
    cache = tmp_path / "cache"

    with pytest.raises(DownloadError) as exc:
        download(NAME, D1, server.url, cache, **FAST)

    assert str(exc.value) == f"{NAME}: HTTP 404 from {server.url}/{NAME}"
    assert server.count == 1
    assert snapshot(cache) == {}


def _bad_crc(data: bytes) -> bytes:
    b = bytearray(data)
    b[-8] ^= 0xFF  # first byte of the CRC-32 trailer
    return bytes(b)


@pytest.mark.parametrize(
    "body, reason",
    [
        (_bad_crc(GZ), "corrupt gzip"),
        (GZ[: len(GZ) // 2], "truncated gzip"),  # served whole, with a matching Content-Length
        (TSV, "corrupt gzip"),  # not gzip at all
        (b"", "empty"),
        (GZ + b"trailing garbage", "corrupt gzip"),
    ],
    ids=["bad-crc", "truncated", "not-gzip", "empty", "trailing-garbage"],
)
def test_corrupt_gzip_fails_and_leaves_cache_unchanged(
    server: Server, tmp_path: Path, body: bytes, reason: str
) -> None:
    cache = tmp_path / "cache"
    server.handler = lambda h: serve_bytes(h, GZ, ETag='"v1"')
    download(NAME, D1, server.url, cache, **FAST)
    before = snapshot(cache)
    server.handler = lambda h: serve_bytes(h, body, ETag='"v2"')

    with pytest.raises(DownloadError, match=reason) as exc:
        download(NAME, D2, server.url, cache, **FAST)

    assert NAME in str(exc.value) and f"{server.url}/{NAME}" in str(exc.value)
    assert server.count == 2  # the server's file is bad: asking again would not help
    assert snapshot(cache) == before


def test_multi_member_gzip_is_valid(server: Server, tmp_path: Path) -> None:
    body = gzip.compress(TSV[:100], mtime=0) + gzip.compress(TSV[100:], mtime=0)
    server.handler = lambda h: serve_bytes(h, body)
    res = download(NAME, D1, server.url, tmp_path / "cache", **FAST)
    assert gzip.decompress(res.path.read_bytes()) == TSV


# --------------------------------------------------------------------------------------------------------
# Local sources.


def test_file_url_copies_and_verifies(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / NAME).write_bytes(GZ)
    cache = tmp_path / "cache"

    res = download(NAME, D1, src.as_uri(), cache)
    assert res.status == "downloaded"
    assert res.url == (src / NAME).as_uri()
    assert res.path.read_bytes() == GZ
    assert json.loads(meta_path(res.path).read_text())["bytes"] == len(GZ)
    assert download(NAME, D1, src.as_uri() + "/", cache).status == "cached"

    # a plain directory path works the same way
    assert download(NAME, D2, str(src), cache).path.read_bytes() == GZ

    before = snapshot(cache)
    (src / NAME).write_bytes(_bad_crc(GZ))
    with pytest.raises(DownloadError, match="corrupt gzip") as exc:
        download(NAME, dt.date(2024, 1, 17), src.as_uri(), cache)
    assert str(src / NAME) in str(exc.value)
    assert snapshot(cache) == before

    with pytest.raises(DownloadError, match="not found"):
        download("title.basics.tsv.gz", dt.date(2024, 1, 17), src.as_uri(), cache)
    assert snapshot(cache) == before


def test_unsupported_scheme_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ftp"):
        download(NAME, D1, "ftp://example.com/", tmp_path)


# --------------------------------------------------------------------------------------------------------
# Several files.


@pytest.mark.parametrize("progress", [False, True])
def test_download_all(server: Server, tmp_path: Path, progress: bool) -> None:
    bodies = {NAME: GZ, "title.basics.tsv.gz": gzip.compress(b"tconst\ttitleType\ntt1\tmovie\n")}
    server.handler = lambda h: serve_bytes(h, bodies[h.path.lstrip("/")])
    cache = tmp_path / "cache"

    results = download_all(list(bodies), D1, server.url, cache, progress=progress, **FAST)

    assert [r.status for r in results] == ["downloaded", "downloaded"]
    assert [r.path.read_bytes() for r in results] == list(bodies.values())
    again = download_all(list(bodies), D1, server.url, cache, progress=progress)
    assert [r.status for r in again] == ["cached", "cached"]
    assert server.count == 2


def test_gz_labelled_content_encoding_gzip_is_stored_as_served(server: Server, tmp_path: Path) -> None:
    # Some servers label .gz files "Content-Encoding: gzip"; the cache must hold the .gz, not the TSV.
    server.handler = lambda h: serve_bytes(h, GZ, Content_Encoding="gzip")
    res = download(NAME, D1, server.url, tmp_path / "cache", **FAST)
    assert res.path.read_bytes() == GZ
    assert server.requests[0][1]["Accept-Encoding"] == "identity"


# --------------------------------------------------------------------------------------------------------
# What the cache refuses to keep, and deadlines.

HEADER = b"tconst\taverageRating\tnumVotes"


def test_a_gzipped_html_page_is_quarantined_not_cached(server: Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    page = gzip.compress(b"<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>\n")
    server.handler = lambda h: serve_bytes(h, page)

    with pytest.raises(DownloadError, match="not the header") as exc:
        download(NAME, D1, server.url, cache, header=HEADER, **FAST)

    assert not (cache / D1.isoformat() / NAME).exists()  # the date is not broken: the next run asks again
    kept = [p for p in (tmp_path / "quarantine" / D1.isoformat()).iterdir() if not p.name.endswith(".reason.txt")]
    assert len(kept) == 1 and kept[0].read_bytes() == page and str(kept[0]) in str(exc.value)
    assert "DOCTYPE" in kept[0].with_name(kept[0].name + ".reason.txt").read_text()
    server.handler = lambda h: serve_bytes(h, GZ)
    assert download(NAME, D1, server.url, cache, header=HEADER, **FAST).status == "downloaded"


def test_a_bad_cached_file_is_quarantined_and_fetched_again(server: Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    server.handler = lambda h: serve_bytes(h, GZ)
    cached = download(NAME, D1, server.url, cache, **FAST).path
    cached.write_bytes(gzip.compress(b"<html>oops</html>\n"))  # e.g. cached by an older version without checks

    result = download(NAME, D1, server.url, cache, header=HEADER, **FAST)

    assert result.status == "downloaded" and gzip.decompress(result.path.read_bytes()) == TSV
    assert any((tmp_path / "quarantine" / D1.isoformat()).glob(f"{NAME}.*.reason.txt"))


def test_stale_part_files_of_a_killed_run_are_removed(server: Server, tmp_path: Path) -> None:
    day = tmp_path / "cache" / D1.isoformat()
    day.mkdir(parents=True)
    stale = [day / f".{NAME}.part-0123456789ab", day / f".{NAME}.meta.json.part-ba9876543210"]
    for p in stale:
        p.write_bytes(b"half a file")
    server.handler = lambda h: serve_bytes(h, GZ)
    download(NAME, D1, server.url, tmp_path / "cache", **FAST)
    assert not any(p.exists() for p in stale)


def serve_trickle(h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    """A server that sends a byte every 50 ms: no single read ever times out."""
    h.send_response(200)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    try:
        for i in range(len(body)):
            h.wfile.write(body[i : i + 1])
            h.wfile.flush()
            time.sleep(0.05)
    except OSError:  # the client gave up
        pass


def test_a_trickling_server_hits_the_whole_file_deadline(server: Server, tmp_path: Path) -> None:
    server.handler = lambda h: serve_trickle(h, GZ)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="deadline"):
        download(NAME, D1, server.url, tmp_path / "cache", deadline=2, **FAST)
    assert time.monotonic() - started < 30  # the per-read timeout (5 s) never fired: the deadline did
    assert server.count == 1  # a deadline is not retried
    assert snapshot(tmp_path / "cache" / D1.isoformat()) == {}
