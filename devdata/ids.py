"""The ids of the synthetic snapshots: tconst/nconst spread over IMDb's real ranges, cut into chunks by their
leading digits so that each chunk is generated on its own and the file stays sorted by key as text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devdata.vocabulary import FULL_NAMES, FULL_TITLES, NAME_ID_SPAN, TITLE_ID_SPAN

# --------------------------------------------------------------------------------------------- ids


@dataclass(frozen=True)
class _Shape:
    """Row counts and id spacing for one scale."""

    n_titles: int
    n_names: int
    title_gap: int  # mean distance between consecutive tconst numbers
    name_gap: int  # >= 2: the last slot of each gap is never used, which gives free dangling nconsts

    @classmethod
    def for_scale(cls, scale: float) -> _Shape:
        n_titles = max(1, round(FULL_TITLES * scale))
        n_names = max(1, round(FULL_NAMES * scale))
        return cls(n_titles, n_names, max(1, TITLE_ID_SPAN // n_titles), max(2, NAME_ID_SPAN // n_names))

    def tconst_num(self, i: int) -> int:
        g = self.title_gap
        return i * g + (i * 7919) % g + 1  # strictly increasing in i, irregular gaps like IMDb's

    def nconst_num(self, p: int) -> int:
        g = self.name_gap
        return p * g + (p * 7919) % (g - 1) + 1


def _prefixes(n: int) -> list[str]:
    """The chunks of a file: ids grouped by their leading digits, so chunks in this order are in text order.

    A chunk is generated from its own seeded RNG, so the output does not depend on how many processes
    share the work. Few chunks for small files (each costs a compressor and an RNG seeding).
    """
    digits = 1 if n < 20_000 else 2 if n < 400_000 else 3
    return [f"{k:0{digits}d}" for k in range(10**digits)]


def _first_at_least(num: Callable[[int], int], n: int, value: int) -> int:
    """The first index in 0..n whose number is >= value (num is increasing)."""
    a, b = 0, n
    while a < b:
        mid = (a + b) // 2
        if num(mid) < value:
            a = mid + 1
        else:
            b = mid
    return a


def _chunk_ids(letters: str, prefix: str, n: int, num: Callable[[int], int]) -> list[str]:
    """Ids ("tt0123456") of indexes 0..n-1 whose digits start with `prefix`, sorted as text like IMDb.

    IMDb's files are sorted as text, not by number (the real title.basics ends with tt9916880, and
    tt10001008 comes before tt1000101), so 7-digit and 8-digit ids interleave.
    """
    p, d = int(prefix), len(prefix)
    top = num(n - 1)
    ids: list[str] = []
    width = 7
    while width == 7 or 10 ** (width - 1) <= top:
        lo = max(p * 10 ** (width - d), 10 ** (width - 1) if width > 7 else 0)
        hi = min((p + 1) * 10 ** (width - d), 10**width)
        if lo < hi:
            a, b = _first_at_least(num, n, lo), _first_at_least(num, n, hi)
            ids.extend(f"{letters}{num(i):0{width}d}" for i in range(a, b))
        width += 1
    ids.sort()
    return ids


def _id_num(key: bytes) -> int:
    return int(key[2:])
