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
import gzip
import json
import math
import multiprocessing
import os
import queue
import random
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from ingestion.datasets import DATASETS, Dataset

BASICS = DATASETS["title.basics"]
RATINGS = DATASETS["title.ratings"]
PRINCIPALS = DATASETS["title.principals"]
NAMES = DATASETS["name.basics"]

# Full-size (scale 1.0) counts, ~2026 IMDb. Ratings and principals follow from per-title probabilities.
FULL_TITLES = 12_300_000
FULL_NAMES = 15_100_000
# Ids are spread over the range IMDb really uses, whatever the scale, so that even a tiny snapshot has both
# 7-digit and 8-digit ids (and the text-versus-number sort order matters in every test).
TITLE_ID_SPAN = 38_000_000
NAME_ID_SPAN = 17_500_000

NULL = "\\N"
GZIP_LEVEL = 2  # measured: level 2 compresses ~1.7x faster than 3 for a 4% bigger file; 1 is no faster
READ_CHUNK = 1 << 22
PARALLEL_MIN_TITLES = 100_000  # below this (scale < 0.008) starting worker processes costs more than it saves
MAX_WORKERS = 8

# fmt: off
GENRES = (
    "Action", "Adult", "Adventure", "Animation", "Biography", "Comedy", "Crime", "Documentary", "Drama",
    "Family", "Fantasy", "Film-Noir", "Game-Show", "History", "Horror", "Music", "Musical", "Mystery",
    "News", "Reality-TV", "Romance", "Sci-Fi", "Short", "Sport", "Talk-Show", "Thriller", "War",
    "Western",
)
_GENRE_WEIGHTS = {
    "Drama": 20, "Comedy": 14, "Documentary": 12, "Action": 5, "Romance": 5, "Thriller": 4, "Horror": 4,
    "Crime": 4, "Family": 4, "Animation": 4, "Adventure": 3, "Music": 3, "Reality-TV": 3, "Talk-Show": 2,
    "Game-Show": 1, "News": 2, "Fantasy": 2, "Mystery": 2, "Biography": 2, "History": 2, "Sci-Fi": 1.5,
    "Sport": 2, "Musical": 1, "War": 1, "Western": 0.7, "Adult": 1, "Film-Noir": 0.1, "Short": 0.5,
}
# fmt: on

# fmt: off
PROFESSIONS = (
    "actor", "actress", "miscellaneous", "producer", "writer", "director", "camera_department",
    "editor", "composer", "cinematographer", "sound_department", "art_department", "music_department",
    "soundtrack", "visual_effects", "animation_department", "stunts", "assistant_director",
    "make_up_department", "costume_department", "casting_director", "production_designer",
    "editorial_department", "location_management", "script_department", "transportation_department",
    "talent_agent", "executive", "manager", "publicist", "legal", "production_manager", "set_decorator",
    "special_effects", "casting_department", "electrical_department", "costume_designer",
    "choreographer", "podcaster", "archive_footage", "archive_sound",
)
# fmt: on


@dataclass(frozen=True)
class TitleType:
    name: str
    share: float  # % of all titles
    rated: float  # probability that the title has a title.ratings row
    principals: tuple[int, int]  # min, max rows in title.principals (uniform)
    votes_mu: float  # lognormal mu of numVotes (sigma is shared)
    runtime: tuple[float, float, float, int, int]  # P(null), mean, sd, min, max
    year: tuple[float, float]  # P(startYear null), mean age in years
    series: bool = False  # has an endYear
    short: bool = False  # usually has the Short genre
    genre_null: float = 0.06


