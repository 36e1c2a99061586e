"""Random values for the synthetic snapshots: names, titles, years, genres, characters, drawn from the vocabulary
(devdata.vocabulary) through precomputed weighted pools, one per worker.
"""

from __future__ import annotations

import json
import random

from devdata.vocabulary import (
    _ADJ,
    _COMMA_ROLES,
    _FIRST,
    _FOREIGN_TITLES,
    _GENRE_WEIGHTS,
    _JOBS,
    _LAST,
    _MONTHS,
    _NATIVE_NAMES,
    _NICKS,
    _NOUN,
    _PARTICLES,
    _QUOTE_ROLES,
    _QUOTED_TITLES,
    _ROLES,
    _SINGLE_NAMES,
    CATEGORIES,
    CURRENT_YEAR,
    GENRES,
    NULL,
    PROFESSIONS,
    TITLE_TYPES,
    TitleType,
)

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
