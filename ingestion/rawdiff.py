"""Next-day landing's fast path: compare yesterday's and today's raw IMDb file outside the JVM.

IMDb publishes full snapshots, and from one day to the next ~99% of their lines are byte for byte the same.
Both files are sorted by their first key column as text (`tconst`, `nconst`; principals then by `ordering`
within a title), so one streaming pass over the two gzips finds what changed: the files are read in blocks
(ISA-L decompresses them several times faster than zlib), cut into windows that hold whole first-key groups,
and each window of today's lines is compared with the window of yesterday's lines up to the same key, as sets
of whole lines. Only the lines that differ are looked at one by one. Spark then receives:

- `<table>.changed.tsv`: every line of today's file that is not in yesterday's, plus the lines that were
  rejected last time and are still there (so `landing.rejects` and the reject share cover the whole file),
  each as `<line number>\\t<raw line>`;
- `<table>.deleted.tsv`: the keys of yesterday's lines that have no line in today's file.

What makes the shortcut exact (the landing tables end up as the Spark diff would leave them):
- the previous file is the one landing holds (the caller checks its SHA-256 against `landing.loaded_files`),
  so a line present in both files is a row landing already holds, or a line rejected last time;
- both files must be in key order: the first key column is checked on every line (non-decreasing, strictly
  increasing when it is the whole key); anything else raises NotComparable and the caller falls back to the
  Spark diff (so does a carriage return, which Spark's line reader would split on);
- a key repeated in today's file raises RepeatedKey: equal keys are adjacent in a sorted file, and every
  repeat has at least one line that is not in yesterday's file (which had unique keys), so checking the
  key group of each new line finds them all;
- keys are compared as Spark types them (`ordering` as a number): a numeric key field that Spark would read
  differently from its text (`01`, ` 1`, `1.0`, overflow) raises NotComparable rather than guess.
The first day has no previous file: `check()` walks today's file alone for the same order and repeated-key
checks, counts its lines, and picks out the lines Spark's parse might reject (`suspect_pattern`: every line that
is not plainly good), so that Spark parses only those before the commit, and the whole file once, into the table.
"""

from __future__ import annotations

import bisect
import itertools
import json
import operator
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from isal import igzip_threaded

from ingestion.datasets import Column, Dataset

BLOCK_BYTES = 8 << 20  # decompressed bytes read at once: big enough for C-speed set operations, small in memory
NULL = b"\\N"


class NotComparable(Exception):
    """The files cannot be compared line by line (not in key order, a carriage return, an odd numeric key):
    the caller falls back to the Spark diff. The message says why."""


class RepeatedKey(Exception):
    """Today's file holds a key twice; the message names it and both line numbers."""


@dataclass
class RawDiff:
    lines: int = 0  # data lines in today's file (the header excluded)
    changed: int = 0  # lines written to changed_path (new or changed, and rejects carried over)
    deleted: int = 0  # keys written to deleted_path
    changed_path: Path | None = None
    deleted_path: Path | None = None
    suspects: int = 0  # first day: lines written to suspect_path
    suspect_path: Path | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- keys


def _first_field(line: bytes) -> bytes:
    return line.split(b"\t", 1)[0]


def _number(part: bytes) -> int | None:
    """A numeric key field as Spark's try_cast to int reads it: None where Spark gets null too; NotComparable
    where Spark reads a number that its text does not spell canonically."""
    if part.isdigit():
        if len(part) > 9 or (part[:1] == b"0" and part != b"0"):
            raise NotComparable(f"numeric key field {part!r} is not a plain number")
        return int(part)
    if any(c in b"0123456789" for c in part):  # ' 1', '+1', '1.0': Spark may still read a number
        raise NotComparable(f"numeric key field {part!r} is not a plain number")
    return None  # '\N', 'abc', '': Spark's key is null as well (the line is rejected, its key protects nothing)


