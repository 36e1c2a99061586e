"""The API's answer cache and header parsing, without services (api.middleware)."""

from __future__ import annotations

import pytest

from api.middleware import Answer, AnswerStore, accepts_gzip, etag_matches


def answer(n: int) -> Answer:
    return Answer(b"x" * n, b"application/json", b'W/"1.a"')


def test_the_store_keeps_one_generation_and_forgets_the_older_one() -> None:
    store = AnswerStore(max_entries=10, max_bytes=10_000)
    store.put("1-a", b"q", answer(10))
    assert store.get("1-a", b"q") is not None
    assert store.get("2-b", b"q") is None  # a newer publish: never the old answer
    store.put("2-b", b"r", answer(10))
    assert store.get("1-a", b"q") is None and len(store) == 1


def test_the_store_evicts_the_least_recently_used_past_its_entries_and_bytes() -> None:
    store = AnswerStore(max_entries=2, max_bytes=10_000)
    for key in (b"a", b"b"):
        store.put("1", key, answer(10))
    store.get("1", b"a")  # a is now the most recent
    store.put("1", b"c", answer(10))
    assert store.get("1", b"b") is None and store.get("1", b"a") is not None

    small = AnswerStore(max_entries=100, max_bytes=2 * answer(1000).size)
    for key in (b"a", b"b", b"c"):
        small.put("1", key, answer(1000))
    assert len(small) == 2 and small.bytes <= small.max_bytes
    kept = small.get("1", b"c")
    before = kept.size
    kept.gzipped = b"z" * 500
    small.grew(b"c", kept, before)
    assert small.bytes == sum(small.get("1", k).size for k in (b"b", b"c"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (b"", False),
        (b"gzip", True),
        (b"br, gzip;q=0.8", True),
        (b"deflate, br", False),
        (b"gzip;q=0", False),
        (b"*", True),
        (b"GZIP", True),
    ],
)
def test_accept_encoding(value: bytes | None, expected: bool) -> None:
    assert accepts_gzip(value) is expected


def test_if_none_match_compares_weakly_and_takes_lists_and_star() -> None:
    etag = b'W/"3-ff.abc"'
    assert etag_matches(etag, etag)
    assert etag_matches(b'"3-ff.abc"', etag)
    assert etag_matches(b'"other", W/"3-ff.abc"', etag)
    assert etag_matches(b"*", etag)
    assert not etag_matches(b'W/"2-ee.abc"', etag)