# Shares and rating odds tuned so that at scale 1.0: ~68% tvEpisode, ~6% movie, ~13% of titles rated
# (half of the movies), ~8 principals per title on average.
TITLE_TYPES = (
    TitleType("tvEpisode", 68.0, 0.065, (2, 14), 3.0, (0.55, 28, 12, 1, 180), (0.07, 12), genre_null=0.2),
    TitleType("short", 13.0, 0.15, (1, 13), 2.8, (0.3, 12, 9, 1, 45), (0.05, 25), short=True),
    TitleType("movie", 6.0, 0.5, (3, 20), 4.2, (0.25, 95, 22, 40, 320), (0.06, 30)),
    TitleType("video", 5.5, 0.15, (1, 13), 3.0, (0.35, 45, 30, 1, 240), (0.05, 15)),
    TitleType("tvSeries", 3.3, 0.45, (2, 14), 4.0, (0.4, 40, 15, 5, 120), (0.05, 15), series=True),
    TitleType("tvMovie", 1.8, 0.35, (3, 16), 3.4, (0.3, 85, 15, 30, 200), (0.04, 25)),
    TitleType("tvMiniSeries", 0.9, 0.35, (2, 14), 3.6, (0.5, 50, 15, 5, 120), (0.05, 10), series=True),
    TitleType("tvSpecial", 0.7, 0.2, (1, 13), 3.0, (0.3, 80, 30, 10, 240), (0.05, 15)),
    TitleType("videoGame", 0.5, 0.3, (1, 13), 3.5, (0.95, 30, 20, 1, 120), (0.05, 12)),
    TitleType("tvShort", 0.28, 0.2, (1, 13), 2.8, (0.3, 8, 5, 1, 40), (0.05, 20), short=True),
    TitleType("tvPilot", 0.02, 0.3, (1, 13), 3.0, (0.3, 40, 15, 5, 120), (0.05, 30)),
)
_MOVIE = 2  # index of "movie" in TITLE_TYPES
_MOVIE_LIKE = {b"movie": b"tvMovie", b"tvMovie": b"movie"}  # the titleType flip next_day makes
VOTES_SIGMA = 2.2
MAX_VOTES = 3_000_000
CURRENT_YEAR = 2026

# title.principals categories, in the order IMDb tends to list them within a title (cast first). Actor and
# actress share a rank so they stay interleaved after the sort.
CATEGORIES = (
    ("self", 0, 14.0),
    ("actor", 1, 24.5),
    ("actress", 1, 18.0),
    ("archive_footage", 2, 2.0),
    ("archive_sound", 2, 0.5),
    ("director", 3, 7.5),
    ("writer", 4, 9.0),
    ("producer", 5, 10.0),
    ("composer", 6, 3.5),
    ("cinematographer", 7, 4.0),
    ("editor", 8, 4.0),
    ("production_designer", 9, 1.5),
    ("casting_director", 10, 1.5),
)
_CAT_RANK = [rank for _, rank, _ in CATEGORIES]
_CAT = {name: i for i, (name, _, _) in enumerate(CATEGORIES)}
_CAST = (_CAT["actor"], _CAT["actress"])
# (job value, weight) per category; missing categories always have job \N
# fmt: off
_JOBS = {
    "director": ((NULL, 95), ("co-director", 4), ("second unit director", 1)),
    "writer": (
        (NULL, 40), ("screenplay", 15), ("written by", 12), ("story", 8), ("novel", 5),
        ("screenplay by", 5), ("creator", 5), ("teleplay", 4), ("based on the novel by", 3), ("dialogue", 3),
    ),
    "producer": (
        ("producer", 60), ("executive producer", 22), ("line producer", 5), ("co-producer", 5),
        ("associate producer", 5), ("supervising producer", 3),
    ),
    "composer": ((NULL, 85), ("composer", 10), ("music by", 5)),
    "cinematographer": ((NULL, 60), ("director of photography", 40)),
    "editor": ((NULL, 70), ("editor", 28), ("supervising editor", 2)),
    "production_designer": ((NULL, 60), ("production designer", 40)),
    "casting_director": ((NULL, 70), ("casting director", 30)),
}
# fmt: on

