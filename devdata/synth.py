"""Deterministic synthetic IMDb snapshots, in IMDb's exact file format, at any scale.

`generate(out_dir, scale)` writes the four registry files (title.basics, title.ratings, title.principals,
name.basics) as gzipped TSV shaped like the 2026 IMDb dump: at scale 1.0 that is 12.3M titles, 1.6M ratings,
15.1M people and ~98M principals; every count scales linearly. `next_day(prev_dir, out_dir, change_rate)`
reads a snapshot and writes the following day's full snapshot, with every kind of change the loader and the
dbt models must cope with (changed ratings, new and removed titles, renamed people, a titleType flip, a
principal pointing to another person).

The format follows the real files (see tests/data/heads-2024): UTF-8, LF, one header line, tabs,
`\\N` for null, never any quoting, so a raw `"` can sit anywhere in a field. Like IMDb, rows are sorted by
key *as text* (the real title.basics ends with tt9916880: "tt10001008" sorts before "tt1000101"), principals
by tconst then ordering 1..n. Like IMDb, an absent primaryProfession is an empty field rather than `\\N`.

Everything is pure Python (no numpy in the venv) and memory stays bounded at any scale. generate() cuts
each file into chunks by the leading digits of the id; a chunk is generated from its own seeded RNG and
compressed on its own, in worker processes when the scale is big enough, and the chunks are stitched into
one single-member gzip, so the bytes are the same whatever the number of processes. next_day() merge-walks
the previous files in their sorted order, copying batches and touching only the rows it changes. Output is
byte-identical for the same seed (gzip mtime is 0). Scale 1.0 costs ~7 CPU-minutes to generate and ~3 for
a next_day. Use it as `python -m ingestion synth --scale 0.01 --out /tmp/imdb`, then
`python -m ingestion synth --from /tmp/imdb --change-rate 0.01 --out /tmp/imdb-day2`.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import functools
import math
import multiprocessing
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from devdata.gzio import _deflate, _GzOut, _interleave, _key, _Piece, _read_batches
from devdata.ids import _chunk_ids, _id_num, _prefixes, _Shape
from devdata.pools import _NamePools, _TitlePools
from devdata.vocabulary import (
    _CAST,
    _CAT,
    _CAT_RANK,
    _MOVIE,
    _MOVIE_LIKE,
    BASICS,
    MAX_VOTES,
    NAMES,
    NULL,
    PRINCIPALS,
    RATINGS,
    VOTES_SIGMA,
)
from ingestion.datasets import DATASETS, Dataset

PARALLEL_MIN_TITLES = 100_000  # below this (scale < 0.008) starting worker processes costs more than it saves
MAX_WORKERS = 8

# --------------------------------------------------------------------------------------------- generate


def generate(out_dir: Path, scale: float, seed: int = 42) -> dict[str, int]:
    """Write a full synthetic snapshot (the four registry files) into out_dir; return rows per dataset."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shape = _Shape.for_scale(scale)
    title_tasks = [(shape, seed, p) for p in _prefixes(shape.n_titles)]
    name_tasks = [(shape, seed, p) for p in _prefixes(shape.n_names)]
    workers = _cpus() if shape.n_titles >= PARALLEL_MIN_TITLES else 1
    with contextlib.ExitStack() as stack:
        outs = {name: stack.enter_context(_GzOut(out_dir, ds)) for name, ds in DATASETS.items()}
        if workers > 1:
            # Workers generate and compress chunks; this process only stitches them together in order.
            # "spawn" because forking a process that may hold threads (a test runner, a server) is unsafe.
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")))
            title_pieces = pool.map(_title_chunk, title_tasks)
            name_pieces = pool.map(_name_chunk, name_tasks)
        else:
            title_pieces = map(_title_chunk, title_tasks)
            name_pieces = map(_name_chunk, name_tasks)
        for basics, ratings, principals in title_pieces:
            outs[BASICS.name].add(basics)
            outs[RATINGS.name].add(ratings)
            outs[PRINCIPALS.name].add(principals)
        for names in name_pieces:
            outs[NAMES.name].add(names)
    return {name: out.count for name, out in outs.items()}