class _Keys:
    """The natural key of a line, as Spark types it, or None when a key field is missing or null."""

    def __init__(self, d: Dataset) -> None:
        self.n = len(d.key)
        positions = [d.column_names.index(k) for k in d.key]
        if positions != list(range(self.n)):
            raise ValueError(f"{d.name}: the raw diff needs the key columns first, in order ({d.key})")
        self.numeric = [c.numeric for c in d.columns[: self.n]]

    def __call__(self, line: bytes) -> tuple | None:
        parts = line.split(b"\t", self.n)
        if len(parts) < self.n:
            return None
        key = []
        for part, numeric in zip(parts, self.numeric, strict=False):
            value = _number(part) if numeric else (None if part == NULL else part)
            if value is None:
                return None
            key.append(value)
        return tuple(key)


def key_text(key: tuple) -> bytes:
    return b"\t".join(str(k).encode() if isinstance(k, int) else k for k in key)


# ---------------------------------------------------------------------------------------------- reading


def _first(line: bytes) -> bytes:
    return line.split(b"\t", 1)[0]


def _group_end(lines: list[bytes], i: int, head: bytes) -> int:
    """The end of the first-key group `head` that starts at or before lines[i]."""
    prefix = head + b"\t"
    n = len(lines)
    while i < n and (lines[i].startswith(prefix) or lines[i] == head):
        i += 1
    return i


def _group_start(lines: list[bytes], i: int, head: bytes) -> int:
    prefix = head + b"\t"
    while i > 0 and (lines[i - 1].startswith(prefix) or lines[i - 1] == head):
        i -= 1
    return i


