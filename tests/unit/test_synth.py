"""devdata.synth on tiny snapshots (scale <= 0.001): IMDb's exact format, determinism, realistic
proportions, the deliberate quirks, and every kind of change next_day makes.

The snapshots are real files written by the real code and read back with gzip + str.split only, the way
a loader that knows nothing about the generator would read them.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import re
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from conftest import SAMPLES

from devdata import gzio, synth, vocabulary
from ingestion.datasets import DATASETS

SCALE = 0.001
RATE = 0.02
REAL_SAMPLES = SAMPLES / "heads-2024"
TCONST = re.compile(r"tt\d{7,8}")
NCONST = re.compile(r"nm\d{7,8}")
INT = re.compile(r"\d+")
NULL = "\\N"
BASICS_COLUMNS = DATASETS["title.basics"].column_names


@functools.cache
def read(folder: Path, name: str) -> tuple[tuple[str, ...], ...]:
    """Data rows of one snapshot file, after checking the bytes: one gzip member, UTF-8, LF, header."""
    data = (folder / DATASETS[name].file_name).read_bytes()
    z = zlib.decompressobj(wbits=31)
    raw = z.decompress(data) + z.flush()
    assert z.eof and z.unused_data == b"", "a single, complete gzip member, like IMDb's files"
    text = raw.decode("utf-8")
    assert text.endswith("\n") and "\r" not in text
    lines = text.split("\n")[:-1]
    assert lines[0] == "\t".join(DATASETS[name].column_names)
    return tuple(tuple(line.split("\t")) for line in lines[1:])


def key(name: str, row: tuple[str, ...]) -> tuple[str, int] | str:
    return (row[0], int(row[1])) if name == "title.principals" else row[0]


def by_key(folder: Path, name: str) -> dict:
    return {key(name, r): r for r in read(folder, name)}


def changed_keys(before: Path, after: Path, name: str) -> list:
    """Keys in both snapshots whose row differs."""
    old, new = by_key(before, name), by_key(after, name)
    return [k for k in old.keys() & new.keys() if old[k] != new[k]]


@pytest.fixture(scope="module")
def day1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day1")
    counts = synth.generate(out, SCALE)
    assert counts == {name: len(read(out, name)) for name in DATASETS}
    return out


@pytest.fixture(scope="module")
def day2(day1: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day2")
    counts = synth.next_day(day1, out, RATE)
    assert counts == {name: len(read(out, name)) for name in DATASETS}
    return out


@pytest.fixture(params=["day1", "day2"])
def snapshot(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


# ----------------------------------------------------------------------------------------------- format


def test_headers_match_the_registry_and_the_real_files() -> None:
    for name, ds in DATASETS.items():
        real = REAL_SAMPLES / f"{name}.tsv"
        assert real.read_text(encoding="utf-8").split("\n", 1)[0].split("\t") == ds.column_names


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_line_has_the_registry_columns(snapshot: Path, name: str) -> None:
    ds = DATASETS[name]
    rows = read(snapshot, name)
    assert rows
    for row in rows:
        assert len(row) == len(ds.columns), row
        for col, value in zip(ds.columns, row, strict=True):
            # IMDb leaves primaryProfession empty (not \N) when unknown; nothing else is ever empty
            assert value or col.name == "primaryProfession", (col.name, row)
            if col.numeric and value != NULL:
                pattern = r"\d{1,2}\.\d" if col.type.startswith("decimal") else r"\d+"
                assert re.fullmatch(pattern, value), (col.name, row)


def test_title_fields(snapshot: Path) -> None:
    types = {t.name for t in vocabulary.TITLE_TYPES}
    for tconst, ttype, primary, original, adult, start, end, runtime, genres in read(snapshot, "title.basics"):
        assert TCONST.fullmatch(tconst)
        assert ttype in types and primary and original
        assert adult in ("0", "1")
        for year in (start, end):
            assert year == NULL or 1880 <= int(year) <= 2035
        assert runtime == NULL or int(runtime) > 0
        if genres != NULL:
            g = genres.split(",")
            assert 1 <= len(g) <= 3 and set(g) <= set(vocabulary.GENRES) and g == sorted(g)


def test_rating_fields(snapshot: Path) -> None:
    for tconst, rating, votes in read(snapshot, "title.ratings"):
        assert TCONST.fullmatch(tconst)
        assert 1.0 <= float(rating) <= 10.0
        assert 5 <= int(votes) <= synth.MAX_VOTES


def test_principal_fields(snapshot: Path) -> None:
    categories = {c for c, _, _ in vocabulary.CATEGORIES}
    orderings: dict[str, list[int]] = defaultdict(list)
    for tconst, ordering, nconst, category, job, characters in read(snapshot, "title.principals"):
        assert TCONST.fullmatch(tconst) and NCONST.fullmatch(nconst)
        assert category in categories and job
        if characters != NULL:
            roles = json.loads(characters)
            assert isinstance(roles, list) and roles and all(isinstance(r, str) for r in roles)
        orderings[tconst].append(int(ordering))
    for tconst, seen in orderings.items():
        assert seen == list(range(1, len(seen) + 1)), tconst


def test_name_fields(snapshot: Path) -> None:
    professions = set(vocabulary.PROFESSIONS)
    for nconst, name, birth, death, profession, known in read(snapshot, "name.basics"):
        assert NCONST.fullmatch(nconst) and name
        assert birth == NULL or 1800 <= int(birth) <= 2026
        assert death == NULL or 1800 <= int(death) <= 2026
        if profession:
            p = profession.split(",")
            assert 1 <= len(p) <= 3 and set(p) <= professions and len(set(p)) == len(p)
        if known != NULL:
            k = known.split(",")
            assert 1 <= len(k) <= 4 and all(TCONST.fullmatch(t) for t in k) and len(set(k)) == len(k)


@pytest.mark.parametrize("name", list(DATASETS))
def test_keys_are_unique_and_sorted_as_text_like_imdb(snapshot: Path, name: str) -> None:
    keys = [key(name, r) for r in read(snapshot, name)]
    # IMDb sorts ids as text (title.basics ends with tt9916880), so tt10000000 comes before tt2000000
    assert all(a < b for a, b in itertools.pairwise(keys)), "strictly increasing, hence unique"
    ids = [k[0] if isinstance(k, tuple) else k for k in keys]
    assert {len(i) for i in ids} == {9, 10}, "both 7-digit and 8-digit ids"
    assert ids != sorted(ids, key=lambda i: int(i[2:])), "text order, not numeric order"


def test_title_files_agree(snapshot: Path) -> None:
    titles = by_key(snapshot, "title.basics")
    assert set(by_key(snapshot, "title.ratings")) <= set(titles)
    assert {r[0] for r in read(snapshot, "title.principals")} <= set(titles)


# ----------------------------------------------------------------------------------------------- shape


def test_row_counts_scale_linearly(day1: Path, tmp_path: Path) -> None:
    counts = synth.generate(tmp_path, SCALE / 5)
    assert counts["title.basics"] == round(vocabulary.FULL_TITLES * SCALE / 5)
    assert counts["name.basics"] == round(vocabulary.FULL_NAMES * SCALE / 5)
    for name in ("title.ratings", "title.principals"):
        assert 0.15 < counts[name] / len(read(day1, name)) < 0.25, name


def test_proportions_look_like_imdb(day1: Path) -> None:
    basics, ratings = read(day1, "title.basics"), read(day1, "title.ratings")
    principals = read(day1, "title.principals")
    assert len(basics) == round(vocabulary.FULL_TITLES * SCALE)
    assert len(read(day1, "name.basics")) == round(vocabulary.FULL_NAMES * SCALE)

    types = Counter(r[1] for r in basics)
    assert 0.04 < types["movie"] / len(basics) < 0.08
    assert 0.62 < types["tvEpisode"] / len(basics) < 0.74
    assert len(types) >= 10

    assert 0.10 < len(ratings) / len(basics) < 0.16
    rated = {r[0] for r in ratings}
    movies = [r[0] for r in basics if r[1] == "movie"]
    assert 0.4 < sum(m in rated for m in movies) / len(movies) < 0.6, "about half the movies are rated"
    votes = sorted(int(r[2]) for r in ratings)
    assert votes[0] == 5 and votes[-1] > 100 * votes[len(votes) // 2], "numVotes is heavy-tailed"

    assert 7 < len(principals) / len(basics) < 9
    categories = Counter(r[3] for r in principals)
    assert 0.37 < (categories["actor"] + categories["actress"]) / len(principals) < 0.47
    assert {"self", "director", "writer", "producer", "composer", "editor"} <= set(categories)


def test_people_popularity_and_dangling_ids(day1: Path) -> None:
    principals = read(day1, "title.principals")
    people = {r[0] for r in read(day1, "name.basics")}
    appearances = Counter(r[2] for r in principals)
    counts = sorted(appearances.values())
    assert counts[-1] > 50 * counts[len(counts) // 2], "Zipf-like: a few people are in many titles"
    dangling = sum(r[2] not in people for r in principals) / len(principals)
    assert 0.0005 < dangling < 0.01, "like IMDb, a few principals point to no name.basics row"
    twice = Counter((r[0], r[2]) for r in principals)
    assert any(n > 1 for n in twice.values()), "one person with two rows in a title"


def test_rated_movies_have_actors(day1: Path) -> None:
    cast = {r[0] for r in read(day1, "title.principals") if r[3] in ("actor", "actress")}
    rated = {r[0] for r in read(day1, "title.ratings")}
    movies = {r[0] for r in read(day1, "title.basics") if r[1] == "movie"}
    assert len(movies & rated & cast) > 100


def test_a_tiny_scale_still_has_one_joinable_row_per_file(tmp_path: Path) -> None:
    counts = synth.generate(tmp_path, 1e-7)
    assert all(n >= 1 for n in counts.values()), counts
    title = read(tmp_path, "title.basics")[0]
    assert title[1] == "movie"
    assert read(tmp_path, "title.ratings")[0][0] == title[0]
    assert any(r[3] in ("actor", "actress") for r in read(tmp_path, "title.principals"))


# ----------------------------------------------------------------------------------------------- quirks


def test_quirks_of_the_real_files_are_present(day1: Path) -> None:
    basics, names = read(day1, "title.basics"), read(day1, "name.basics")
    principals = read(day1, "title.principals")
    assert any('"' in r[2] for r in basics), 'a raw " in a title'
    assert any(r[2].count('"') % 2 for r in basics), 'an unbalanced raw " (Swing it" magistern)'
    assert any('"' in r[1] for r in names), 'a raw " in a name'
    assert any(not r[1].isascii() for r in names), "non-ASCII names"
    assert any(any(ord(c) > 0x3000 for c in r[1]) for r in names), "names in CJK script"
    for col in (5, 6, 7, 8):  # startYear, endYear, runtimeMinutes, genres
        assert any(r[col] == NULL for r in basics), BASICS_COLUMNS[col]
    assert any(r[4] == "1" for r in basics), "isAdult 1"
    assert any(r[4] == "" for r in names), "empty primaryProfession"
    assert any(r[5] == NULL for r in names), "\\N knownForTitles"
    characters = [json.loads(r[5]) for r in principals if r[5] != NULL]
    assert any("," in role for roles in characters for role in roles), '["Smith, John"]'
    assert any(len(roles) > 1 for roles in characters), '["Mary","Jane"]'
    assert any('\\"' in r[5] for r in principals), "JSON-escaped quotes inside characters"
    assert any(r[3] in ("actor", "actress") and r[5] == NULL for r in principals)


# ----------------------------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes(day1: Path, tmp_path: Path) -> None:
    synth.generate(tmp_path / "again", SCALE)
    synth.generate(tmp_path / "other", SCALE, seed=7)
    for ds in DATASETS.values():
        mine = (day1 / ds.file_name).read_bytes()
        assert (tmp_path / "again" / ds.file_name).read_bytes() == mine, ds.name
        assert (tmp_path / "other" / ds.file_name).read_bytes() != mine, ds.name


def test_worker_processes_write_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scale = 0.0002
    synth.generate(tmp_path / "one", scale)
    monkeypatch.setattr(synth, "PARALLEL_MIN_TITLES", 1)
    monkeypatch.setattr(synth, "_cpus", lambda: 2)
    synth.generate(tmp_path / "two", scale)
    for ds in DATASETS.values():
        assert (tmp_path / "one" / ds.file_name).read_bytes() == (tmp_path / "two" / ds.file_name).read_bytes()


def test_crc32_combine_matches_zlib() -> None:
    a, b = b"tt0000001\tmovie\n" * 1000, "nm0000002\tZoë\n".encode() * 77
    assert gzio._crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
    assert gzio._crc32_combine(zlib.crc32(a), zlib.crc32(b""), 0) == zlib.crc32(a)


def test_outputs_are_plain_gzip(day1: Path) -> None:
    with gzip.open(day1 / "title.ratings.tsv.gz", "rt", encoding="utf-8") as f:
        assert f.readline() == "tconst\taverageRating\tnumVotes\n"
    assert not list(day1.glob("*.part"))


# ----------------------------------------------------------------------------------------------- next_day


def test_next_day_changes_ratings(day1: Path, day2: Path) -> None:
    before, after = by_key(day1, "title.ratings"), by_key(day2, "title.ratings")
    changed = changed_keys(day1, day2, "title.ratings")
    assert 0.5 * RATE < len(changed) / len(before) < 2 * RATE
    for k in changed:
        assert int(after[k][2]) > int(before[k][2]), "votes only go up"
        step = abs(round(float(after[k][1]) * 10) - round(float(before[k][1]) * 10))
        assert 1 <= step <= 5, "rating moves by 0.1..0.5"


def test_next_day_adds_titles_with_ratings_principals_and_new_people(day1: Path, day2: Path) -> None:
    new = by_key(day2, "title.basics").keys() - by_key(day1, "title.basics").keys()
    assert len(new) == max(1, round(len(read(day1, "title.basics")) * RATE / 10))
    assert new & by_key(day2, "title.ratings").keys(), "some new titles are rated"
    cast = defaultdict(list)
    for r in read(day2, "title.principals"):
        if r[0] in new:
            cast[r[0]].append(r)
    assert set(cast) == new, "every new title has principals"
    new_people = by_key(day2, "name.basics").keys() - by_key(day1, "name.basics").keys()
    assert new_people
    assert new_people <= {r[2] for rows in cast.values() for r in rows}, "new people play in new titles"
    old_max = max(int(k[2:]) for k in by_key(day1, "title.basics"))
    assert all(int(k[2:]) > old_max for k in new), "new ids are above every id IMDb handed out"


def test_next_day_removes_titles_from_every_title_file(day1: Path, day2: Path) -> None:
    removed = by_key(day1, "title.basics").keys() - by_key(day2, "title.basics").keys()
    assert removed
    assert len(removed) < 3 * RATE / 20 * len(read(day1, "title.basics")) + 3
    assert removed & by_key(day1, "title.ratings").keys(), "a rated title is removed"
    assert not removed & by_key(day2, "title.ratings").keys()
    assert not removed & {r[0] for r in read(day2, "title.principals")}
    assert removed & {r[0] for r in read(day1, "title.principals")}


def test_next_day_renames_people(day1: Path, day2: Path) -> None:
    before, after = by_key(day1, "name.basics"), by_key(day2, "name.basics")
    renamed = [k for k in before if before[k] != after[k]]
    assert renamed, "names are never removed"
    assert 0.5 * RATE / 10 < len(renamed) / len(before) < 2 * RATE / 10
    for k in renamed:
        assert before[k][1] != after[k][1] and before[k][2:] == after[k][2:], "only primaryName changes"


def test_next_day_flips_a_title_type(day1: Path, day2: Path) -> None:
    before, after = by_key(day1, "title.basics"), by_key(day2, "title.basics")
    changed = changed_keys(day1, day2, "title.basics")
    assert changed
    for k in changed:
        assert {before[k][1], after[k][1]} == {"movie", "tvMovie"}
        assert before[k][2:] == after[k][2:]


def test_next_day_points_a_principal_to_another_person(day1: Path, day2: Path) -> None:
    before, after = by_key(day1, "title.principals"), by_key(day2, "title.principals")
    changed = changed_keys(day1, day2, "title.principals")
    assert changed
    for k in changed:
        assert before[k][2] != after[k][2]
        assert before[k][:2] + before[k][3:] == after[k][:2] + after[k][3:], "only nconst changes"


def test_next_day_is_deterministic_and_chains(day1: Path, day2: Path, tmp_path: Path) -> None:
    synth.next_day(day1, tmp_path / "again", RATE)
    for ds in DATASETS.values():
        assert (tmp_path / "again" / ds.file_name).read_bytes() == (day2 / ds.file_name).read_bytes()
    counts = synth.next_day(day2, tmp_path / "day3", RATE, seed=44)
    assert counts["title.basics"] > 0
    titles = [r[0] for r in read(tmp_path / "day3", "title.basics")]
    assert titles == sorted(set(titles))


def test_every_change_kind_happens_even_at_rate_zero(day1: Path, tmp_path: Path) -> None:
    synth.next_day(day1, tmp_path, 0.0)
    titles_before, titles_after = by_key(day1, "title.basics").keys(), by_key(tmp_path, "title.basics").keys()
    assert titles_after - titles_before, "a new title"
    assert titles_before - titles_after, "a removed title"
    for name in DATASETS:  # a changed rating, a type flip, a re-pointed principal, a renamed person
        assert changed_keys(day1, tmp_path, name), name


def test_next_day_refuses_to_overwrite_its_input(day1: Path) -> None:
    with pytest.raises(ValueError):
        synth.next_day(day1, day1, RATE)


def test_next_day_checks_the_header(day1: Path, tmp_path: Path) -> None:
    prev = tmp_path / "prev"
    prev.mkdir()
    for ds in DATASETS.values():
        (prev / ds.file_name).write_bytes((day1 / ds.file_name).read_bytes())
    (prev / "title.ratings.tsv.gz").write_bytes(gzip.compress(b"tconst\trating\tvotes\ntt0000001\t5.0\t10\n"))
    with pytest.raises(ValueError, match="header"):
        synth.next_day(prev, tmp_path / "out", RATE)
    assert not list((tmp_path / "out").glob("*.part")), "no half-written files left behind"


# ----------------------------------------------------------------------------------------------- cli


def test_cli_generates_then_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert synth.main(["--scale", "0.0001", "--out", str(tmp_path / "a"), "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all("rows" in line for line in lines)
    assert synth.main(["--from", str(tmp_path / "a"), "--change-rate", "0.01", "--out", str(tmp_path / "b")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(d.file_name for d in DATASETS.values())


@pytest.mark.parametrize(
    "argv",
    [
        ["--out", "x"],
        ["--scale", "0.1", "--from", "y", "--change-rate", "0.1", "--out", "x"],
        ["--from", "y", "--out", "x"],
        ["--scale", "0.1", "--change-rate", "0.1", "--out", "x"],
    ],
)
def test_cli_rejects_bad_combinations(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as e:
        synth.main(argv)
    assert e.value.code == 2