def _cpus() -> int:
    try:
        n = len(os.sched_getaffinity(0))  # the CPUs this process may use (containers limit these)
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_WORKERS))


@functools.lru_cache(maxsize=2)
def _title_pools(seed: int) -> _TitlePools:
    return _TitlePools(seed)  # once per process, not once per chunk


@functools.lru_cache(maxsize=2)
def _name_pools(seed: int) -> _NamePools:
    return _NamePools(seed)


def _title_chunk(task: tuple[_Shape, int, str]) -> tuple[_Piece, _Piece, _Piece]:
    """title.basics, title.ratings and title.principals rows of the titles whose id starts with prefix.

    This is the hot loop (98M principals at scale 1.0): locals only, one getrandbits() feeding several
    picks, and pre-rendered text from the pools.
    """
    shape, seed, prefix = task
    pools = _title_pools(seed)
    rng = random.Random(f"{seed}:titles:{prefix}")
    getrandbits, rand, lognorm = rng.getrandbits, rng.random, rng.lognormvariate
    kind_table, movie, ratings, tails = pools.kind_table, pools.kinds[_MOVIE], pools.ratings, pools.tails
    cat_table, rank = pools.cat_table, _CAT_RANK.__getitem__
    director, writer, producer = _CAT["director"], _CAT["writer"], _CAT["producer"]
    actor, actress = _CAST
    n_people, gn = shape.n_names, shape.name_gap
    gn1 = gn - 1
    # Popular people: a power law on a person rank (3/4 of the draws) mixed with uniform draws (1/4); the
    # rank is then scrambled by a bijection so the famous are spread over the id range. At scale 1.0 the
    # busiest person gets ~20k rows, the median one ~5.
    mult = 2_654_435_761 if math.gcd(2_654_435_761, n_people) == 1 else 1
    offset = seed % n_people
    # the very first title is always a rated movie with a cast, so even a 1-title snapshot joins
    first_id = f"tt{shape.tconst_num(0):07d}"
    b_rows: list[str] = []
    r_rows: list[str] = []
    p_rows: list[str] = []
    for tc in _chunk_ids("tt", prefix, shape.n_titles, shape.tconst_num):
        first = tc == first_id
        bits = getrandbits(32)
        kind = movie if first else kind_table[bits & 16383]
        name, rated, kmin, kspan, mu, titles, years, runtimes, genres = kind
        b2 = getrandbits(32)
        adult = "1" if (b2 >> 15) & 63 == 0 else "0"  # ~1.6%
        b_rows.append(
            f"{tc}\t{name}\t{titles[b2 & 32767]}\t{adult}\t{years[(b2 >> 21) & 1023]}"
            f"\t{runtimes[bits >> 24]}\t{genres[(bits >> 14) & 1023]}\n"
        )
        if first or rand() < rated:
            votes = min(MAX_VOTES, 5 + int(lognorm(mu, VOTES_SIGMA)))
            r_rows.append(f"{tc}\t{ratings[getrandbits(10)]}\t{votes}\n")

        cats = [cat_table[getrandbits(10)] for _ in range(kmin + int(rand() * kspan))]
        if first and actor not in cats and actress not in cats:
            cats[0] = actor
        cats.sort(key=rank)
        director_num = -1
        for ordering, c in enumerate(cats, 1):
            u = rand()
            if u < 0.75:
                u *= 1.3333333333333333
                p = int(u * u * n_people)
            else:
                p = int((u - 0.75) * 4.0 * n_people)
            p = (p * mult + offset) % n_people
            b = getrandbits(22)
            hi = b >> 12
            # ~0.3% (hi < 3): the unused slot after person p, so the nconst is in no name.basics row
            num = p * gn + gn if hi < 3 else p * gn + (p * 7919) % gn1 + 1
            if c == director:
                director_num = num
            elif c in (writer, producer) and director_num >= 0 and hi >= 700:
                num = director_num  # ~30%: the director also wrote/produced (two rows, one person)
            if num >= 1_000_000:  # skipping the zero-padding format is measurably faster
                p_rows.append(f"{tc}\t{ordering}\tnm{num}\t{tails[c][b & 4095]}\n")
            else:
                p_rows.append(f"{tc}\t{ordering}\tnm{num:07d}\t{tails[c][b & 4095]}\n")
    return _deflate(b_rows), _deflate(r_rows), _deflate(p_rows)