class _Lines:
    """An IMDb file read block by block as lists of lines, handed out by first-key ranges.

    With whole_keys (a first day, when nothing else looks at every key) every line's first key field is
    checked for order, its whole key text kept and its numeric key fields checked. Without it (the diff) no
    line is looked at one by one: the walk checks order where the two files differ."""

    def __init__(self, path: Path, d: Dataset, what: str, whole_keys: bool = False, sink=None) -> None:
        self.path, self.what = path, what
        self.sink = sink  # called with each block of whole lines and its first line number
        self.strict = len(d.key) == 1  # the first field is the whole key: it must strictly increase
        self.whole_keys = whole_keys
        self._f = igzip_threaded.open(path, "rb", threads=1, block_size=BLOCK_BYTES)  # inflates in its own thread
        header = self._f.readline().rstrip(b"\n")
        expected = "\t".join(d.column_names).encode()
        if header != expected:
            self._f.close()
            raise NotComparable(f"{what} file {path.name} has the header {header[:200]!r}, expected {expected!r}")
        n = len(d.key)
        self._heads = re.compile(rb"^([^\t\n]*(?:\t[^\t\n]*){0,%d})" % (n - 1), re.M) if whole_keys and n > 1 else None
        # a numeric key field that is not a plain number (or null): _number() decides what it means
        self._odd_numbers = [
            re.compile(rb"^(?:[^\t\n]*\t){%d}(?!(?:0|[1-9]\d{0,8})(?:\t|$))([^\t\n]*)" % i, re.M)
            for i, c in enumerate(d.columns[:n])
            if whole_keys and c.numeric
        ]
        self.lines: list[bytes] = []
        self.keys: list[bytes] = []  # first key field of each line (whole_keys only)
        self.heads: list[bytes] = []  # whole key text of each line (whole_keys and several key fields only)
        self.start = 0  # index of the first line not yet handed out
        self.number = 2  # line number (1-based, the header is line 1) of lines[start]
        self.eof = False
        self._rest = b""
        self._last_key: bytes | None = None
        self._last_head: bytes | None = None
        self.total = 0

    def close(self) -> None:
        self._f.close()

    def _fill(self) -> None:
        data = self._f.read(BLOCK_BYTES)
        if not data:
            self.eof = True
            if not self._rest:
                return
            chunk, self._rest = self._rest, b""  # a last line without its newline
        else:
            chunk = self._rest + data
            cut = chunk.rfind(b"\n")
            if cut < 0:
                self._rest = chunk
                return
            chunk, self._rest = chunk[:cut], chunk[cut + 1 :]
        if b"\r" in chunk:
            raise NotComparable(f"{self.what} file {self.path.name} holds a carriage return (Spark splits lines there)")
        lines = chunk.split(b"\n")
        if self.sink is not None:
            self.sink(chunk, self.total + 2)
        if self.start > 1 << 16:  # drop what was handed out, so the buffer stays one or two blocks
            del self.lines[: self.start]
            if self.whole_keys:
                del self.keys[: self.start]
                del self.heads[: self.start]
            self.start = 0
        self.lines += lines
        self.total += len(lines)
        if self.whole_keys:
            keys = [line.split(b"\t", 1)[0] for line in lines]
            ordered = operator.lt if self.strict else operator.le
            before = self._last_key
            if not all(map(ordered, keys, itertools.islice(keys, 1, None))) or (
                before is not None and not ordered(before, keys[0])
            ):
                self._order_error(keys if before is None else [before, *keys], ordered)
            self._last_key = keys[-1]
            self.keys += keys
            for odd in self._odd_numbers:
                for match in odd.finditer(chunk):
                    _number(match.group(1))  # raises unless Spark reads it as null too
            if self._heads is not None:
                self.heads += self._heads.findall(chunk)

    def _order_error(self, keys: list[bytes], ordered) -> None:
        for a, b in itertools.pairwise(keys):
            if not ordered(a, b):
                if a == b:
                    raise RepeatedKey(f"{self.path.name}: the key {a.decode(errors='replace')!r} appears twice")
                raise NotComparable(
                    f"{self.what} file {self.path.name} is not sorted by key as text "
                    f"({a.decode(errors='replace')!r} before {b.decode(errors='replace')!r})"
                )

    def _take(self, end: int) -> _Window:
        if end > self.start:  # windows follow each other in key order (inside one, the walk checks it)
            head = _first(self.lines[self.start])
            if self._last_head is not None and not self._last_head < head:
                raise NotComparable(
                    f"{self.what} file {self.path.name} is not sorted by key as text "
                    f"({self._last_head.decode(errors='replace')!r} before {head.decode(errors='replace')!r})"
                )
            self._last_head = _first(self.lines[end - 1])
        s = slice(self.start, end)
        window = _Window(self.lines[s], self.number, self.heads[s] if self._heads is not None else [])
        self.number += end - self.start
        self.start = end
        return window

    def next_window(self) -> _Window | None:
        """The next lines that hold whole first-key groups (a group never spans two windows)."""
        while not self.eof and len(self.lines) - self.start < 2:
            self._fill()
        while True:
            if self.start >= len(self.lines):
                return None
            if self.eof:
                return self._take(len(self.lines))
            # the last group may go on in the next block: hand out what comes before it
            end = _group_start(self.lines, len(self.lines) - 1, _first(self.lines[-1]))
            if end > self.start:
                return self._take(end)
            self._fill()  # one group fills the whole buffer: read on

    def take_through(self, head: bytes | None) -> _Window:
        """The lines whose first key field is at most `head` (all that are left when head is None).

        In a file sorted by first key field as text, those are the lines up to head + TAB + 0xff (no UTF-8
        byte is 0xff), so a bisection on whole lines finds the end. In a file that is not sorted it finds
        some end: the walk then sees keys that both appear and vanish, and gives up (NotComparable)."""
        bound = None if head is None else head + b"\t\xff"
        while not self.eof and (bound is None or self.start >= len(self.lines) or self.lines[-1] <= bound):
            self._fill()
        end = len(self.lines) if bound is None else bisect.bisect_right(self.lines, bound, self.start)
        return self._take(end)


@dataclass
class _Window:
    lines: list[bytes]
    first: int  # line number of lines[0]
    heads: list[bytes]  # whole key text of each line (whole_keys and a key of several fields only)


# ---------------------------------------------------------------------------------------------- first day


def _exact_repeat(lines: list[bytes], first: int, path: Path) -> RepeatedKey:
    seen: dict[bytes, int] = {}
    for i, line in enumerate(lines):
        if line in seen:
            return RepeatedKey(
                f"{path.name}: the key {line.decode(errors='replace')!r} appears twice (lines {seen[line]} and "
                f"{first + i})"
            )
        seen[line] = first + i
    raise AssertionError("no repeated line")


