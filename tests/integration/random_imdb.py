"""A small random IMDb for tests: a seeded universe of titles, ratings, people and credits, days of changes of
every kind, written as IMDb files together with what landing should hold after them."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

from ingestion.datasets import DATASETS, get

TYPES = ["movie", "movie", "movie", "tvMovie", "short", "tvEpisode"]
CATEGORIES = ["actor", "actor", "actress", "actress", "self", "director", "producer"]


class Universe:
    """Today's IMDb as dicts key -> fields (the rows in the files), the rows removed so far (to revive), and
    what landing holds after each day (`effective`: a malformed line keeps its key's previous landed row)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.titles: dict[str, list[str]] = {}
        self.ratings: dict[str, list[str]] = {}
        self.names: dict[str, list[str]] = {}
        self.credits: dict[tuple[str, int], list[str]] = {}
        self.gone: dict[str, dict] = {"titles": {}, "ratings": {}, "names": {}, "credits": {}}
        self.next_title, self.next_name = 1, 1
        self.effective: dict[str, dict] = {name: {} for name in DATASETS}
        for _ in range(60):
            self.new_person()
        for _ in range(80):
            self.new_title()

    def new_person(self) -> str:
        nconst = f"nm{self.next_name:07d}"
        self.next_name += 1
        self.names[nconst] = [nconst, f"Person {nconst[2:]}", str(self.rng.randint(1930, 2005)), r"\N", "actor", r"\N"]
        return nconst

    def new_title(self) -> str:
        tconst = f"tt{self.next_title:07d}"
        self.next_title += 1
        kind = self.rng.choice(TYPES)
        year = str(self.rng.randint(1950, 2026))
        self.titles[tconst] = [
            tconst,
            kind,
            f"Title {tconst[2:]}",
            f"Title {tconst[2:]}",
            "0",
            year,
            r"\N",
            "95",
            "Drama",
        ]
        if self.rng.random() < 0.8:
            self.ratings[tconst] = [tconst, self.rating(), str(self.rng.randint(5, 100_000))]
        for ordering in range(1, self.rng.randint(2, 6)):
            self.credits[(tconst, ordering)] = self.credit(tconst, ordering)
        return tconst

    def rating(self) -> str:
        return f"{self.rng.randint(10, 100) / 10:.1f}"

    def credit(self, tconst: str, ordering: int) -> list[str]:
        return [tconst, str(ordering), self.rng.choice(sorted(self.names)), self.rng.choice(CATEGORIES), r"\N", r"\N"]

    # ---- one day's changes: every kind at least once

    def change(self) -> dict[str, set]:
        """Apply a day of changes; return the keys whose line is malformed in today's files."""
        rng = self.rng
        pick = lambda d: rng.choice(sorted(d)) if d else None  # noqa: E731
        for _ in range(rng.randint(1, 3)):  # inserts
            self.new_person()
            self.new_title()
        for _ in range(rng.randint(2, 5)):  # updates: ratings, votes, a title's name, a job
            t = pick(self.ratings)
            self.ratings[t] = [t, self.rating(), str(int(self.ratings[t][2]) + rng.randint(1, 500))]
        t = pick(self.titles)
        self.titles[t][2] = f"Renamed {rng.randint(0, 999)}"
        c = pick(self.credits)
        self.credits[c][4] = rng.choice(["director of photography", r"\N", "self"])
        for _ in range(rng.randint(1, 2)):  # a credit moves to another person
            c = pick(self.credits)
            self.credits[c][2] = pick(self.names)
        c = pick(self.credits)  # category flips
        self.credits[c][3] = {"actor": "actress", "actress": "self"}.get(self.credits[c][3], "actor")
        t = pick(self.titles)  # type flip
        self.titles[t][1] = "tvMovie" if self.titles[t][1] == "movie" else "movie"
        n = pick(self.names)  # a renamed person, and one whose name becomes unknown
        self.names[n][1] = f"Renamed Person {rng.randint(0, 999)}"
        n = pick(self.names)
        self.names[n][1] = r"\N"
        # soft deletes: a whole title, a rating alone, a person, a credit
        t = pick(self.titles)
        self.gone["titles"][t] = self.titles.pop(t)
        for key in [k for k in self.credits if k[0] == t]:
            self.gone["credits"][key] = self.credits.pop(key)
        if t in self.ratings:
            self.gone["ratings"][t] = self.ratings.pop(t)
        t = pick(self.ratings)
        self.gone["ratings"][t] = self.ratings.pop(t)
        n = pick(self.names)
        self.gone["names"][n] = self.names.pop(n)
        c = pick(self.credits)
        self.gone["credits"][c] = self.credits.pop(c)
        # revivals: something removed on an earlier day comes back
        for kind, live in (
            ("titles", self.titles),
            ("ratings", self.ratings),
            ("names", self.names),
            ("credits", self.credits),
        ):
            back = [k for k in sorted(self.gone[kind]) if k not in live]
            if back and rng.random() < 0.7:
                k = rng.choice(back)
                live[k] = self.gone[kind].pop(k)
        # malformed lines for today only (the data stays right in the universe): a principal without a person,
        # votes that are not a number, a title line missing a field
        return {
            "title.principals": {pick(self.credits)},
            "title.ratings": {pick(self.ratings)},
            "title.basics": {pick(self.titles)},
        }

    # ---- files

    def write(self, day_dir: Path, effective_dir: Path, malformed: dict[str, set]) -> int:
        """Today's files (with the malformed lines) into day_dir, what landing should hold into effective_dir;
        return how many lines are malformed."""
        rows = {
            "title.basics": self.titles,
            "title.ratings": self.ratings,
            "name.basics": self.names,
            "title.principals": self.credits,
        }
        count = 0
        for name, table in rows.items():
            bad = malformed.get(name, set())
            served, held = [], {}
            for key in sorted(table):  # IMDb's order: ids as text, ordering as a number (zero-padded ids)
                fields = list(table[key])
                line = "\t".join(fields)
                if key in bad:
                    count += 1
                    if name == "title.principals":
                        fields[2] = r"\N"
                    elif name == "title.ratings":
                        fields[2] = "many"
                    else:
                        fields = fields[:-1]
                    served.append("\t".join(fields))
                    if key in self.effective[name]:  # a rejected line's key keeps its landed row
                        held[key] = self.effective[name][key]
                else:
                    served.append(line)
                    held[key] = line
            self.effective[name] = held
            _write(day_dir / get(name).file_name, name, served)
            _write(effective_dir / get(name).file_name, name, [held[k] for k in sorted(held)])
        return count


def _write(path: Path, name: str, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(get(name).column_names) + "\n")
        f.writelines(line + "\n" for line in lines)