def _name_chunk(task: tuple[_Shape, int, str]) -> _Piece:
    """name.basics rows of the people whose id starts with prefix."""
    shape, seed, prefix = task
    pools = _name_pools(seed)
    notable = _notable_titles(shape, seed)
    rng = random.Random(f"{seed}:names:{prefix}")
    getrandbits = rng.getrandbits
    names, lives, professions, known_counts = pools.names, pools.lives, pools.professions, pools.known_counts
    rows: list[str] = []
    for nc in _chunk_ids("nm", prefix, shape.n_names, shape.nconst_num):
        b = getrandbits(32)
        k = known_counts[b >> 26]
        if k:
            kb = getrandbits(17 * k)
            known = [notable[(kb >> (17 * j)) & 0x1FFFF] for j in range(k)]
            known_s = ",".join(dict.fromkeys(known)) if k > 1 else known[0]
        else:
            known_s = NULL
        life, profession = lives[(b >> 15) & 1023], professions[getrandbits(10)]
        rows.append(f"{nc}\t{names[b & 32767]}\t{life}\t{profession}\t{known_s}\n")
    return _deflate(rows)


@functools.lru_cache(maxsize=2)
def _notable_titles(shape: _Shape, seed: int) -> list[str]:
    """2^17 existing tconsts that knownForTitles draw from: real people are known for notable titles, and
    picking from a ready-made list is much faster than formatting ids per person."""
    rng = random.Random(f"{seed}:notable")
    n = shape.n_titles
    return [f"tt{shape.tconst_num(int(rng.random() * n)):07d}" for _ in range(1 << 17)]


# --------------------------------------------------------------------------------------------- next_day