# fmt: off
_FIRST = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Margaret",
    "Donald", "Sandra", "Paul", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Kenneth", "Donna",
    "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Dorothy", "Timothy",
    "Melissa", "Ronald", "Deborah", "Jean", "Pierre", "Marie", "François", "Hélène", "Céline", "Jérôme",
    "André", "Zoë", "Chloé", "José", "María", "Sofía", "Ángel", "Lucía", "Jesús", "João", "Conceição",
    "Björn", "Søren", "Bjørn", "Åsa", "Jürgen", "Günter", "Jörg", "Łukasz", "Małgorzata", "Wojciech",
    "Agnieszka", "Paweł", "Jiří", "Ólafur", "Þóra", "Hanna", "Ingrid", "Lars", "Nils", "Ahmet", "Ayşe",
    "Mehmet", "Şule", "Dmitriy", "Olga", "Sergei", "Ivan", "Giulia", "Luca", "Francesca", "Matteo",
    "Raj", "Priya", "Arjun", "Hiroshi", "Yuki", "Kenji", "Mei", "Wei", "Jin", "Seo-yeon", "Min-jun",
    "Fatima", "Omar", "Kwame", "Amara", "Chidi", "Ngozi", "Mateus", "Renée", "Noël", "Inés", "Ximena",
    "Gaël", "Siobhán",
)
_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernández", "López", "González", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris", "Sánchez", "Clark", "Ramírez",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
    "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Dupont", "Lefèvre",
    "Moreau", "Girard", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Kowalski", "Nowak",
    "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Dvořák", "Novák", "Černý", "Svoboda", "Hansen",
    "Johansen", "Sørensen", "Østergaard", "Jørgensen", "Nielsen", "Andersson", "Lindström", "Åberg",
    "Öberg", "Yılmaz", "Kaya", "Demir", "Şahin", "Tanaka", "Suzuki", "Takahashi", "Watanabe", "Kim",
    "Park", "Choi", "Chen", "Wang", "Li", "Zhang", "Liu", "Singh", "Kumar", "Patel", "Sharma", "Ivanov",
    "Smirnov", "Kuznetsov", "O'Brien", "O'Connor", "McDonald", "MacLeod", "Ólafsson", "Guðmundsson",
    "Nguyễn", "Okafor", "Mensah", "Silva", "Santos", "Oliveira", "Costa", "Ferreira", "Papadopoulos",
)
# fmt: on
_PARTICLES = ("de", "van", "von", "de la", "van der", "di", "da", "le")
_NICKS = ("Dr", "Kid", "Big", "Bud", "Ace", "Doc", "Lil", "The Rock", "Sonny", "Red")
# Names in their own script (IMDb has a few, most are transliterated)
# fmt: off
_NATIVE_NAMES = (
    "山田太郎", "佐藤花子", "黒澤明", "宮崎駿", "张伟", "王芳", "김민준", "이서연",
    "Иван Петров", "Ольга Смирнова",
    "Γιώργος Παπαδόπουλος", "محمد علي", "אברהם כהן", "สมชาย ใจดี", "अमित शर्मा",
)
# fmt: on
_SINGLE_NAMES = ("Zendaya", "Madonna", "Cher", "Björk", "Pelé", "Sting", "Mononoke", "Rihanna", "Nenê")