class _Parts:
    """The file's data lines, decompressed, cut at line ends into parts of ~PART_BYTES named after their first
    line number, so Spark reads them in parallel (one task per part, no shuffle) and still knows every line's
    number: the part's first line plus the row's index within its part."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.n = 0
        self.size = 0
        self._f = None

    def __call__(self, chunk: bytes, first_line: int) -> None:
        if self._f is None or self.size >= PART_BYTES:
            self.close()
            self._f = open(self.out_dir / f"part-{self.n:05d}-line-{first_line:012d}.tsv", "wb")  # noqa: SIM115
            self.n, self.size = self.n + 1, 0
        self._f.write(chunk)
        self._f.write(b"\n")
        self.size += len(chunk) + 1

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


PART_BYTES = 64 << 20  # Spark reads each part as one task; ~20 parts for the 1.3 GB principals file


def _good_field(c: Column, d: Dataset) -> bytes:
    """A pattern of the values of column c that Spark's parse (ingestion/land_sql.parse_sql) surely accepts."""
    must_have = c.name in d.key or c.name in d.required  # `\N` there is a missing key or a missing value
    if not c.numeric:
        return rb"(?!\\N(?:\t|$))[^\t\n]*" if must_have else rb"[^\t\n]*"
    digits = {"int": 9, "bigint": 18, "smallint": 4}.get(c.type)  # no overflow whatever the digits
    if digits is not None:
        number = rb"-?\d{1,%d}" % digits
    elif m := re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", c.type):
        whole, scale = int(m[1]) - int(m[2]), int(m[2])
        number = (rb"-?\d{1,%d}" % whole if whole else rb"-?0") + (rb"(?:\.\d{1,%d})?" % scale if scale else b"")
    else:
        number = rb"(?!)"  # a type not listed here: every value is a suspect, Spark decides
    return number if must_have else rb"(?:\\N|" + number + rb")"


def suspect_pattern(d: Dataset) -> re.Pattern[bytes]:
    """Finds, in a block of lines, every line that Spark's parse might reject: those that are not, field by field,
    plainly good (the right number of fields; numbers written plainly, within range; no null key or required
    value). It may flag a good line (Spark then finds no reason and the line lands), never misses a bad one."""
    good = rb"\t".join(_good_field(c, d) for c in d.columns)
    return re.compile(rb"^(?!" + good + rb"$).*$", re.M)


class _Suspects:
    """Writes the lines of each block that suspect_pattern finds as `<line number>\t<raw line>` (the format of
    the raw diff's changed lines); the scan runs in C, and only the rare suspect costs Python work."""

    def __init__(self, d: Dataset, path: Path) -> None:
        self.pattern = suspect_pattern(d)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = path.open("wb")
        self.n = 0

    def __call__(self, chunk: bytes, first_line: int) -> None:
        line, pos = first_line, 0
        for m in self.pattern.finditer(chunk):
            line += chunk.count(b"\n", pos, m.start())
            pos = m.start()
            self._f.write(b"%d\t%s\n" % (line, m.group()))
            self.n += 1

    def close(self) -> None:
        self._f.close()


def check(d: Dataset, path: Path, parts_dir: Path | None = None) -> RawDiff:
    """A first day: today's file alone, for key order and repeated keys; counts its lines. With parts_dir, also
    writes the data lines decompressed into parts for Spark (see _Parts), and the lines Spark might reject into
    parts_dir/../<table>.suspects.tsv (see suspect_pattern)."""
    started = time.monotonic()
    result = RawDiff()
    parts = _Parts(parts_dir) if parts_dir is not None else None
    suspects = _Suspects(d, parts_dir.parent / f"{d.table}.suspects.tsv") if parts_dir is not None else None

    def sink(chunk: bytes, first_line: int) -> None:
        parts(chunk, first_line)
        suspects(chunk, first_line)

    src = _Lines(path, d, "today's", whole_keys=True, sink=sink if parts is not None else None)
    try:
        while (window := src.next_window()) is not None:
            # several key fields: each first-key group (wholly inside one window) must hold distinct keys
            if window.heads and len(set(window.heads)) != len(window.heads):
                raise _exact_repeat(window.heads, window.first, path)
        result.lines = src.total
    finally:
        src.close()
        if parts is not None:
            parts.close()
            suspects.close()
    result.changed_path = parts_dir
    if suspects is not None:
        result.suspect_path, result.suspects = suspects.path, suspects.n
    result.seconds = time.monotonic() - started
    return result