def next_day(prev_dir: Path, out_dir: Path, change_rate: float, seed: int = 43) -> dict[str, int]:
    """Write the snapshot following the one in prev_dir into out_dir; return rows per dataset.

    With R = change_rate: ~R of ratings change (more votes, rating +-0.1..0.5), ~R/10 new titles (with
    ratings, principals and some new people), ~R/20 titles removed from all three title files, ~R/10 of
    people renamed, ~R/50 of movie/tvMovie titles flip type, ~R/100 of principal rows point to another
    person. Each kind happens at least once whatever the scale. Deterministic for (previous files, seed).
    """
    prev_dir, out_dir = Path(prev_dir), Path(out_dir)
    if not 0 <= change_rate <= 1:
        raise ValueError(f"change_rate must be within 0..1, got {change_rate}")
    if out_dir.resolve() == prev_dir.resolve():
        raise ValueError("next_day cannot write over the snapshot it reads")
    for ds in DATASETS.values():
        if not (prev_dir / ds.file_name).is_file():
            raise FileNotFoundError(prev_dir / ds.file_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _NextDay(prev_dir, out_dir, change_rate, seed).run()


class _NextDay:
    """One next_day run: a planning read (counts, largest ids, the forced changes), then one merge-walk
    per file.

    Changes are placed by drawing the gap to the next changed row, so the big files are copied batch by
    batch in C and Python only touches the changed rows. The 'at least one of each kind' changes are
    chosen up front by reservoir sampling in the planning read and found again by binary search.
    """

    def __init__(self, prev: Path, out: Path, rate: float, seed: int) -> None:
        self.prev, self.out, self.rate, self.seed = prev, out, rate, seed
        self.rng = random.Random(f"{seed}:next-day")
        self.removed: set[bytes] = set()

    def run(self) -> dict[str, int]:
        self._plan()
        self._make_new_rows()
        counts = {
            BASICS.name: self._write_basics(),
            RATINGS.name: self._write_ratings(),
            NAMES.name: self._write_names(),
            PRINCIPALS.name: self._write_principals(),
        }
        return {name: counts[name] for name in DATASETS}

    def _batches(self, ds: Dataset) -> Iterator[list[bytes]]:
        return _prefetched(_read_batches(self.prev / ds.file_name, ds))

    # ---- planning read

    def _plan(self) -> None:
        rng = self.rng
        # title.basics: count, largest id, one movie/tvMovie to flip (reservoir of one), spare titles
        n_titles, movies, flip, last = 0, 0, None, b""
        spare: list[bytes] = []
        for batch in self._batches(BASICS):
            keys = [line[: line.index(b"\t")] for line in batch]
            last = _last_longest(keys, last)
            spare += keys[: 3 - len(spare)]
            n_titles += len(batch)
            for line in batch:
                if b"\tmovie\t" in line or b"\ttvMovie\t" in line:  # cheap filter, then check the column
                    tc, typ, _ = line.split(b"\t", 2)
                    if typ in _MOVIE_LIKE:
                        movies += 1
                        if rng.random() * movies < 1:
                            flip = tc
        self.n_titles, self.forced_flip = n_titles, flip
        self.max_tnum = _id_num(last) if last else 0

        # title.ratings: two rated titles other than the flipped one; one changes, one is removed
        rated = _Reservoir(rng, 2)
        for batch in self._batches(RATINGS):
            rated.offer([k for k in (line[: line.index(b"\t")] for line in batch) if k != flip])
        self.forced_rating = rated.items[0] if rated.items else None
        if len(rated.items) == 2:
            self.forced_removal: bytes | None = rated.items[1]
        else:  # fewer than 2 rated titles: remove an unrated one, but never the last title left
            others = [tc for tc in spare if tc not in (flip, self.forced_rating)]
            self.forced_removal = others[0] if others and n_titles > 1 else None

        # name.basics: largest id, and a uniform sample of people (the renamed one, and the cast of the
        # new titles)
        people = _Reservoir(rng, 4096)
        last = b""
        for batch in self._batches(NAMES):
            keys = [line[: line.index(b"\t")] for line in batch]
            last = _last_longest(keys, last)
            people.offer(keys)
        self.max_nnum = _id_num(last) if last else 0
        self.people = people.items
        self.forced_rename = rng.choice(people.items) if people.items else None

    # ---- new titles and people, held in memory (~R/10 of the titles) and merged in as the files stream

    def _make_new_rows(self) -> None:
        rng = self.rng
        pools = _title_pools(self.seed)
        names = _name_pools(self.seed)
        n_new = max(1, round(self.n_titles * self.rate / 10))
        num = self.max_tnum
        titles: list[tuple[bytes, tuple, bool]] = []  # (tconst, kind, rated)
        self.new_basics: list[tuple[bytes, list[bytes]]] = []
        self.new_ratings: list[tuple[bytes, list[bytes]]] = []
        for j in range(n_new):
            num += rng.randint(1, 4)
            tc = f"tt{num:07d}"
            # the first new title is a rated movie with a cast, so every change kind shows in every file
            kind = pools.kinds[_MOVIE] if j == 0 else rng.choice(pools.kind_table)
            name, rated, _, _, mu, title_pool, years, runtimes, genres = kind
            line = (
                f"{tc}\t{name}\t{rng.choice(title_pool)}\t0\t{rng.choice(years)}\t{rng.choice(runtimes)}"
                f"\t{rng.choice(genres)}"
            )
            self.new_basics.append((tc.encode(), [line.encode()]))
            is_rated = j == 0 or rng.random() < rated
            if is_rated:  # a day-old title has few votes
                votes = min(MAX_VOTES, 5 + int(rng.lognormvariate(mu - 1, VOTES_SIGMA / 2)))
                rating = f"{tc}\t{rng.choice(pools.ratings)}\t{votes}"
                self.new_ratings.append((tc.encode(), [rating.encode()]))
            titles.append((tc.encode(), kind, is_rated))

        # new people: ids above the largest one, each known for one or two of the new titles
        num = self.max_nnum
        self.new_names: list[tuple[bytes, list[bytes]]] = []
        for _ in range(max(1, round(n_new * 0.8))):
            num += rng.randint(1, 3)
            nc = f"nm{num:07d}"
            known = ",".join(dict.fromkeys(titles[rng.randrange(n_new)][0].decode() for _ in range(2)))
            life, profession = rng.choice(names.lives), rng.choice(names.professions)
            line = f"{nc}\t{rng.choice(names.names)}\t{life}\t{profession}\t{known}"
            self.new_names.append((nc.encode(), [line.encode()]))

        # principals of the new titles: ~30% new people (taken in turn, so all of them appear), the rest
        # people sampled from yesterday's name.basics
        new_ids = [nc for nc, _ in self.new_names]
        turn = 0
        self.new_principals: list[tuple[bytes, list[bytes]]] = []
        for j, (tc, kind, _) in enumerate(titles):
            kmin, kspan = kind[2], kind[3]
            cats = [rng.choice(pools.cat_table) for _ in range(kmin + rng.randrange(kspan))]
            if j == 0 and _CAST[0] not in cats and _CAST[1] not in cats:
                cats[0] = _CAST[0]
            cats.sort(key=_CAT_RANK.__getitem__)
            lines = []
            for ordering, c in enumerate(cats, 1):
                if rng.random() < 0.3 or not self.people:
                    nc = new_ids[turn % len(new_ids)]
                    turn += 1
                else:
                    nc = rng.choice(self.people)
                lines.append(b"%s\t%d\t%s\t%s" % (tc, ordering, nc, rng.choice(pools.tails[c]).encode()))
            self.new_principals.append((tc, lines))
        self.new_people = new_ids
        for new in (self.new_basics, self.new_ratings, self.new_names, self.new_principals):
            new.sort()  # ids were made in numeric order; the files want text order

    # ---- the four merge-walks

    def _merge(
        self,
        ds: Dataset,
        new: list[tuple[bytes, list[bytes]]],
        change: Callable[[list[bytes], bool], list[bytes]],
    ) -> int:
        """Stream yesterday's file through change(batch, is_last_batch), merging the new rows in key order."""
        pos = 0
        with _GzOut(self.out, ds, threaded=True) as w:
            for batch, last in _with_last(self._batches(ds)):
                lines, pos = _interleave(change(batch, last), new, pos)
                w.write_lines(lines)
            for _, lines in new[pos:]:
                w.write_lines(lines)
        return w.count

    def _write_basics(self) -> int:
        rng = self.rng
        removals = _Skipper(rng, self.rate / 20)
        p_flip = self.rate / 50
        keep = {self.forced_flip, self.forced_rating}  # the forced changes need these titles to stay
        forced_removal, forced_flip, removed = self.forced_removal, self.forced_flip, self.removed

        def change(batch: list[bytes], _last: bool) -> list[bytes]:
            flips = [
                i
                for i, line in enumerate(batch)
                if (b"\tmovie\t" in line or b"\ttvMovie\t" in line) and rng.random() < p_flip
            ]
            flips += _find(batch, forced_flip)
            for i in flips:
                tc, typ, rest = batch[i].split(b"\t", 2)
                if typ in _MOVIE_LIKE:
                    batch[i] = b"\t".join((tc, _MOVIE_LIKE[typ], rest))
            drops = {i for i in removals.take(len(batch)) if _key(batch[i]) not in keep}
            drops.update(_find(batch, forced_removal))
            for i in sorted(drops, reverse=True):
                removed.add(_key(batch[i]))
                del batch[i]
            return batch

        return self._merge(BASICS, self.new_basics, change)

    def _write_ratings(self) -> int:
        rng = self.rng
        changes = _Skipper(rng, self.rate)
        forced, removed = self.forced_rating, sorted(self.removed)

        def change(batch: list[bytes], _last: bool) -> list[bytes]:
            batch = _drop(batch, removed)
            for i in sorted(set(changes.take(len(batch)) + _find(batch, forced))):
                tc, avg, votes = batch[i].split(b"\t")
                n = int(votes)
                n += 1 + int(n * rng.random() * 0.05)  # votes only go up
                tenths = round(float(avg) * 10)
                step = rng.randint(1, 5) * rng.choice((1, -1))
                if not 10 <= tenths + step <= 100:
                    step = -step
                tenths += step
                batch[i] = b"%s\t%d.%d\t%d" % (tc, tenths // 10, tenths % 10, n)
            return batch

        return self._merge(RATINGS, self.new_ratings, change)

    def _write_names(self) -> int:
        rng = self.rng
        renames = _Skipper(rng, self.rate / 10)
        forced, pool = self.forced_rename, _name_pools(self.seed).names

        def change(batch: list[bytes], _last: bool) -> list[bytes]:
            for i in sorted(set(renames.take(len(batch)) + _find(batch, forced))):
                nc, name, rest = batch[i].split(b"\t", 2)
                new = name
                while new == name:
                    new = rng.choice(pool).encode()
                batch[i] = b"\t".join((nc, new, rest))
            return batch

        return self._merge(NAMES, self.new_names, change)

    def _write_principals(self) -> int:
        rng = self.rng
        moves = _Skipper(rng, self.rate / 100)
        removed = sorted(self.removed)
        # At least one row is re-pointed: unless a random one came before, the first row at or after the
        # flipped title (a movie, so it has principals in generated data), else the very last row.
        force_at = self.forced_flip or self.forced_rating or b""
        moved = False

        def change(batch: list[bytes], last: bool) -> list[bytes]:
            nonlocal moved
            batch = _drop(batch, removed)
            picks = moves.take(len(batch))
            if not moved and batch and _key(batch[-1]) >= force_at:
                picks.append(bisect.bisect_left(batch, force_at, key=_key))
            elif not moved and batch and last and not picks:
                picks.append(len(batch) - 1)
            for i in sorted(set(picks)):
                tc, ordering, nc, rest = batch[i].split(b"\t", 3)
                # someone from a nearby row (a title of the same period), else one of the new people
                new = rng.choice(self.new_people)
                for _ in range(8):
                    j = rng.randrange(max(0, i - 512), min(len(batch), i + 512))
                    candidate = batch[j].split(b"\t", 3)[2]
                    if candidate != nc:
                        new = candidate
                        break
                batch[i] = b"\t".join((tc, ordering, new, rest))
                moved = True
            return batch

        return self._merge(PRINCIPALS, self.new_principals, change)


class _Skipper:
    """Picks each row with probability p by drawing the gap to the next pick: one random draw per picked
    row instead of one per row."""

    def __init__(self, rng: random.Random, p: float) -> None:
        self._rand = rng.random
        self._log_q = math.log1p(-p) if 0 < p < 1 else None
        self._every = p >= 1
        self._next: float = self._gap()

    def _gap(self) -> float:
        if self._log_q is None:
            return 0 if self._every else math.inf
        return int(math.log(1.0 - self._rand()) / self._log_q)

    def take(self, n: int) -> list[int]:
        """Picked positions among the next n rows (0-based within them)."""
        picks = []
        while self._next < n:
            picks.append(int(self._next))
            self._next += 1 + self._gap()
        self._next -= n
        return picks


class _Reservoir:
    """A uniform sample of k items from a stream (Li's algorithm L: random draws only at replacements)."""

    def __init__(self, rng: random.Random, k: int) -> None:
        self.rng, self.k = rng, k
        self.items: list[bytes] = []
        self.seen = 0
        self._w = self._shrink(1.0)
        self._next = -1  # stream index of the next item to take, once the reservoir is full

    def _shrink(self, w: float) -> float:
        return min(w * math.exp(math.log(1.0 - self.rng.random()) / self.k), 1 - 2**-53)

    def _skip(self) -> int:
        return int(math.log(1.0 - self.rng.random()) / math.log1p(-self._w)) + 1

    def offer(self, batch: list[bytes]) -> None:
        base = self.seen
        self.seen += len(batch)
        fill = min(self.k - len(self.items), len(batch))
        if fill > 0:
            self.items += batch[:fill]
            if len(self.items) == self.k:
                self._next = base + fill - 1 + self._skip()
        while len(self.items) == self.k and self._next < self.seen:
            self.items[int(self.rng.random() * self.k)] = batch[self._next - base]
            self._w = self._shrink(self._w)
            self._next += self._skip()


def _last_longest(keys: list[bytes], current: bytes) -> bytes:
    """The numerically largest id so far, from ids in text order: the last one among the longest."""
    longest = max(map(len, keys), default=0)
    if longest < len(current):
        return current
    return next(k for k in reversed(keys) if len(k) == longest)


def _find(batch: list[bytes], key: bytes | None) -> list[int]:
    """[index of the first row with this key] if the batch (sorted by key) has one, else []."""
    if key is None or not batch or not _key(batch[0]) <= key <= _key(batch[-1]):
        return []
    i = bisect.bisect_left(batch, key, key=_key)
    return [i] if _key(batch[i]) == key else []


def _drop(batch: list[bytes], removed: list[bytes]) -> list[bytes]:
    """The batch without the rows whose key is in `removed` (both sorted as text), found by bisection."""
    if not removed or not batch:
        return batch
    lo = bisect.bisect_left(removed, _key(batch[0]))
    hi = bisect.bisect_right(removed, _key(batch[-1]))
    for k in reversed(removed[lo:hi]):
        del batch[bisect.bisect_left(batch, k, key=_key) : bisect.bisect_right(batch, k, key=_key)]
    return batch


def _with_last(batches: Iterator[list[bytes]]) -> Iterator[tuple[list[bytes], bool]]:
    """(batch, is it the last one), one batch ahead."""
    previous = None
    for batch in batches:
        if previous is not None:
            yield previous, False
        previous = batch
    if previous is not None:
        yield previous, True


def _prefetched(items: Iterator[list[bytes]], depth: int = 2) -> Iterator[list[bytes]]:
    """Run a batch iterator in a helper thread (gzip decompression releases the GIL), `depth` ahead."""
    q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, object]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for batch in items:
                if not put(("batch", batch)):
                    return
            put(("end", None))
        except BaseException as e:  # handed over to the consumer, raised there
            put(("error", e))

    thread = threading.Thread(target=work, name="synth-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


# --------------------------------------------------------------------------------------------- cli


def main(argv: list[str] | None = None) -> int:
    """`python -m ingestion synth --scale S --out DIR` or `... synth --from DIR --change-rate R --out DIR`."""
    parser = argparse.ArgumentParser(
        prog="python -m ingestion synth",
        description="Write a deterministic synthetic IMDb snapshot (the 4 .tsv.gz files), or the next day's.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--scale", type=float, help="1.0 = full 2026 IMDb size (12.3M titles, 98M principals)")
    source.add_argument("--from", dest="prev", type=Path, metavar="DIR", help="previous snapshot to change")
    parser.add_argument("--change-rate", type=float, metavar="R", help="with --from: share of rows changed")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    parser.add_argument("--seed", type=int, help="default 42 (--scale) or 43 (--from)")
    args = parser.parse_args(argv)
    if args.prev is None and args.change_rate is not None:
        parser.error("--change-rate goes with --from")
    if args.prev is not None and args.change_rate is None:
        parser.error("--from needs --change-rate")

    started = time.monotonic()
    try:
        if args.prev is None:
            counts = generate(args.out, args.scale, 42 if args.seed is None else args.seed)
        else:
            counts = next_day(args.prev, args.out, args.change_rate, 43 if args.seed is None else args.seed)
    except (ValueError, OSError) as e:
        print(f"synth: {e}", file=sys.stderr)
        return 1
    for name, rows in counts.items():
        path = args.out / DATASETS[name].file_name
        print(f"{path}: {rows:,} rows, {path.stat().st_size:,} bytes")
    print(f"synth: done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