# fmt: off
_ADJ = (
    "Last", "Dark", "Silent", "Lost", "Golden", "Hidden", "Broken", "Secret", "Final", "Wild", "Little",
    "Long", "Crimson", "Eternal", "Forgotten", "Frozen", "Burning", "Endless", "Strange", "Empty",
    "Bright", "Lonely", "Savage", "Quiet", "Hollow", "Black", "White", "Red", "Blue", "Sweet", "Bitter",
    "Cold", "Deadly", "Perfect", "Dangerous", "Invisible", "Sacred", "Electric", "Midnight",
)
_NOUN = (
    "Night", "Road", "River", "City", "Heart", "Dream", "House", "Shadow", "Storm", "Game", "Star",
    "Girl", "Boy", "Man", "Woman", "Child", "World", "Sea", "Garden", "War", "Summer", "Winter",
    "Mountain", "Island", "Kingdom", "Secret", "Letter", "Train", "Hotel", "Mirror", "Song", "Wolf",
    "Fire", "Sky", "Stranger", "Promise", "Journey", "Return", "Family", "Witness", "Legacy", "Ghost",
    "Angel", "Devil", "Moon", "Sun", "Truth", "Memory", "Voice",
)
_FOREIGN_TITLES = (
    "La sortie de l'usine Lumière à Lyon", "Le voyage dans la lune", "Das Boot", "Der Himmel über Berlin",
    "Los olvidados", "Ladri di biciclette", "Smultronstället", "Det sjunde inseglet", "Człowiek z marmuru",
    "Øen", "Kärlek och ära", "七人の侍", "千と千尋の神隠し", "東京物語", "霸王别姬", "기생충", "Брат",
    "Иди и смотри", "Ζορμπάς", "Café Müller", "Le fabuleux destin d'Amélie Poulain", "Señora Acero",
    "Ça commence aujourd'hui", "Łódź nocą", "Das boxende Känguruh", "L'arroseur arrosé", "Pather Panchali",
    "A Separação", "Jodaeiye Nader az Simin", "Älskade, förlorade", "Kış Uykusu", "Tōkyō monogatari",
)
# fmt: on
# Raw double quotes inside unquoted fields, as in the real files (the second one is unbalanced on purpose)
# fmt: off
_QUOTED_TITLES = (
    '"Hotel" Guest', 'Swing it" magistern', '"Swing it" magistern', 'The "Real" Story', 'Operation "Y"',
    '"Weird Al" Yankovic Live', 'Das "Wunder" von Bern',
)
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)
_ROLES = (
    "Mary", "Jane", "John", "Self", "Narrator", "Detective Smith", "Dr. Watson", "Policeman", "Nurse",
    "Bartender", "Mother", "Father", "Waitress", "The Stranger", "Guard #2", "Mrs. Brown", "Doctor",
    "Reporter", "Sheriff", "Little Girl", "Marie-Louise", "Señora García", "Captain Ahab", "Bob", "Kate",
    "Tom", "Gang Member", "Soldier", "Zombie", "Host", "Various Characters", "Young Björn",
    "Kommissar Weiß", "Blacksmith", "Assistant", "Sneezing Man", "Voice", "Himself", "Herself", "Lead Vocals",
)
# fmt: on
_COMMA_ROLES = ("Smith, John", "Andrew Frisbee, Jr.", "Doe, Jane", "Martin Luther King, Jr.", "Mother, Old")
# fmt: off
_QUOTE_ROLES = (
    'Woman (segment "Fire Woman")', 'Daddy (segment "Jamaica")', 'Tristan - (segment "Ascension")',
)
# fmt: on


# --------------------------------------------------------------------------------------------- pools
# Generating every string from scratch per row is too slow in pure Python at 98M rows, so the text parts
# (titles, names, genre lists, category+job+characters tails...) are drawn once per seed into fixed pools
# and rows pick from them with random bits. Pool sizes are powers of two so one getrandbits() picks.


def _weighted_table(weights: list[float], size: int) -> list[int]:
    """A lookup list of `size` indexes where index i appears in proportion to weights[i]."""
    total = sum(weights)
    table: list[int] = []
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        table.extend([i] * (round(acc / total * size) - len(table)))
    return table[:size] + [len(weights) - 1] * (size - len(table))


def _pick(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


def _clip(value: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(value)))


def _person_name(rng: random.Random) -> str:
    r = rng.random()
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    if r < 0.012:
        return rng.choice(_NATIVE_NAMES)
    if r < 0.027:
        return f'{first} "{rng.choice(_NICKS)}" {last}'  # raw quotes, like `Stephen "Dr" Love`
    if r < 0.04:
        return rng.choice(_SINGLE_NAMES) if rng.random() < 0.3 else first
    if r < 0.07:
        return f"{first} {rng.choice(_PARTICLES)} {last}"
    if r < 0.12:
        return f"{first} {chr(rng.randint(65, 90))}. {last}"
    return f"{first} {last}"


def _made_up_title(rng: random.Random) -> str:
    r = rng.random()
    adj, noun, noun2 = rng.choice(_ADJ), rng.choice(_NOUN), rng.choice(_NOUN)
    if r < 0.2:
        return f"The {adj} {noun}"
    if r < 0.35:
        return f"{noun} of the {noun2}"
    if r < 0.5:
        return noun if rng.random() < 0.5 else f"The {noun}"
    if r < 0.6:
        return f"{adj} {noun}s"
    if r < 0.7:
        return f"{noun} {rng.randint(2, 5)}"
    if r < 0.8:
        return f"A {noun} in {rng.choice(_LAST)}"
    if r < 0.9:
        return f"{rng.choice(_FIRST)}'s {noun}"
    return f"Return of the {adj} {noun}"


