"""Fetch IMDb dataset files into the per-run-date cache: DATA_DIR/cache/<run_date>/<name>.tsv.gz.

Guarantees (see SPEC, "Data flow"):

- A file already in the run date's cache is never requested again, so re-running a day is free and
  reproducible: landing reads exactly the bytes the first attempt of that day saw.
- A file enters the cache whole or not at all. It is streamed to a hidden temp file in the same directory,
  its gzip stream is decompressed to the end while it arrives (bad CRC, garbage or truncation is an
  error), it is fsynced and then renamed into place; the directory is fsynced after the rename. On any
  error the cache is left exactly as it was.
- Each cached file has a sidecar `<file>.meta.json` (url, etag, last_modified, sha256, bytes,
  downloaded_at). A later run date sends a conditional GET based on the newest earlier copy; a 304 reuses
  that copy (hardlinked, or copied across file systems) instead of pulling up to 740 MB again.
- Connection errors, timeouts, 5xx (and 408/429) and bodies cut short are retried with exponential
  backoff; other 4xx fail at once, since asking again cannot help.

Sources: http(s)://, file:// and a plain local directory (the bundled sample served from disk).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import gzip
import hashlib
import http.client
import json
import logging
import os
import secrets
import shutil
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import requests
import urllib3.exceptions

from core import config

log = logging.getLogger(__name__)

Status = Literal["cached", "not_modified", "downloaded"]
# Called with (bytes received so far in the current attempt, expected total or None). It restarts at 0
# when an attempt is retried, so a progress bar never counts a dropped attempt twice.
ProgressHook = Callable[[int, int | None], None]

CHUNK_SIZE = 1 << 20  # 1 MiB: large enough for throughput, small enough to keep memory flat
MAX_INFLATE_OUT = 4 << 20  # cap on decompressed bytes held at once while verifying (gzip expands ~1000x max)
MAX_BACKOFF = 60.0  # seconds; keeps a long retry series from sleeping for minutes
HEAD_MAX = 64 << 10  # the header line is looked for in the first 64 KiB of decompressed data
# A whole file's download, all attempts and waits included, must end within this; a server that trickles bytes
# defeats a per-read timeout. Sized for the 740 MB principals file at 0.2 MB/s with margin.
DEFAULT_DEADLINE = config.settings().download_deadline_seconds  # IMDB_DOWNLOAD_DEADLINE_SECONDS
META_SUFFIX = ".meta.json"
USER_AGENT = "imdb-lakehouse/0.1 (+python-requests)"
# 408 and 429 are "come back later" answers, not client mistakes, so they are retried like 5xx.
RETRYABLE_4XX = frozenset({408, 429})


class DownloadError(Exception):
    """A dataset file could not be fetched or failed verification; the cache was left unchanged."""


@dataclass(frozen=True)
class DownloadResult:
    path: Path  # the file in cache_dir/<run_date>/
    status: Status
    bytes: int  # size of the cached file
    seconds: float  # wall time spent in download(), retries and backoff included
    url: str  # where the file came from (file:// URI for local sources)


# --------------------------------------------------------------------------------------------------------
# Internal error kinds: _Retryable is worth another attempt, everything else ends the download.


class _Retryable(Exception):
    pass


# What a dropped or stalled connection looks like, before or during the body. raw.stream() raises urllib3's
# own exceptions (ProtocolError for a short body, ReadTimeoutError), not requests' wrappers.
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


class _CorruptGzip(Exception):
    pass


class _TruncatedGzip(_CorruptGzip):
    pass


class _WrongContent(_CorruptGzip):
    """A whole gzip, but not the file asked for (an HTML error page served with status 200, say)."""


class _Deadline(Exception):
    pass


class _GzipVerifier:
    """Inflate a gzip stream incrementally and throw the output away, to prove the file is complete.

    zlib checks each member's CRC-32 and length trailer, so reaching the end of every member means the
    data is intact. Multi-member files (concatenated gzips, as `cat a.gz b.gz` makes) are valid gzip and
    are followed member by member. Memory stays bounded by MAX_INFLATE_OUT whatever the compression ratio.
    """

    def __init__(self) -> None:
        self._inflater = self._new()
        self._member_started = False  # the current member has received input
        self.members = 0
        self.uncompressed = 0
        self.head = b""  # the first decompressed bytes, up to the first newline (the header line)
        self._head_done = False

    @staticmethod
    def _new() -> Any:
        # wbits=31: gzip wrapper only (a zlib-wrapped or raw deflate body is not a .gz file)
        return zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> None:
        try:
            while True:
                if data:
                    self._member_started = True
                out = self._inflater.decompress(data, MAX_INFLATE_OUT)
                self.uncompressed += len(out)
                if not self._head_done and out:
                    self.head += out[: HEAD_MAX - len(self.head)]
                    cut = self.head.find(b"\n")
                    if cut >= 0 or len(self.head) >= HEAD_MAX:
                        self.head, self._head_done = self.head[: cut if cut >= 0 else HEAD_MAX], True
                if self._inflater.eof:
                    self.members += 1
                    data = self._inflater.unused_data
                    self._inflater = self._new()
                    self._member_started = False
                    if not data:
                        return
                    continue
                data = self._inflater.unconsumed_tail
                # A full output buffer may leave inflated bytes pending inside zlib: drain before leaving.
                if not data and len(out) < MAX_INFLATE_OUT:
                    return
        except zlib.error as e:
            raise _CorruptGzip(f"corrupt gzip ({e})") from e

    def finish(self) -> None:
        if self._member_started:
            raise _TruncatedGzip("truncated gzip stream (ends inside a member)")
        if self.members == 0:
            raise _CorruptGzip("corrupt gzip (empty file)")


# --------------------------------------------------------------------------------------------------------
# Small file-system helpers.


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable (the file's own fsync does not cover its name)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_path(directory: Path, name: str) -> Path:
    # Hidden and unique, in the target's directory so that os.replace is a same-filesystem atomic rename.
    return directory / f".{name}.part-{secrets.token_hex(6)}"


def _open_new(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    return os.fdopen(fd, "wb")


def _unlink_quietly(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def meta_path(cached_file: Path) -> Path:
    """The sidecar metadata file of a cached dataset file."""
    return cached_file.with_name(cached_file.name + META_SUFFIX)


def read_meta(cached_file: Path) -> dict[str, Any] | None:
    """The sidecar of a cached file, or None when it is missing or unreadable."""
    try:
        meta = json.loads(meta_path(cached_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _makedirs(path: Path) -> list[Path]:
    """mkdir -p that reports the directories it created, so a failed download can remove them again."""
    created: list[Path] = []
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
            created.append(d)
        except FileExistsError:  # another process made it meanwhile: not ours to remove
            pass
        _fsync_dir(d.parent)
    return created


def _remove_if_empty(dirs: list[Path]) -> None:
    for d in reversed(dirs):
        with contextlib.suppress(OSError):  # not empty (a concurrent writer) or gone: leave it
            d.rmdir()


# --------------------------------------------------------------------------------------------------------
# Sources.


@dataclass(frozen=True)
class _Source:
    url: str  # what we report and record
    local: Path | None  # set for file:// and plain paths


def _source(base_url: str, dataset_file: str) -> _Source:
    """Join base URL and file name, whether or not the base ends with a slash."""
    if "/" in dataset_file or dataset_file in ("", ".", ".."):
        raise ValueError(f"dataset_file must be a plain file name, got {dataset_file!r}")
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return _Source(url=base_url.rstrip("/") + "/" + dataset_file, local=None)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file:// URL with a remote host is not supported: {base_url}")
        directory = Path(url2pathname(unquote(parts.path)))
    elif scheme == "":
        directory = Path(base_url).expanduser().resolve()
    else:
        raise ValueError(f"unsupported scheme {parts.scheme!r} in base URL {base_url!r}")
    path = directory / dataset_file
    return _Source(url=path.absolute().as_uri(), local=path)


def _previous_copy(cache_dir: Path, run_date: dt.date, dataset_file: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest copy of the file cached for a date before run_date, with its sidecar.

    Copies without a sidecar, or whose size disagrees with it (damaged since), are skipped: they cannot
    support a conditional request.
    """
    if not cache_dir.is_dir():
        return None
    dated: list[tuple[dt.date, Path]] = []
    for d in cache_dir.iterdir():
        try:
            day = dt.date.fromisoformat(d.name)
        except ValueError:
            continue
        # fromisoformat also accepts "20240101"; only our own YYYY-MM-DD folders count
        if d.name == day.isoformat() and day < run_date and d.is_dir():
            dated.append((day, d))
    for _day, d in sorted(dated, reverse=True):
        f = d / dataset_file
        meta = read_meta(f)
        if meta is None or not f.is_file():
            continue
        if f.stat().st_size != meta.get("bytes"):
            log.warning("%s: cached copy %s does not match its sidecar; not reusing it", dataset_file, f)
            continue
        return f, meta
    return None


