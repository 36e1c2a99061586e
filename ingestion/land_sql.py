"""The SQL that landing sends, built as strings and nothing else: table names, the parse of raw lines, the
Spark diff, the raw diff's changes, the MERGE and the first load's append. Pure (no Spark, no I/O; names read
IMDB_SCHEMA_PREFIX), so tests/unit/test_land_sql.py pins every statement without a server. ingestion/land.py
runs them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from core import config
from ingestion.datasets import Dataset

# ---------------------------------------------------------------------------------------------- names


def landing_table(d: Dataset) -> str:
    return f"{config.schema('landing')}.{d.table}"


def stage_table(d: Dataset) -> str:
    return f"{config.schema('landing_stage')}.{d.table}"


def rejects_table() -> str:
    return f"{config.schema('landing')}.rejects"


def files_table() -> str:
    return f"{config.schema('landing')}.loaded_files"


def loads_table() -> str:
    return f"{config.schema('landing')}.loads"


def changed_keys_table(d: Dataset) -> str:
    return f"{config.schema('landing_stage')}.{d.table}__changed_keys"


def changes_table(d: Dataset) -> str:
    return f"{config.schema('landing_stage')}.{d.table}__changes"


def _q(name: str) -> str:
    return f"`{name}`"


def _key_join(d: Dataset, left: str, right: str) -> str:
    """`left.k1 = right.k1 and …` over the dataset's key columns."""
    return " and ".join(f"{left}.{_q(k)} = {right}.{_q(k)}" for k in d.key)


def _keys_present(d: Dataset) -> str:
    return " and ".join(f"{_q(k)} is not null" for k in d.key)


def _str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _landing_properties(d: Dataset) -> str:
    # Deletion vectors: a MERGE that changes 1% of a 98M-row table marks rows instead of rewriting files.
    # Statistics only where a filter uses them: the key (the MERGE's file pruning) and the load id (the dbt
    # models' "landed since" filter), instead of Delta's first 32 columns (long titles and character lists
    # made every write compute min/max strings nobody reads).
    stats = ",".join([*d.key, "_load_id"])
    return f"'delta.enableDeletionVectors' = 'true', 'delta.dataSkippingStatsColumns' = '{stats}'"


# ---------------------------------------------------------------------------------------------- parse


def _whole_file(path: Path) -> str:
    """(_line, _raw) of every data line of a gzipped file. The gzip is not splittable, so Spark reads it in one
    task, in order: monotonically_increasing_id() is then the 0-based line index. The lines are then spread
    over every core by a hash of the line number (a round-robin repartition would first sort the whole file
    in that one task), so the parsing happens in parallel."""
    return f"""
        select /*+ REPARTITION({_partitions()}, _line) */ _line, _raw
        from (select value as _raw, monotonically_increasing_id() + 1 as _line from text.`{path}`)
        where _line > 1
    """


def _parts(directory: Path) -> str:
    """(_line, _raw) of the data lines a first day's check wrote decompressed into parts (rawdiff._Parts): one
    task per part (see _ONE_TASK_PER_FILE), the line number from the part's name plus the row's index within
    its task (the low 33 bits of monotonically_increasing_id)."""
    return f"""
        select value as _raw,
               cast(regexp_extract(_metadata.file_name, 'line-([0-9]+)', 1) as bigint)
               + (monotonically_increasing_id() & 8589934591) as _line
        from text.`{directory}`
    """


def _changed_lines(path: Path) -> str:
    """(_line, _raw) of the raw diff's changed lines, written as `<line number>\\t<raw line>`."""
    return f"""
        select cast(substring_index(value, '\\t', 1) as bigint) as _line,
               substr(value, instr(value, '\\t') + 1) as _raw
        from text.`{path}`
    """


def parse_sql(d: Dataset, lines: str) -> str:
    """SELECT that parses (_line, _raw) lines into typed columns plus line number, hash and reject reason."""
    n = len(d.columns)
    fields = []
    checks = [f"when size(_f) <> {n} then concat('expected {n} tab-separated fields, got ', size(_f))"]
    for i, c in enumerate(d.columns):
        raw = f"nullif(get(_f, {i}), '\\\\N')"
        if c.numeric:
            fields.append(f"try_cast({raw} as {c.type}) as {_q(c.name)}")
            checks.append(
                f"when {raw} is not null and try_cast({raw} as {c.type}) is null "
                f"then concat('non-numeric {c.name}: ', {raw})"
            )
        else:
            fields.append(f"{raw} as {_q(c.name)}")
    for k in d.key:
        i = d.column_names.index(k)
        checks.append(f"when nullif(get(_f, {i}), '\\\\N') is null then 'missing key {k}'")
    for c in d.required:
        i = d.column_names.index(c)
        checks.append(f"when nullif(get(_f, {i}), '\\\\N') is null then 'missing {c}'")
    return f"""
        select {", ".join(fields)},
               _line as _line_number,
               md5(_raw) as _row_hash,
               _reason as _reject_reason,
               case when _reason is not null then _raw end as _raw_line
        from (
            select _line, _raw, _f, case {" ".join(checks)} end as _reason
            from (select _line, _raw, split(_raw, '\\t', -1) as _f from ({lines}))
        )
    """


def staging_sql(d: Dataset, path: Path) -> str:
    """The whole file parsed (the Spark diff's staging)."""
    return parse_sql(d, _whole_file(path))


def _partitions() -> int:
    return 8


# ---------------------------------------------------------------------------------------------- diff