def _title_pair(rng: random.Random) -> str:
    """primaryTitle TAB originalTitle: mostly the same, sometimes an English title for a foreign original."""
    r = rng.random()
    if r < 0.01:
        t = rng.choice(_QUOTED_TITLES)
        return f"{t}\t{t}"
    if r < 0.09:
        return f"{_made_up_title(rng)}\t{rng.choice(_FOREIGN_TITLES)}"
    if r < 0.12:
        t = rng.choice(_FOREIGN_TITLES)
        return f"{t}\t{t}"
    t = _made_up_title(rng)
    return f"{t}\t{t}"


def _episode_pair(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        t = f"Episode #{rng.randint(1, 12)}.{rng.randint(1, 30)}"
    elif r < 0.55:
        t = f"Episode dated {rng.randint(1, 28)} {rng.choice(_MONTHS)} {rng.randint(1990, CURRENT_YEAR)}"
    else:
        return _title_pair(rng)
    return f"{t}\t{t}"


def _years(rng: random.Random, t: TitleType) -> str:
    """startYear TAB endYear (endYear only for series, often still running)."""
    null, age = t.year
    if rng.random() < null:
        return f"{NULL}\t{NULL}"
    if rng.random() < 0.01:
        start = rng.randint(CURRENT_YEAR + 1, CURRENT_YEAR + 4)  # announced titles
    else:
        start = max(1888, CURRENT_YEAR - int(rng.expovariate(1 / age)))
    if not t.series or rng.random() < 0.55:
        return f"{start}\t{NULL}"
    return f"{start}\t{min(CURRENT_YEAR, start + int(rng.expovariate(1 / 3)))}"


def _runtime(rng: random.Random, t: TitleType) -> str:
    null, mean, sd, lo, hi = t.runtime
    return NULL if rng.random() < null else str(_clip(rng.gauss(mean, sd), lo, hi))


def _genres(rng: random.Random, t: TitleType, weights: list[float]) -> str:
    if rng.random() < t.genre_null:
        return NULL
    k = rng.choices((1, 2, 3), (45, 30, 25))[0]
    picked = {"Short"} if t.short and rng.random() < 0.8 else set()
    while len(picked) < k:
        picked.add(rng.choices(GENRES, weights)[0])
    return ",".join(sorted(picked))  # IMDb lists genres alphabetically


def _characters(rng: random.Random, category: str) -> str:
    """The JSON-ish characters field; quotes inside a role are JSON-escaped, as IMDb does."""
    r = rng.random()
    if category in ("actor", "actress"):
        if r < 0.1:
            return NULL
        if r < 0.15:
            roles = [rng.choice(_COMMA_ROLES)]
        elif r < 0.17:
            roles = [rng.choice(_QUOTE_ROLES)]
        elif r < 0.25:
            roles = [rng.choice(_ROLES), rng.choice(_FIRST)]
        elif r < 0.6:
            roles = [rng.choice(_ROLES)]
        elif r < 0.8:
            roles = [rng.choice(_FIRST)]
        else:
            roles = [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"]
    elif category == "self":
        roles = [rng.choice(("Self", "Self", "Self", "Self - Host", "Self - Guest", "Himself", "Herself"))]
        if r < 0.05:
            return NULL
    elif category == "archive_footage":
        if r < 0.35:
            return NULL
        roles = ["Self"] if r < 0.85 else [rng.choice(_ROLES)]
    else:
        return NULL
    return json.dumps(roles, ensure_ascii=False, separators=(",", ":"))


class _TitlePools:
    """Everything a title block draws from; built once per seed (about 0.3 s)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"{seed}:title-pools")
        gw = [_GENRE_WEIGHTS[g] for g in GENRES]
        plain = [_title_pair(rng) for _ in range(1 << 15)]
        episodes = [_episode_pair(rng) for _ in range(1 << 15)]
        # per type: (name, rated, kmin, kspan, votes_mu, titles, years, runtimes, genres)
        self.kinds = [
            (
                t.name,
                t.rated,
                t.principals[0],
                t.principals[1] - t.principals[0] + 1,
                t.votes_mu,
                episodes if t.name == "tvEpisode" else plain,
                [_years(rng, t) for _ in range(1024)],
                [_runtime(rng, t) for _ in range(256)],
                [_genres(rng, t, gw) for _ in range(1024)],
            )
            for t in TITLE_TYPES
        ]
        self.kind_table = [self.kinds[i] for i in _weighted_table([t.share for t in TITLE_TYPES], 1 << 14)]
        # a rating leans a bit above the middle, like IMDb's (median ~6.6); one decimal, 1.0..10.0
        self.ratings = [f"{_clip(rng.gauss(66, 13), 10, 100) / 10:.1f}" for _ in range(1024)]
        self.cat_table = _weighted_table([w for _, _, w in CATEGORIES], 1024)
        # per category, 4096 ready-made "category TAB job TAB characters" tails
        self.tails = [
            [f"{name}\t{_pick(rng, _JOBS.get(name, ((NULL, 1),)))}\t{_characters(rng, name)}" for _ in range(4096)]
            for name, _, _ in CATEGORIES
        ]


class _NamePools:
    def __init__(self, seed: int) -> None:
        rng = random.Random(f"{seed}:name-pools")
        self.names = [_person_name(rng) for _ in range(1 << 15)]
        self.lives = [self._life(rng) for _ in range(1024)]
        pw = [1 / (i + 2) for i in range(len(PROFESSIONS))]  # actor, actress... most common first
        self.professions = [self._professions(rng, pw) for _ in range(1024)]
        # knownForTitles count: \N for ~12% (people with no notable title), else 1..4, mostly 4 or 1
        self.known_counts = _weighted_table([12, 25, 13, 12, 38], 64)

    @staticmethod
    def _life(rng: random.Random) -> str:
        """birthYear TAB deathYear; most people have neither."""
        if rng.random() < 0.8:
            return f"{NULL}\t{rng.randint(1900, 2024)}" if rng.random() < 0.02 else f"{NULL}\t{NULL}"
        birth = _clip(rng.gauss(1955, 30), 1840, 2018)
        p_dead = 0.95 if birth < 1920 else 0.5 if birth < 1950 else 0.05
        if rng.random() < p_dead:
            return f"{birth}\t{min(2025, birth + _clip(rng.gauss(75, 14), 15, 105))}"
        return f"{birth}\t{NULL}"

    @staticmethod
    def _professions(rng: random.Random, weights: list[float]) -> str:
        # Real name.basics leaves primaryProfession *empty* (not \N) when unknown, ~8% of people.
        if rng.random() < 0.08:
            return ""
        k = rng.choices((1, 2, 3), (35, 25, 40))[0]
        picked: list[str] = []
        while len(picked) < k:
            p = rng.choices(PROFESSIONS, weights)[0]
            if p not in picked and not (p in ("actor", "actress") and {"actor", "actress"} & set(picked)):
                picked.append(p)
        return ",".join(picked)  # IMDb's order is by importance, not alphabetical


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


# --------------------------------------------------------------------------------------------- file io


class _Piece(NamedTuple):
    """A chunk of one file, compressed on its own (in a worker) as raw deflate ending on a byte boundary."""

    data: bytes
    crc: int  # CRC-32 of the uncompressed bytes
    size: int  # uncompressed length
    rows: int


def _deflate(rows: list[str]) -> _Piece:
    raw = "".join(rows).encode()
    z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15)
    # a sync flush ends the piece on a byte boundary without a final block, so pieces can be concatenated
    return _Piece(z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH), zlib.crc32(raw), len(raw), len(rows))


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B) (CRC is affine in its start value; zlib's C
    crc32_combine is not exposed in Python). Costs two C passes over len2 zero bytes."""
    zeros = bytes(len2)
    return crc2 ^ zlib.crc32(zeros, crc1) ^ zlib.crc32(zeros)


class _GzOut:
    """One output file as a single-member gzip built from pieces, like IMDb's (not a multi-member gzip,
    which some Hadoop codecs read only the first member of). mtime is 0 so reruns are byte-identical; the
    file appears under its final name only once complete.

    threaded=True compresses in a helper thread (zlib releases the GIL), for a producer that is itself
    busy; the order of writes is kept.
    """

    def __init__(self, out_dir: Path, ds: Dataset, threaded: bool = False) -> None:
        self.path = out_dir / ds.file_name
        self._part = out_dir / (ds.file_name + ".part")
        self._f = open(self._part, "wb")  # noqa: SIM115 - closed in __exit__
        # magic, deflate, FNAME flag, mtime 0, no extra flags, OS unknown, member name without ".gz"
        self._f.write(b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\xff" + ds.file_name[:-3].encode() + b"\x00")
        self._z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15)  # for data compressed here, in order
        self._z_pending = False
        self.crc = 0
        self.size = 0
        self.count = 0
        self._queue: queue.Queue[tuple[bytes, int] | None] | None = None
        self._error: BaseException | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=4)
            self._thread = threading.Thread(target=self._drain, name="synth-writer", daemon=True)
            self._thread.start()
        self.write(("\t".join(ds.column_names) + "\n").encode(), rows=0)

    def write(self, raw: bytes, rows: int) -> None:
        """Compress and append raw bytes (whole lines)."""
        if self._queue is None:
            self._compress(raw, rows)
            return
        if self._error is not None:
            raise self._error
        self._queue.put((raw, rows))

    def _compress(self, raw: bytes, rows: int) -> None:
        self._f.write(self._z.compress(raw))
        self._z_pending = True
        self.crc = zlib.crc32(raw, self.crc)
        self.size += len(raw)
        self.count += rows

    def _drain(self) -> None:
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._compress(*item)
                except BaseException as e:  # raised in the producer at its next write or at close
                    self._error = e

    def write_lines(self, lines: list[bytes]) -> None:
        """Append lines read from a previous snapshot (bytes without their newline)."""
        if lines:
            self.write(b"\n".join(lines) + b"\n", len(lines))

    def add(self, piece: _Piece) -> None:
        """Append a piece compressed elsewhere (not with threaded=True)."""
        assert self._queue is None
        if self._z_pending:
            self._f.write(self._z.flush(zlib.Z_SYNC_FLUSH))
            self._z_pending = False
        self._f.write(piece.data)
        self.crc = _crc32_combine(self.crc, piece.crc, piece.size)
        self.size += piece.size
        self.count += piece.rows

    def __enter__(self) -> _GzOut:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._queue is not None:
                self._queue.put(None)
                self._thread.join()
                if self._error is not None and exc_type is None:
                    raise self._error
            if exc_type is None:
                # the final (empty if nothing is pending) deflate block, then CRC-32 and size mod 2^32
                self._f.write(self._z.flush(zlib.Z_FINISH))
                self._f.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))
        except BaseException:
            self._f.close()
            self._part.unlink(missing_ok=True)
            raise
        self._f.close()
        if exc_type is None:
            os.replace(self._part, self.path)
        else:
            self._part.unlink(missing_ok=True)


def _read_batches(path: Path, ds: Dataset) -> Iterator[list[bytes]]:
    """The data lines of a snapshot file (bytes, no newline), in batches, after checking the header."""
    expected = "\t".join(ds.column_names).encode()
    with gzip.open(path, "rb") as f:
        header = f.readline().rstrip(b"\r\n")
        if header != expected:
            raise ValueError(f"{path}: header {header!r} is not {expected!r}")
        rest = b""
        while chunk := f.read(READ_CHUNK):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            if lines:
                yield lines
        if rest:
            yield [rest]


def _key(line: bytes) -> bytes:
    return line[: line.index(b"\t")]


def _interleave(lines: list[bytes], pending: list[tuple[bytes, list[bytes]]], pos: int) -> tuple[list[bytes], int]:
    """Merge the new rows (pending[pos:], sorted by key) that sort before the end of `lines` into it."""
    if pos >= len(pending) or not lines or pending[pos][0] > _key(lines[-1]):
        return lines, pos
    out: list[bytes] = []
    for line in lines:
        k = _key(line)
        while pos < len(pending) and pending[pos][0] < k:
            out.extend(pending[pos][1])
            pos += 1
        out.append(line)
    return out, pos


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
