"""Plain ASGI middlewares in front of the FastAPI routes: they run on every request, so they stay small.
Outermost first:

`BodyLimit`: request bodies are read here, up to `max_body_bytes` (413 past it).

`AnswerCache`: the KPI and status tables change only when a publish swaps them in, so an answer is valid
until the next publish generation (api.generation). Answers are kept per worker, keyed by the generation and
the request (method, path, query string, body), and sent straight from here, without routing, validation or
a database round trip. GET answers carry a weak `ETag` derived from the same key, and a matching
`If-None-Match` gets 304 (with the answer cache on or off). When the generation cannot be vouched for, answers
come from the database, uncached and without ETag. Large answers are gzip-compressed for clients that accept
it (compressed once per cached answer).

`InFlightLimit`: at most `max_in_flight` requests doing work per worker; past that a fast 503 with
`Retry-After`, so a crowd gets quick refusals instead of time-outs and the worker stays responsive. /health
is exempt, so it is answered whatever the load.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from api.generation import PublishWatch

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Which process answered: lets an operator (and the tests) see that every worker serves the same generation.
WORKER_ID = os.urandom(4).hex().encode()
RETRY_AFTER_SECONDS = 1
JSON = b"application/json"


async def send_json(send: Send, status: int, content: Any, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = orjson.dumps(content)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", JSON), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


class BodyLimit:
    """Reads request bodies here, up to `max_body_bytes` (413 past it), so nothing after it buffers an
    unbounded body; the body is then replayed to the app."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            body = await self._read_body(scope, receive)
            if body is None:
                await send_json(send, 413, {"detail": f"the request body is larger than {self.max_body_bytes} bytes"})
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None when it is (or says it will be) over the limit."""
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


class InFlightLimit:
    """At most `max_in_flight` requests in progress in this worker; past that a fast 503 with Retry-After.

    It sits behind the answer cache: what reaches it is work (a query, or the cache off), and answers
    already cached are sent without counting, so a crowd asking what is cached never meets the bound.
    /health is exempt."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int, exempt: frozenset[str] = frozenset({"/health"})) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.exempt = exempt
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await send_json(
                send,
                503,
                {
                    "detail": f"the API is at capacity ({self.max_in_flight} requests in progress in this worker); "
                    f"retry after {RETRY_AFTER_SECONDS} s"
                },
                [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
            )
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # then whatever comes next (a disconnect)

    return replay


@dataclass
class Answer:
    body: bytes
    content_type: bytes
    etag: bytes
    gzipped: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + 200


class AnswerStore:
    """A per-worker LRU bounded by entries and bytes, holding answers of one publish generation."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.generation: str | None = None
        self.bytes = 0
        self._answers: OrderedDict[bytes, Answer] = OrderedDict()

    def get(self, generation: str, key: bytes) -> Answer | None:
        if generation != self.generation:
            return None
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, generation: str, key: bytes, answer: Answer) -> None:
        if generation != self.generation:
            # Answers of an older generation can never be served again: start over.
            self._answers.clear()
            self.bytes, self.generation = 0, generation
        if key in self._answers:
            self.bytes -= self._answers.pop(key).size
        self._answers[key] = answer
        self.bytes += answer.size
        while len(self._answers) > self.max_entries or self.bytes > self.max_bytes:
            self.bytes -= self._answers.popitem(last=False)[1].size

    def grew(self, key: bytes, answer: Answer, before: int) -> None:
        """Account for a gzipped copy added to a kept answer (if it is still kept)."""
        if self._answers.get(key) is answer:
            self.bytes += answer.size - before

    def __len__(self) -> int:
        return len(self._answers)


def accepts_gzip(value: bytes | None) -> bool:
    if not value:
        return False
    for part in value.split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip().lower() in (b"gzip", b"*"):
            q = params.strip().lower()
            return not (q.startswith(b"q=") and float(q[2:] or b"0") == 0)
    return False


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """Weak comparison (RFC 9110 13.1.2), `*` included."""
    if if_none_match.strip() == b"*":
        return True
    bare = etag.removeprefix(b"W/")
    return any(tag.strip().removeprefix(b"W/") == bare for tag in if_none_match.split(b","))


class AnswerCache:
    def __init__(
        self,
        app: ASGIApp,
        *,
        watch: PublishWatch,
        paths: frozenset[str],
        enabled: bool,
        max_entries: int,
        max_bytes: int,
        gzip_min_bytes: int,
    ) -> None:
        self.app = app
        self.watch = watch
        self.paths = paths
        self.enabled = enabled
        self.store = AnswerStore(max_entries, max_bytes)
        self.gzip_min_bytes = gzip_min_bytes
        self._pending: dict[tuple[str, bytes], asyncio.Future[Answer | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        gzip_ok = accepts_gzip(header(scope, b"accept-encoding"))
        generation = self.watch.current() or await self.watch.fresh()
        if generation is None:  # cannot vouch for freshness: straight to the database, nothing kept
            await self._forward(scope, receive, send, gzip_ok, None, None, b"BYPASS")
            return

        body = b""
        if method == "POST":  # BodyLimit already read it (bounded) and replays it
            message = await receive()
            body = message.get("body", b"")
            receive = _replay(body, receive)
        # "/x" and "/x/" answer alike (see routes); the body is part of a POST's question
        key = b"\0".join((method.encode(), scope["path"].rstrip("/").encode(), scope["query_string"], body))
        etag = None
        if method == "GET":
            digest = hashlib.blake2b(key, digest_size=12).hexdigest()
            etag = f'W/"{generation}.{digest}"'.encode()
            if_none_match = header(scope, b"if-none-match")
            if if_none_match is not None and etag_matches(if_none_match, etag):
                await send({"type": "http.response.start", "status": 304, "headers": self._validators(etag)})
                await send({"type": "http.response.body", "body": b""})
                return

        if not self.enabled:
            await self._forward(scope, receive, send, gzip_ok, etag, None, b"OFF")
            return
        if (answer := self.store.get(generation, key)) is not None:
            await self._send_answer(send, answer, gzip_ok, b"HIT", key)
            return
        # One query per question: requests that miss while the same answer is being computed (the crowd right
        # after a publish or a start) wait for it instead of each asking the database.
        pending = self._pending.get((generation, key))
        if pending is not None:
            answer = await asyncio.shield(pending)
            if answer is not None:
                await self._send_answer(send, answer, gzip_ok, b"HIT", key)
                return
            await self._forward(scope, receive, send, gzip_ok, etag, None, b"MISS")
            return
        pending = self._pending[(generation, key)] = asyncio.get_running_loop().create_future()
        answer = None
        try:
            answer = await self._forward(scope, receive, send, gzip_ok, etag, (generation, key), b"MISS")
        finally:
            del self._pending[(generation, key)]
            pending.set_result(answer)  # None (an error, or no 200): the waiting requests ask themselves

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        gzip_ok: bool,
        etag: bytes | None,
        store: tuple[str, bytes] | None,
        cache_state: bytes,
    ) -> Answer | None:
        """Run the route, collect its answer; keep a 200 (when `store`), and send it with the cache headers.
        Returns the 200's Answer (None for anything else)."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, collect)
        finally:
            if start is not None and start["status"] != 200:
                # Errors (404, 422, 503) pass as they are, never kept and without validators.
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks)})
        if start is None or start["status"] != 200:
            return None
        content_type = next((v for k, v in start["headers"] if k == b"content-type"), JSON)
        answer = Answer(b"".join(chunks), content_type, etag or b"")
        if store is not None and self.watch.current() == store[0]:  # a publish meanwhile: keep nothing stale
            self.store.put(*store, answer)
        await self._send_answer(send, answer, gzip_ok, cache_state, store[1] if store else None)
        return answer

    def _validators(self, etag: bytes | None) -> list[tuple[bytes, bytes]]:
        # `no-cache`: clients may keep the answer but revalidate it (a 304 costs no database work), so no
        # client serves an answer older than the current publish.
        headers = [(b"cache-control", b"no-cache"), (b"vary", b"accept-encoding"), (b"x-api-worker", WORKER_ID)]
        if etag:
            headers.append((b"etag", etag))
        return headers

    async def _send_answer(
        self, send: Send, answer: Answer, gzip_ok: bool, cache_state: bytes, kept_as: bytes | None = None
    ) -> None:
        body = answer.body
        headers = [(b"content-type", answer.content_type), *self._validators(answer.etag), (b"x-cache", cache_state)]
        if gzip_ok and len(body) >= self.gzip_min_bytes:
            if answer.gzipped is None:
                before = answer.size
                answer.gzipped = gzip.compress(body, compresslevel=5, mtime=0)
                if kept_as is not None:
                    self.store.grew(kept_as, answer, before)
            body = answer.gzipped
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