# --------------------------------------------------------------------------------------------------------
# Writing one file into the cache.


@dataclass
class _Received:
    nbytes: int
    sha256: str


def _write_stream(
    chunks: Iterator[bytes],
    tmp: Path,
    expected: int | None,
    verify: bool,
    on_progress: ProgressHook | None,
    header: bytes | None = None,
    deadline: float | None = None,
) -> _Received:
    """Write chunks to tmp while hashing and verifying them; fsync. Raises on a short body, a bad gzip, a first
    line other than `header`, or the monotonic `deadline` passing."""
    hasher = hashlib.sha256()
    verifier = _GzipVerifier() if verify else None
    n = 0
    with _open_new(tmp) as fh:
        if on_progress:
            on_progress(0, expected)
        try:
            for chunk in chunks:
                if deadline is not None and time.monotonic() > deadline:
                    raise _Deadline(f"got {n} bytes")
                if not chunk:
                    continue
                fh.write(chunk)
                hasher.update(chunk)
                if verifier:
                    verifier.feed(chunk)
                n += len(chunk)
                if on_progress:
                    on_progress(n, expected)
        except _NETWORK_ERRORS as e:
            # Say how far we got: "got N of M bytes" tells a dropped connection from a server-side problem.
            of = f" of {expected}" if expected is not None else ""
            raise _Retryable(f"truncated body: got {n}{of} bytes ({type(e).__name__})") from e
        if expected is not None and n != expected:
            raise _Retryable(f"truncated body: got {n} of {expected} bytes")
        if verifier:
            try:
                verifier.finish()
            except _TruncatedGzip as e:
                if expected is None:
                    # Without Content-Length a connection closed early looks like a complete body; the gzip
                    # trailer is then the only evidence, and another attempt may well get the whole file.
                    raise _Retryable(f"truncated body: {e}") from e
                raise
            if header is not None and verifier.head.rstrip(b"\r") != header:
                raise _WrongContent(
                    f"a whole gzip, but its first line is {verifier.head[:120]!r}, not the header {header!r} "
                    "(an error page served as the file?)"
                )
        fh.flush()
        os.fsync(fh.fileno())
    return _Received(nbytes=n, sha256=hasher.hexdigest())