# ---------------------------------------------------------------------------------------------- next day


def _common_run(old: list[bytes], i: int, new: list[bytes], j: int) -> int:
    """How many lines from old[i] and new[j] on are equal, compared in growing slices (C-speed)."""
    k, step = 0, 64
    while True:
        a, b = old[i + k : i + k + step], new[j + k : j + k + step]
        if a == b:
            if len(a) < step:
                return k + len(a)
            k += step
            step = min(step * 2, 1 << 14)
        else:
            return k + next(itertools.compress(itertools.count(), map(operator.ne, a, b)), min(len(a), len(b)))


class _Walk:
    """The merge-walk of one pair of windows, writing what changed. Keys are compared where the files differ."""

    def __init__(self, d: Dataset, new_path: Path, changed, deleted, known_bad: frozenset[bytes]) -> None:
        self.keyof = _Keys(d)
        self.strict = len(d.key) == 1
        self.path = new_path
        self.changed, self.deleted = changed, deleted
        self.known_bad = known_bad
        self.upserted: set[tuple] = set()  # keys of written lines, to find a key that both comes and goes
        self.removed: set[tuple] = set()
        self.n_changed = self.n_deleted = 0

    def _write(self, line: bytes, number: int) -> None:
        self.changed.write(b"%d\t%s\n" % (number, line))
        self.n_changed += 1

    def _delete(self, key: tuple) -> None:
        if key in self.removed:
            raise NotComparable(f"the previous file holds the key {key_text(key)!r} twice or out of order")
        self.removed.add(key)
        self.deleted.write(key_text(key) + b"\n")
        self.n_deleted += 1

    def _new_group(self, new: list[bytes], j: int, end: int, first: int, head: bytes) -> set[tuple]:
        """Checks of a group of today's lines that holds a difference: in key order with its neighbours, no key
        twice in it nor anywhere else a line was written. Returns the group's keys."""
        start = _group_start(new, j, head)
        if (start > 0 and not _first(new[start - 1]) < head) or (end < len(new) and not head < _first(new[end])):
            raise NotComparable(f"today's file {self.path.name} is not sorted by key as text (near line {first + j})")
        keys: set[tuple] = set()
        for i in range(start, end):
            key = self.keyof(new[i])
            if key is None:
                continue
            if key in keys or (self.strict and end - start > 1):
                raise RepeatedKey(
                    f"{self.path.name}: the key {key_text(key).decode(errors='replace')!r} appears twice "
                    f"(near line {first + i})"
                )
            keys.add(key)
        return keys

    def window(self, old: list[bytes], new: list[bytes], first: int) -> None:
        i = j = 0
        while True:
            run = _common_run(old, i, new, j)
            i, j = i + run, j + run
            if i >= len(old) and j >= len(new):
                break
            if j < len(new):
                head_new = _first(new[j])
            if i < len(old):
                head_old = _first(old[i])
            if j >= len(new) or (i < len(old) and head_old < head_new):  # yesterday's group is gone
                end_old = _group_end(old, i, head_old)
                for key in filter(None, map(self.keyof, old[i:end_old])):
                    self._delete(key)
                i = end_old
                continue
            end_new = _group_end(new, j, head_new)
            keys = self._new_group(new, j, end_new, first, head_new)
            if i < len(old) and head_old == head_new:  # the same group on both sides, with differences
                end_old = _group_end(old, i, head_old)
                before = set(old[i:end_old])
                for key in {k for k in map(self.keyof, old[i:end_old]) if k is not None} - keys:
                    self._delete(key)
                i = end_old
            else:  # a group that is new today
                before = set()
            for n in range(j, end_new):
                line = new[n]
                if line not in before:
                    key = self.keyof(line)
                    if key is not None:
                        if key in self.upserted:
                            raise RepeatedKey(
                                f"{self.path.name}: the key {key_text(key).decode(errors='replace')!r} appears "
                                f"twice (line {first + n} and an earlier one)"
                            )
                        self.upserted.add(key)
                    self._write(line, first + n)
            j = end_new
        if self.known_bad:  # lines rejected last time that are still there, unchanged: rejected again
            for line in self.known_bad.intersection(new):
                start = _group_start(new, bisect.bisect_left(new, _first(line) + b"\t"), _first(line))
                n = new.index(line, start)
                self._write(line, first + n)

    def finish(self) -> None:
        both = self.upserted & self.removed
        if both:
            key = next(iter(both))
            raise NotComparable(
                f"the key {key_text(key)!r} both vanishes and appears: the files are not in the same key order"
            )


