"""The raw diff (next-day landing's fast path) against a brute-force reference, on random sorted snapshots."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from ingestion import rawdiff
from ingestion.datasets import get

RATINGS = get("title.ratings")
PRINCIPALS = get("title.principals")


def write(path: Path, d, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(d.column_names) + "\n")
        f.writelines(line + "\n" for line in lines)
    return path


def key(d, line: str):
    parts = line.split("\t")
    if len(parts) < len(d.key):
        return None
    out = []
    for part, col in zip(parts, d.columns, strict=False):
        if col.name not in d.key:
            break
        if part == "\\N":
            return None
        if col.numeric:
            if not part.isdigit():
                return None
            out.append(int(part))
        else:
            out.append(part)
    return tuple(out)


def reference(d, old: list[str], new: list[str], known_bad: set[str]) -> tuple[dict[int, str], set[str]]:
    """Changed lines by line number, and the deleted keys as text, straight from the definition."""
    before = set(old)
    changed = {n + 2: line for n, line in enumerate(new) if line not in before or line in known_bad}
    new_keys = {key(d, line) for line in new}
    deleted = {key(d, line) for line in old} - new_keys - {None}
    return changed, {"\t".join(map(str, k)) for k in deleted}


def run(tmp_path: Path, d, old: list[str], new: list[str], known_bad: set[str] = frozenset()):
    result = rawdiff.diff(
        d,
        write(tmp_path / "old.tsv.gz", d, old),
        write(tmp_path / "new.tsv.gz", d, new),
        tmp_path / "out",
        rawdiff.known_bad_lines(list(known_bad)),
    )
    changed = {}
    for raw in result.changed_path.read_bytes().decode().splitlines():
        number, _, line = raw.partition("\t")
        changed[int(number)] = line
    deleted = set(result.deleted_path.read_bytes().decode().splitlines())
    assert result.lines == len(new)
    assert (result.changed, result.deleted) == (len(changed), len(deleted))
    return changed, deleted


def tconst(i: int) -> str:
    return f"tt{i:07d}" if i < 10_000_000 else f"tt{i}"


def ratings_snapshot(rng: random.Random, ids: list[int]) -> list[str]:
    return sorted(f"{tconst(i)}\t{rng.randint(10, 99) / 10}\t{rng.randint(5, 9000)}" for i in ids)


def principals_snapshot(rng: random.Random, titles: dict[int, int]) -> list[str]:
    lines = []
    for t in sorted(titles, key=tconst):
        for o in range(1, titles[t] + 1):  # ordering as a number: 9 before 10
            lines.append(f'{tconst(t)}\t{o}\tnm{rng.randint(1, 50):07d}\tactor\t\\N\t["X"]')
    return lines


def mutate(rng: random.Random, lines: list[str], d, rate: float) -> list[str]:
    out = []
    for line in lines:
        r = rng.random()
        if r < rate:  # removed
            continue
        if r < 2 * rate:  # changed (same key)
            parts = line.split("\t")
            parts[-1] = parts[-1] + "x" if not parts[-1][-1].isdigit() else str(int(parts[-1]) + 1)
            line = "\t".join(parts)
        out.append(line)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_single_key_files_diff_like_the_definition(tmp_path, seed):
    rng = random.Random(seed)
    ids = rng.sample(range(1, 40_000_000), 3000)  # 7- and 8-digit ids: text order, not numeric
    old = ratings_snapshot(rng, ids)
    new = mutate(rng, old, RATINGS, 0.02)
    new = sorted(new + ratings_snapshot(rng, rng.sample(range(1, 40_000_000), 60)), key=lambda s: s.split("\t")[0])
    new = list({line.split("\t")[0]: line for line in new}.values())  # one line per key
    bad = [line for line in old if rng.random() < 0.01]
    assert run(tmp_path, RATINGS, old, new, set(bad)) == reference(RATINGS, old, new, set(bad))


@pytest.mark.parametrize("seed", range(6))
def test_two_field_keys_diff_like_the_definition(tmp_path, seed):
    rng = random.Random(seed)
    titles = {i: rng.randint(1, 14) for i in rng.sample(range(1, 40_000_000), 800)}
    old = principals_snapshot(rng, titles)
    changed_titles = dict(titles)
    for t in rng.sample(sorted(titles), 40):  # credits added to or removed from a title
        changed_titles[t] = max(1, titles[t] + rng.choice([-3, -1, 1, 4]))
    for t in rng.sample(range(1, 40_000_000), 20):
        changed_titles[t] = rng.randint(1, 12)
    for t in rng.sample(sorted(titles), 10):
        del changed_titles[t]
    fresh = principals_snapshot(random.Random(seed), changed_titles)  # same rng seed: most lines identical
    new = mutate(rng, fresh, PRINCIPALS, 0.01)
    assert run(tmp_path, PRINCIPALS, old, new) == reference(PRINCIPALS, old, new, set())


def test_identical_files_change_nothing(tmp_path):
    old = ratings_snapshot(random.Random(1), list(range(1, 2000)))
    assert run(tmp_path, RATINGS, old, list(old)) == ({}, set())


def test_empty_today_deletes_every_key(tmp_path):
    old = ["tt0000001\t5.0\t10", "tt0000002\t6.0\t20"]
    assert run(tmp_path, RATINGS, old, []) == ({}, {"tt0000001", "tt0000002"})


def test_malformed_lines_go_to_spark_and_protect_their_key(tmp_path):
    old = ["tt0000001\t5.0\t10", "tt0000002\t6.0\t20", "tt0000003\t7.0\t30"]
    new = ["tt0000001\t5.0\t10", "tt0000002\tsix\t20", "tt0000003"]
    changed, deleted = run(tmp_path, RATINGS, old, new)
    assert changed == {3: "tt0000002\tsix\t20", 4: "tt0000003"}
    assert deleted == set()  # tt0000003 is still named (a line that is too short still has its first field)


def test_a_line_with_no_ordering_names_no_key(tmp_path):
    old = ["tt0000001\t1\tnm1\tactor\t\\N\t\\N", "tt0000001\t2\tnm2\tactor\t\\N\t\\N"]
    new = ["tt0000001\t1\tnm1\tactor\t\\N\t\\N", "tt0000001\t\\N\tnm2\tactor\t\\N\t\\N"]
    changed, deleted = run(tmp_path, PRINCIPALS, old, new)
    assert changed == {3: "tt0000001\t\\N\tnm2\tactor\t\\N\t\\N"} and deleted == {"tt0000001\t2"}


@pytest.mark.parametrize(
    "new",
    [
        ["tt0000001\t5.0\t10", "tt0000002\t6.0\t20", "tt0000002\t6.5\t21"],  # same key, other content
        ["tt0000001\t5.0\t10", "tt0000002\t6.0\t20", "tt0000002\t6.0\t20"],  # the same line twice
    ],
)
def test_a_repeated_key_is_found(tmp_path, new):
    old = ["tt0000001\t5.0\t10", "tt0000002\t6.0\t20"]
    with pytest.raises(rawdiff.RepeatedKey, match="tt0000002"):
        run(tmp_path, RATINGS, old, new)
    with pytest.raises(rawdiff.RepeatedKey, match="tt0000002"):
        rawdiff.check(RATINGS, write(tmp_path / "today.tsv.gz", RATINGS, new))


def test_a_repeated_two_field_key_is_found(tmp_path):
    old = [f"tt0000001\t{o}\tnm1\tactor\t\\N\t\\N" for o in range(1, 12)]
    new = [*old[:5], "tt0000001\t5\tnm9\tactress\t\\N\t\\N", *old[5:]]
    with pytest.raises(rawdiff.RepeatedKey, match="tt0000001\\\\t5|tt0000001\\t5"):
        run(tmp_path, PRINCIPALS, old, new)
    with pytest.raises(rawdiff.RepeatedKey):
        rawdiff.check(PRINCIPALS, write(tmp_path / "today.tsv.gz", PRINCIPALS, new))


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (["tt0000002\t5.0\t10", "tt0000001\t6.0\t20"], ["tt0000001\t6.0\t20", "tt0000002\t5.0\t10"], "key order"),
        (["tt0000001\t5.0\t10"], ["tt0000002\t6.0\t20", "tt0000001\t5.0\t10"], "not sorted"),
        (["tt0000001\t5.0\t10"], ["tt0000001\t5.0\t10\r"], "carriage return"),
    ],
)
def test_files_out_of_order_are_not_compared(tmp_path, old, new, why):
    with pytest.raises(rawdiff.NotComparable, match=why):
        run(tmp_path, RATINGS, old, new)


def test_numeric_keys_spark_would_read_differently_are_not_compared(tmp_path):
    old = ["tt0000001\t1\tnm1\tactor\t\\N\t\\N"]
    new = ["tt0000001\t01\tnm1\tactor\t\\N\t\\N"]
    with pytest.raises(rawdiff.NotComparable, match="plain number"):
        run(tmp_path, PRINCIPALS, old, new)
    with pytest.raises(rawdiff.NotComparable, match="plain number"):
        rawdiff.check(PRINCIPALS, write(tmp_path / "today.tsv.gz", PRINCIPALS, new))


def test_a_wrong_header_is_not_compared(tmp_path):
    path = tmp_path / "x.tsv.gz"
    with gzip.open(path, "wt") as f:
        f.write("tconst\trating\tvotes\ntt0000001\t5.7\t2106\n")
    with pytest.raises(rawdiff.NotComparable, match="header"):
        rawdiff.check(RATINGS, path)


def test_first_day_check_counts_lines_and_accepts_ordering_as_a_number(tmp_path):
    lines = principals_snapshot(random.Random(3), {1: 12, 2: 3, 10_000_000: 11})
    result = rawdiff.check(PRINCIPALS, write(tmp_path / "p.tsv.gz", PRINCIPALS, lines))
    assert result.lines == len(lines) == 26


# Every line that Spark's parse rejects (ingestion/land_sql.parse_sql) must be a suspect; plainly good lines not.
SUSPECT_LINES = {
    "title.ratings": [
        ("tt0000001\t5.7\t2106", False),
        ("tt0000002\t10.0\t0", False),
        ("tt0000003\t\\N\t\\N", False),  # nulls outside the key: good
        ("tt0000004\t-1.5\t-3", False),
        ("tt0000005\tfive\t100", True),  # non-numeric
        ("tt0000006\t5.0", True),  # a field short
        ("tt0000007\t5.0\t1\t", True),  # a trailing tab: a field too many
        ("\\N\t5.0\t1", True),  # missing key
        ("tt0000009\t100.0\t1", True),  # beyond decimal(3,1)
        ("tt0000010\t5.75\t1", True),  # more decimals than the type: Spark rounds, flagged all the same
        ("tt0000011\t\t1", True),  # empty number
        ("tt0000012\t5.0\t1234567890123456789", True),  # beyond 18 digits
        ("tt0000013\t 5.0\t1", True),
        ("tt0000014\t.5\t1", True),
        ("", True),
    ],
    "title.principals": [
        ('tt0000001\t1\tnm1588970\tself\t\\N\t["Self"]', False),
        ("tt0000001\t2\tnm0005690\tdirector\t\\N\t\\N", False),
        ("tt0000001\t3\t\tcomposer\t\t", False),  # empty strings are values, not nulls
        ("tt0000001\t4\t\\N\tactor\t\\N\t\\N", True),  # missing nconst
        ("tt0000001\t5\tnm1\t\\N\t\\N\t\\N", True),  # missing category
        ("tt0000001\t\\N\tnm1\tactor\t\\N\t\\N", True),  # missing ordering (a key column)
        ("tt0000001\tx\tnm1\tactor\t\\N\t\\N", True),
        ("tt0000001\t1234567890\tnm1\tactor\t\\N\t\\N", True),  # may overflow an int
        ("tt0000001\t6\tnm1\tactor\t\\N", True),
        ("tt0000001\t7\tnm1\tactor\t\\N\t\\N\textra", True),
        ("tt0000001\t8\tnm1\t\\Nx\t\\N\t\\N", False),  # `\Nx` is a value
    ],
    "title.basics": [
        ("tt0000001\tshort\tCarmencita\tCarmencita\t0\t1894\t\\N\t1\tDocumentary,Short", False),
        ("tt0000002\tshort\tLe clown\tLe clown\t0\t1892\t\\N\t\\N\t\\N", False),
        ("tt0000003\tshort\tA\tA\t0\t1892\t\\N\tDocumentary\t\\N", True),  # IMDb's shifted-columns line
        ("tt0000004\tshort\tA\tA\t0\t1892\t\\N\t5", True),
    ],
}


@pytest.mark.parametrize(("name", "line", "suspect"), [(n, li, s) for n, ls in SUSPECT_LINES.items() for li, s in ls])
def test_the_first_day_check_flags_every_line_spark_might_reject(name, line, suspect):
    pattern = rawdiff.suspect_pattern(get(name))
    block = f"tt0000000\t1.0\t1\n{line}\ntt9999999\t1.0\t1".encode() if name == "title.ratings" else line.encode()
    assert [m.group().decode() for m in pattern.finditer(block)] == ([line] if suspect else []), line


def test_the_first_day_check_writes_the_suspect_lines_with_their_numbers(tmp_path):
    kept = sorted(li for li, _ in SUSPECT_LINES["title.ratings"] if li.startswith("tt"))  # key order, keys present
    result = rawdiff.check(RATINGS, write(tmp_path / "r.tsv.gz", RATINGS, kept), tmp_path / "work" / "parts")
    expected = [f"{i + 2}\t{li}" for i, li in enumerate(kept) if dict(SUSPECT_LINES["title.ratings"])[li]]
    assert result.suspect_path.read_text().splitlines() == expected
    assert result.suspects == len(expected) == 9
    assert result.lines == len(kept)
