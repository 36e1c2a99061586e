"""What the synthetic snapshots are made of: the registry's four files, full-size counts and id spans, and the
vocabularies (genres, professions, title types, categories, names, titles, characters) with their weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.datasets import DATASETS

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