def changes_sql(d: Dataset) -> str:
    """The Spark diff: the keys a staged snapshot changes, found on narrow rows (key, row hash) so that the full
    outer join against the landing table shuffles a few bytes per row, not whole rows: `insert` (new key),
    `update` (row hash changed, or the key comes back after a soft delete), `delete` (live key missing from the
    snapshot). A rejected line still names its key: that key gets no action (neither updated from a broken line
    nor soft-deleted for missing), so a bad line loses no data. Keys found more than once are kept with
    `_copies`."""
    keys = ", ".join(_q(k) for k in d.key)
    first = _q(d.key[0])
    return f"""
        with s as (
            select {keys}, max(_row_hash) as _row_hash, bool_or(_reject_reason is not null) as _rejected,
                   count(*) as _copies
            from {stage_table(d)} where {_keys_present(d)} group by {keys}
        ),
        t as (select {keys}, _row_hash, _is_deleted from {landing_table(d)}),
        diff as (
            select {", ".join(f"coalesce(s.{_q(k)}, t.{_q(k)}) as {_q(k)}" for k in d.key)}, s._copies,
                   case
                       when t.{first} is null then case when not s._rejected then 'insert' end
                       when s.{first} is null then case when not t._is_deleted then 'delete' end
                       when not s._rejected and (t._row_hash <> s._row_hash or t._is_deleted) then 'update'
                   end as _action
            from s full outer join t on {_key_join(d, "s", "t")}
        )
        select * from diff where _action is not null or _copies > 1
    """


def changed_rows_sql(d: Dataset, broadcast: bool) -> str:
    """The Spark diff's changed keys with their staged rows (none for a delete); the keys broadcast when few."""
    staged_cols = ", ".join(f"st.{_q(c)}" for c in d.column_names if c not in d.key)
    keys = ", ".join(f"c.{_q(k)}" for k in d.key)
    hint = "/*+ BROADCAST(c) */" if broadcast else ""
    return f"""
        select {hint} {keys}, {staged_cols}, st._row_hash, c._action
        from {changed_keys_table(d)} as c
        left join {stage_table(d)} as st on {_key_join(d, "st", "c")} and c._action <> 'delete'
    """


def raw_changes_sql(d: Dataset, deleted_path: Path) -> str:
    """The raw diff's changes: the staged good lines as upserts, the deleted keys (typed as Spark types the key)
    as deletes. The MERGE's conditions decide which upsert really changes a row."""
    cols = ", ".join(_q(c) for c in d.column_names)
    key_cols = []
    for i, k in enumerate(d.key):
        c = next(c for c in d.columns if c.name == k)
        raw = f"split(value, '\\t')[{i}]"
        key_cols.append(f"{f'cast({raw} as {c.type})' if c.numeric else raw} as {_q(k)}")
    nulls = ", ".join(
        f"cast(null as {c.type}) as {_q(c.name)}" for c in d.columns if c.name not in d.key
    )  # fmt: skip
    deleted = f"select {', '.join(key_cols)}, {nulls}, cast(null as string) as _row_hash, 'delete' as _action"
    return f"""
        select {cols}, _row_hash, 'upsert' as _action
        from {stage_table(d)} where _reject_reason is null and {_keys_present(d)}
        union all
        select {cols}, _row_hash, _action from ({deleted} from text.`{deleted_path}`)
    """


# Every action a changes table holds. The MERGE's source filters on them, though no row is left out: Spark builds
# a runtime Bloom filter of the source's keys only from a scan under a selective-looking filter (its
# InjectRuntimeFilter rule), and that filter is what lets the MERGE's outer join (changes left join the landing
# table) shuffle only the landing rows whose keys the changes hold, not the whole table: see
# MERGE_SETTINGS in land.py.
MERGE_ACTIONS = "'insert', 'update', 'upsert', 'delete'"


def merge_sql(d: Dataset, run_date: dt.date, loaded_at: str, load_id: int) -> str:
    """The MERGE of one snapshot's changes (changes_table): touches only changed keys. A soft delete applies to
    a live row only; an upsert (`insert`/`update` from the Spark diff, `upsert` from the raw diff) changes a row
    only when its hash differs or it comes back from a soft delete, so `_loaded_at` moves only on a real change."""
    cols = d.column_names
    stamp = f"_run_date = date'{run_date.isoformat()}', _loaded_at = timestamp'{loaded_at}', _load_id = {load_id}"
    update = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in cols)
    insert_cols = ", ".join(_q(c) for c in cols)
    insert_vals = ", ".join(f"s.{_q(c)}" for c in cols)
    return f"""
        merge into {landing_table(d)} as t
        using (select * from {changes_table(d)} where _action in ({MERGE_ACTIONS})) as s
        on {_key_join(d, "t", "s")}
        when matched and s._action = 'delete' and not t._is_deleted then update set _is_deleted = true, {stamp}
        when matched and s._action <> 'delete' and (t._row_hash <> s._row_hash or t._is_deleted) then update set
            {update}, _row_hash = s._row_hash, _is_deleted = false, {stamp}
        when not matched and s._action <> 'delete' then
            insert ({insert_cols}, _row_hash, _is_deleted, _run_date, _loaded_at, _load_id)
            values ({insert_vals}, s._row_hash, false, date'{run_date.isoformat()}', timestamp'{loaded_at}',
                    {load_id})
    """


def first_load_sql(d: Dataset, lines: str, run_date: dt.date, loaded_at: str, load_id: int) -> str:
    """Into an empty landing table every good line is an insert: parsed straight into the table, no join."""
    cols = ", ".join(_q(c) for c in d.column_names)
    return f"""
        insert into {landing_table(d)} ({cols}, _row_hash, _is_deleted, _run_date, _loaded_at, _load_id)
        select {cols}, _row_hash, false, date'{run_date.isoformat()}', timestamp'{loaded_at}', {load_id}
        from ({parse_sql(d, lines)}) where _reject_reason is null and {_keys_present(d)}
    """