def diff(d: Dataset, old: Path, new: Path, out_dir: Path, known_bad: frozenset[bytes] = frozenset()) -> RawDiff:
    """Compare yesterday's file `old` (the one landing holds) with today's `new`; write the changed lines and the
    deleted keys into out_dir. `known_bad`: the raw lines rejected when `old` was landed."""
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = RawDiff(changed_path=out_dir / f"{d.table}.changed.tsv", deleted_path=out_dir / f"{d.table}.deleted.tsv")
    src_new, src_old = _Lines(new, d, "today's"), None
    try:
        src_old = _Lines(old, d, "the previous")
        with result.changed_path.open("wb") as changed, result.deleted_path.open("wb") as deleted:
            walk = _Walk(d, new, changed, deleted, known_bad)
            while (window := src_new.next_window()) is not None:
                old_lines = src_old.take_through(_first(window.lines[-1])).lines
                walk.window(old_lines, window.lines, window.first)
            walk.window(src_old.take_through(None).lines, [], src_new.number)
            walk.finish()
        result.lines, result.changed, result.deleted = src_new.total, walk.n_changed, walk.n_deleted
    finally:
        src_new.close()
        if src_old is not None:
            src_old.close()
    result.seconds = time.monotonic() - started
    return result


def known_bad_lines(raw_lines: list[str | None]) -> frozenset[bytes]:
    """The lines rejected when the previous file was landed (Spark stores them as text; the walk compares bytes)."""
    return frozenset(r.encode() for r in raw_lines if r is not None)


# ---------------------------------------------------------------------------------------------- in a subprocess


def run_in_subprocess(kind: str, d: Dataset, new: Path, old: Path | None = None, out_dir: Path | None = None,
                      known_bad: frozenset[bytes] = frozenset()) -> RawDiff:  # fmt: skip
    """check() or diff() in a child Python process (`python -m ingestion.rawdiff`), so two files are walked on
    two cores whatever the caller is (a CLI, a pytest run, an Airflow task: no multiprocessing re-import of the
    caller's main module). Re-raises NotComparable and RepeatedKey."""
    import subprocess
    import sys
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as bad:
        json.dump([line.decode("utf-8", "surrogateescape") for line in known_bad], bad)
    try:
        args = [
            sys.executable,
            "-m",
            "ingestion.rawdiff",
            kind,
            d.name,
            str(new),
            str(old or ""),
            str(out_dir or ""),
            bad.name,
        ]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
    finally:
        Path(bad.name).unlink(missing_ok=True)
    try:
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(
            f"the raw diff of {new.name} failed (exit {proc.returncode}): {proc.stderr[-3000:]}"
        ) from None
    if "error" in answer:
        raise {"NotComparable": NotComparable, "RepeatedKey": RepeatedKey}[answer["error"]](answer["message"])
    paths = ("changed_path", "deleted_path", "suspect_path")
    result = RawDiff(**{k: v for k, v in answer.items() if k not in paths})
    for key in paths:
        if answer.get(key) not in (None, "", "None"):
            setattr(result, key, Path(answer[key]))
    return result


def _main(argv: list[str]) -> int:
    from ingestion.datasets import get

    kind, name, new, old, out_dir, bad_file = argv
    known_bad = frozenset(s.encode("utf-8", "surrogateescape") for s in json.loads(Path(bad_file).read_text()))
    try:
        if kind == "check":
            result = check(get(name), Path(new), Path(out_dir) if out_dir else None)
        else:
            result = diff(get(name), Path(old), Path(new), Path(out_dir), known_bad)
    except (NotComparable, RepeatedKey) as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        return 0
    answer = {k: (str(v) if isinstance(v, Path) else v) for k, v in result.__dict__.items()}
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