def _commit(tmp: Path, target: Path, meta: dict[str, Any]) -> None:
    """Move a complete temp file into place with its sidecar.

    The sidecar is renamed first and the data file last: the data file is the commit point ("in the
    cache"), and a crash in between leaves at most a sidecar without data, which the next run overwrites.
    """
    meta_tmp = _temp_path(target.parent, target.name + META_SUFFIX)
    try:
        with _open_new(meta_tmp) as fh:
            fh.write(json.dumps(meta, indent=2, sort_keys=True).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(meta_tmp, meta_path(target))
    except BaseException:
        _unlink_quietly(meta_tmp)
        raise
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _http_attempts(
    name: str,
    url: str,
    day_dir: Path,
    previous: tuple[Path, dict[str, Any]] | None,
    session: requests.Session,
    retries: int,
    backoff: float,
    timeout: float,
    on_progress: ProgressHook | None,
    header: bytes | None = None,
    deadline: float | None = None,
) -> tuple[Status, dict[str, Any], Path | None]:
    """Run the GET with retries. Returns (status, sidecar, temp file with the body or None for a 304).
    `deadline` (monotonic) bounds all attempts and waits together: a watchdog cuts a transfer still running
    then, however slowly the bytes arrive."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if previous is not None:
        prev_meta = previous[1]
        # Validators are only meaningful for the URL that issued them (the base URL may have changed
        # between runs, e.g. sample data one day and the real site the next).
        if prev_meta.get("url") == url:
            if prev_meta.get("etag"):
                headers["If-None-Match"] = prev_meta["etag"]
            if prev_meta.get("last_modified"):
                headers["If-Modified-Since"] = prev_meta["last_modified"]
    conditional = "If-None-Match" in headers or "If-Modified-Since" in headers

    attempts = retries + 1
    for attempt in range(attempts):
        tmp: Path | None = None
        wait = min(backoff * 2**attempt, MAX_BACKOFF)
        watchdog: threading.Timer | None = None
        cut = threading.Event()
        try:
            if deadline is not None and time.monotonic() > deadline:
                raise _Deadline("before the next attempt")
            with session.get(url, headers=headers, stream=True, timeout=timeout) as r:
                if deadline is not None:
                    watchdog = threading.Timer(max(deadline - time.monotonic(), 0), _cut_connection, (r, cut))
                    watchdog.daemon = True
                    watchdog.start()
                if r.status_code == 304 and conditional:
                    meta = dict(previous[1]) if previous else {}
                    # A 304 may carry refreshed validators; keep them for tomorrow's request.
                    for key, header in (("etag", "ETag"), ("last_modified", "Last-Modified")):
                        if r.headers.get(header):
                            meta[key] = r.headers[header]
                    return "not_modified", meta, None
                if r.status_code >= 500 or r.status_code in RETRYABLE_4XX:
                    ra = _retry_after(r)
                    if ra is not None:
                        wait = min(max(wait, ra), MAX_BACKOFF)
                    raise _Retryable(f"HTTP {r.status_code}")
                if r.status_code != 200:
                    raise DownloadError(f"{name}: HTTP {r.status_code} from {url}")
                cl = r.headers.get("Content-Length")
                expected = int(cl) if cl and cl.strip().isdigit() else None
                tmp = _temp_path(day_dir, name)
                # raw, undecoded bytes: a server that labels a .gz file "Content-Encoding: gzip" must not
                # make us store the decompressed TSV; Content-Length counts these bytes too.
                received = _write_stream(
                    r.raw.stream(CHUNK_SIZE, decode_content=False),
                    tmp,
                    expected,
                    name.endswith(".gz"),
                    on_progress,
                    header,
                    deadline,
                )
                meta = {
                    "url": url,
                    "etag": r.headers.get("ETag"),
                    "last_modified": r.headers.get("Last-Modified"),
                    "sha256": received.sha256,
                    "bytes": received.nbytes,
                }
                return "downloaded", meta, tmp
        except _Deadline as e:
            _unlink_quietly(tmp)
            raise DownloadError(f"{name}: not downloaded within its deadline ({e}) from {url}") from e
        except (_Retryable, *_NETWORK_ERRORS) as e:
            _unlink_quietly(tmp)
            if cut.is_set():
                raise DownloadError(
                    f"{name}: not downloaded within its deadline (IMDB_DOWNLOAD_DEADLINE_SECONDS) from {url}: the "
                    "transfer was still running; the server may be trickling bytes"
                ) from e
            problem = str(e) if isinstance(e, _Retryable) else f"{type(e).__name__}: {e}"
            if attempt + 1 >= attempts:
                raise DownloadError(f"{name}: {problem} from {url} after {attempts} attempts") from e
            log.warning(
                "%s: %s from %s (attempt %d of %d); retrying in %.1fs",
                name,
                problem,
                url,
                attempt + 1,
                attempts,
                wait,
            )
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0))
            time.sleep(wait)
        except _CorruptGzip as e:
            raise _BadFile(tmp, f"{e} from {url}") from e
        except OSError as e:  # local I/O (disk full, permissions): retrying the network would not help
            _unlink_quietly(tmp)
            raise DownloadError(f"{name}: cannot write to {day_dir}: {e} (while fetching {url})") from e
        except BaseException:
            _unlink_quietly(tmp)
            raise
        finally:
            if watchdog is not None:
                watchdog.cancel()
    raise AssertionError("unreachable")  # the loop returns or raises


def _cut_connection(response: requests.Response, cut: threading.Event) -> None:
    """The watchdog: shut the socket under a transfer that outlived its deadline (a blocked read returns)."""
    cut.set()
    # urllib3 hands the socket to http.client's response: HTTPResponse.fp (buffered) -> SocketIO -> socket
    sock = getattr(getattr(getattr(getattr(response.raw, "_fp", None), "fp", None), "raw", None), "_sock", None)
    if sock is not None:  # only the socket: closing the response under the reading thread breaks http.client
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _BadFile(Exception):
    """A whole body that is not the file (corrupt gzip, wrong first line); tmp holds it for the quarantine."""

    def __init__(self, tmp: Path | None, message: str) -> None:
        super().__init__(message)
        self.tmp = tmp


def quarantine_dir(cache_dir: Path, run_date: dt.date) -> Path:
    return Path(cache_dir).parent / "quarantine" / run_date.isoformat()


def _quarantine(path: Path, cache_dir: Path, run_date: dt.date, name: str, reason: str) -> Path:
    """Move a file that must not be cached aside, with the reason beside it, so the next run downloads again."""
    qdir = quarantine_dir(cache_dir, run_date)
    qdir.mkdir(parents=True, exist_ok=True)
    dest = qdir / f"{name}.{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S%f')}"
    shutil.move(str(path), dest)
    dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    log.warning("%s: quarantined as %s: %s", name, dest, reason)
    return dest


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hardlink (instant, no extra space; cache files are never modified in place) or copy as fallback."""
    try:
        os.link(src, dst)
    except OSError:
        with src.open("rb") as fin, _open_new(dst) as fout:
            shutil.copyfileobj(fin, fout, CHUNK_SIZE)
            fout.flush()
            os.fsync(fout.fileno())


# --------------------------------------------------------------------------------------------------------
# Public API.


def download(
    dataset_file: str,
    run_date: dt.date,
    base_url: str,
    cache_dir: Path,
    *,
    retries: int = 4,
    backoff: float = 0.5,
    timeout: float = 60,
    session: requests.Session | None = None,
    on_progress: ProgressHook | None = None,
    header: bytes | None = None,
    deadline: float | None = DEFAULT_DEADLINE,
) -> DownloadResult:
    """Make `cache_dir/<run_date>/<dataset_file>` exist, fetching `<base_url>/<dataset_file>` if needed.

    `retries` is the number of attempts after the first; `deadline` (seconds) bounds the whole file, attempts
    and waits included; `header`, when given, must be the file's first line. Raises DownloadError (cache
    unchanged) when the file cannot be fetched in time or is not a complete gzip stream with that header; a
    body that arrived whole but is not the file is moved to DATA_DIR/quarantine/<run_date>/ with the reason,
    and so is a cached file that turns out not to be. ValueError for an unusable base URL.
    """
    started = time.monotonic()
    source = _source(base_url, dataset_file)
    cache_dir = Path(cache_dir)
    day_dir = cache_dir / run_date.isoformat()
    target = day_dir / dataset_file
    _remove_stale_parts(day_dir, dataset_file)

    if target.is_file():
        problem = _cached_problem(target, header)
        if problem is None:
            size = target.stat().st_size
            if read_meta(target) is None:
                # Placed by hand or left by an older version: record what we know so the next run date can
                # still make a conditional request... without validators, only sha256 and size.
                log.warning("%s: cached file %s has no sidecar; writing one", dataset_file, target)
                _backfill_meta(target, source.url)
            log.info("%s: already cached for %s (%d bytes), not requested", dataset_file, run_date, size)
            return DownloadResult(target, "cached", size, time.monotonic() - started, source.url)
        _quarantine(target, cache_dir, run_date, dataset_file, f"was in the cache, but {problem}")
        _unlink_quietly(meta_path(target))

    created = _makedirs(day_dir)
    tmp: Path | None = None
    try:
        if source.local is not None:
            status, meta, tmp = _copy_local(dataset_file, source, day_dir, on_progress, header)
        else:
            previous = _previous_copy(cache_dir, run_date, dataset_file)
            own_session = session is None
            sess = session or requests.Session()
            try:
                status, meta, tmp = _http_attempts(
                    dataset_file,
                    source.url,
                    day_dir,
                    previous,
                    sess,
                    retries,
                    backoff,
                    timeout,
                    on_progress,
                    header,
                    None if deadline is None else started + deadline,
                )
            finally:
                if own_session:
                    sess.close()
            if status == "not_modified":
                assert previous is not None  # a 304 is only accepted for a conditional request
                prev_file = previous[0]
                tmp = _temp_path(day_dir, dataset_file)
                _link_or_copy(prev_file, tmp)
                meta["reused_from"] = prev_file.parent.name
                log.info("%s: not modified since %s; reusing %s", dataset_file, prev_file.parent.name, prev_file)
        meta["downloaded_at"] = _utcnow()
        _commit(tmp, target, meta)
        tmp = None
    except _BadFile as e:
        where = ""
        if e.tmp is not None and e.tmp.exists():
            where = f"; kept as {_quarantine(e.tmp, cache_dir, run_date, dataset_file, str(e))}"
        _remove_if_empty(created)
        raise DownloadError(f"{dataset_file}: {e}{where}") from e
    except BaseException:
        _unlink_quietly(tmp)
        _remove_if_empty(created)
        raise

    size = target.stat().st_size
    seconds = time.monotonic() - started
    if status == "downloaded":
        log.info(
            "%s: downloaded %d bytes from %s in %.1fs (%.1f MB/s)",
            dataset_file,
            size,
            source.url,
            seconds,
            size / 1e6 / max(seconds, 1e-6),
        )
    return DownloadResult(target, status, size, seconds, source.url)


def _copy_local(
    name: str, source: _Source, day_dir: Path, on_progress: ProgressHook | None, header: bytes | None = None
) -> tuple[Status, dict[str, Any], Path]:
    """file:// or a plain path: copy with the same verification and atomic commit as a download."""
    assert source.local is not None
    tmp = _temp_path(day_dir, name)
    try:
        with source.local.open("rb") as fin:
            st = os.fstat(fin.fileno())
            chunks = iter(lambda: fin.read(CHUNK_SIZE), b"")
            received = _write_stream(chunks, tmp, st.st_size, name.endswith(".gz"), on_progress, header)
    except FileNotFoundError as e:
        _unlink_quietly(tmp)
        raise DownloadError(f"{name}: not found: {source.local} ({source.url})") from e
    except _Retryable as e:  # the file changed size while we read it
        _unlink_quietly(tmp)
        raise DownloadError(f"{name}: {e} from {source.url} (file changed while copying)") from e
    except _CorruptGzip as e:
        raise _BadFile(tmp, f"{e} from {source.url}") from e
    except OSError as e:
        _unlink_quietly(tmp)
        raise DownloadError(f"{name}: cannot read {source.local}: {e}") from e
    except BaseException:
        _unlink_quietly(tmp)
        raise
    meta = {
        "url": source.url,
        "etag": None,
        "last_modified": email.utils.formatdate(st.st_mtime, usegmt=True),
        "sha256": received.sha256,
        "bytes": received.nbytes,
    }
    return "downloaded", meta, tmp


def _remove_stale_parts(day_dir: Path, name: str) -> None:
    """Temp files left by a run that was killed mid-download (one run at a time holds the pipeline lease)."""
    if day_dir.is_dir():
        for stale in day_dir.glob(f".{name}*.part-*"):
            log.info("%s: removing %s, left by an interrupted download", name, stale)
            _unlink_quietly(stale)


def _cached_problem(target: Path, header: bytes | None) -> str | None:
    """Why a cached file must not be used, or None. Files the cache wrote itself were verified whole when they
    arrived (only their first line is read again); a file without a sidecar was placed by hand: verified whole."""
    if read_meta(target) is None:
        verifier = _GzipVerifier()
        try:
            with target.open("rb") as fh:
                for chunk in iter(lambda: fh.read(CHUNK_SIZE), b""):
                    verifier.feed(chunk)
            verifier.finish()
        except _CorruptGzip as e:
            return str(e)
        head = verifier.head
    else:
        try:
            with gzip.open(target, "rb") as fh:
                head = fh.readline(HEAD_MAX).rstrip(b"\n")
        except (OSError, EOFError, zlib.error) as e:
            return f"it cannot be read as gzip ({e})"
    if header is not None and head.rstrip(b"\r") != header:
        return f"its first line is {head[:120]!r}, not the header {header!r}"
    return None


def _backfill_meta(target: Path, url: str) -> None:
    hasher = hashlib.sha256()
    with target.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_SIZE), b""):
            hasher.update(chunk)
    meta = {
        "url": url,
        "etag": None,
        "last_modified": None,
        "sha256": hasher.hexdigest(),
        "bytes": target.stat().st_size,
        "downloaded_at": None,
    }
    tmp = _temp_path(target.parent, target.name + META_SUFFIX)
    try:
        with _open_new(tmp) as fh:
            fh.write(json.dumps(meta, indent=2, sort_keys=True).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, meta_path(target))
        _fsync_dir(target.parent)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def download_all(
    files: Iterable[str],
    run_date: dt.date,
    base_url: str,
    cache_dir: Path,
    progress: bool = True,
    headers: dict[str, bytes] | None = None,
    **kwargs: Any,
) -> list[DownloadResult]:
    """Download several files one after the other, sharing one HTTP connection pool.

    Stops at the first DownloadError (files already fetched stay cached, so a re-run only fetches the
    rest). With progress=True a rich progress bar shows bytes, speed and time left per file. Extra keyword
    arguments (retries, backoff, timeout) go to download().
    """
    files = list(files)
    results: list[DownloadResult] = []
    with requests.Session() as session:
        if not progress:
            for f in files:
                header = (headers or {}).get(f)
                results.append(download(f, run_date, base_url, cache_dir, session=session, header=header, **kwargs))
            return results

        from rich.progress import (  # imported here: only interactive runs need it
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
        ) as bar:
            for f in files:
                task = bar.add_task(f, total=None, note="")

                def hook(done: int, total: int | None, task: Any = task) -> None:
                    bar.update(task, completed=done, total=total)

                result = download(
                    f, run_date, base_url, cache_dir, session=session, on_progress=hook, header=(headers or {}).get(f),
                    **kwargs,
                )  # fmt: skip
                bar.update(task, completed=result.bytes, total=result.bytes, note=result.status)
                results.append(result)
    return results
