{#-
  How actor_actress_kpis knows what changed upstream: each cleansed table compared between two explicit versions.

  The model keeps, in table properties of its own table, what it has applied of each upstream table: the Delta
  version (`imdb.processed.<table>`) and the Delta table id (`imdb.table_id.<table>`). A build then:
    1. reads each upstream table's current version (the end) and id, once, at compile time;
    2. takes the rows that changed since the processed version from the end version itself: every cleansed MERGE
       stamps the rows it writes with their landing load id, always above the newest one the table held, so the
       rows with a _load_id above the newest at the processed version are exactly those (Delta skips every other
       file by its _load_id statistics); their images at the processed version (VERSION AS OF) are the
       pre-images. The upstream state is read as of that same end, so a commit landing meanwhile is neither
       half-read nor lost;
    3. records exactly those ends and ids after its merge (remember_processed_versions, a post-hook that reads
       them from the plan written into the compiled SQL).
  Not Delta's change data feed: keeping it made every cleansed MERGE write the changed rows' pre-images and read
  whole rows of every file it touched (scale 0.1: fct_title_principal's MERGE 15.6 s with it, 8.5 s without;
  dim_person's 4.7 s and 2.0 s), while the comparison reads the few changed rows and one narrow scan of the
  old version.
  It recomputes everyone (and still merges only the rows whose values differ) when it cannot trust the
  comparison: on its first build or a full refresh, when no processed version or table id is recorded, when an
  upstream table was dropped and created again (its id changed: versions start again at 0), replaced, or
  changed by anything but a dbt MERGE, a compaction or a property (a RESTORE or an UPDATE keeps old load ids),
  or when the processed version can no longer be read (Delta log past delta.logRetentionDuration, its files
  removed by a VACUUM). It logs why and carries on. Otherwise it finds the affected people once
  (affected_people_sql), and recomputes everyone anyway when they are more than
  var('kpi_max_affected_share') of the people in the table: then computing everyone costs less. It does not look
  for them at all when the table holds fewer than var('kpi_affected_path_min_rows') rows: finding them has a
  fixed cost (~90 Delta scans to plan) above recomputing a small table whole.
  Assumes one pipeline run at a time (the pipeline lease; the Airflow DAG runs with max_active_runs=1).
-#}

{#- The columns each upstream table's change rows carry into affected_people_sql (its key first). -#}
{% macro _change_columns() %}
  {{ return({
    'dim_title': ['tconst', 'title_type', 'is_deleted'],
    'fct_title_rating': ['tconst'],
    'fct_title_principal': ['tconst', 'ordering', 'nconst', 'category', 'is_deleted'],
    'dim_person': ['nconst', 'primary_name', 'is_deleted'],
  }) }}
{% endmacro %}


{#- The upstream tables whose pre-images affected_people_sql needs: a credit moved away from a person, a title
    that stopped being a movie. The others give their changed rows alone, as inserts: a changed rating's cast is
    recomputed whatever changed, and so is a changed person with KPI rows (a few more people than those renamed,
    for not reading the old version of dim_person). -#}
{% macro _needs_pre_images() %}
  {{ return(['dim_title', 'fct_title_principal']) }}
{% endmacro %}


{#- Each upstream table's key. -#}
{% macro _change_keys() %}
  {{ return({
    'dim_title': ['tconst'],
    'fct_title_rating': ['tconst'],
    'fct_title_principal': ['tconst', 'ordering'],
    'dim_person': ['nconst'],
  }) }}
{% endmacro %}


{#- The table properties of a relation, as a dict. -#}
{% macro _tblproperties(relation) %}
  {%- set props = {} -%}
  {%- for row in run_query("show tblproperties " ~ relation).rows -%}
    {%- do props.update({row[0]: row[1]}) -%}
  {%- endfor -%}
  {{ return(props) }}
{% endmacro %}


{#- An upstream table as it is now: Delta table id and current version. -#}
{% macro _upstream_state(relation) %}
  {%- set detail = run_query("describe detail " ~ relation) -%}
  {%- set latest = run_query("describe history " ~ relation ~ " limit 1").rows[0][0] | int -%}
  {{ return({
    'relation': relation | string,
    'id': detail.columns['id'].values()[0],
    'end': latest,
    'start': none,
    'processed': none,
    'since': none,
  }) }}
{% endmacro %}


{#- Operations after which the rows of a cleansed table still carry the load id of their last change. -#}
{% macro _load_id_safe(operation) %}
  {{ return(operation in ['MERGE', 'SET TBLPROPERTIES', 'UNSET TBLPROPERTIES', 'UPGRADE PROTOCOL', 'OPTIMIZE', 'REORG',
                    'VACUUM START', 'VACUUM END']) }}
{% endmacro %}


{#-
  Sets state.start and state.processed when one upstream table can be compared between the processed version
  and state.end; returns why not otherwise (none when it can). Checked before reading, from the table's
  history: the processed version must still be in the Delta log, every commit since must keep the load ids
  (a dbt MERGE, a compaction, a property; not a rebuild, a RESTORE or an UPDATE), and no VACUUM since may have
  been allowed to remove the processed version's files (a VACUUM removes files that left the table longer than
  its retention ago; the first left at the first commit after the processed version).
-#}
{% macro _check_comparable(name, state, processed, recorded_id) %}
  {%- if processed is none or recorded_id is none -%}
    {{ return("no processed version or table id recorded for " ~ name) }}
  {%- endif -%}
  {%- if recorded_id != state.id -%}
    {{ return(name ~ " was dropped and created again (Delta table id " ~ recorded_id ~ " is now " ~ state.id ~ ")") }}
  {%- endif -%}
  {%- if processed > state.end -%}
    {{ return(name ~ " is at version " ~ state.end ~ ", before the processed version " ~ processed) }}
  {%- endif -%}
  {%- if processed == state.end -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set first = processed + 1 -%}
  {%- set history = run_query("describe history " ~ state.relation ~ " limit " ~ (state.end - processed + 1)).rows -%}
  {%- set kept = {} -%}
  {%- for commit in history -%}
    {%- do kept.update({commit[0] | int: commit}) -%}
  {%- endfor -%}
  {%- if processed not in kept or first not in kept -%}
    {{ return("the Delta log of " ~ name ~ " no longer holds version " ~ processed ~ " (delta.logRetentionDuration)") }}
  {%- endif -%}
  {%- set first_at = kept[first][1] -%}
  {%- for commit in history if commit[0] | int > processed -%}
    {%- set version, at, operation, parameters = commit[0], commit[1], commit[4], commit[5] or '' -%}
    {%- if 'CREATE' in operation or 'REPLACE' in operation -%}
      {{ return(name ~ " was rebuilt at version " ~ version ~ " (" ~ operation ~ ")") }}
    {%- endif -%}
    {%- if not _load_id_safe(operation) -%}
      {{ return(name ~ " was changed by " ~ operation ~ " at version " ~ version ~ " (its rows may keep older load ids)") }}
    {%- endif -%}
    {%- if operation == 'VACUUM START' -%}
      {%- set specified = modules.re.search('"specifiedRetentionMillis":"(\d+)"', parameters) -%}
      {%- set default = modules.re.search('"defaultRetentionMillis":"(\d+)"', parameters) -%}
      {%- set retention = (specified or default).group(1) | int if (specified or default) else 0 -%}
      {%- if at - modules.datetime.timedelta(milliseconds=retention) >= first_at -%}
        {{ return("a VACUUM of " ~ name ~ " at version " ~ version ~ " may have removed the files of version "
                  ~ processed) }}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do state.update({'start': first, 'processed': processed}) -%}
  {{ return(none) }}
{% endmacro %}


{#-
  The plan of one build of actor_actress_kpis: {mode, reason, tables, load_id}. mode is 'everyone' (recompute
  every person), 'affected' (only the people in the relation plan.affected) or 'nothing' (no upstream change);
  tables maps each upstream table to {relation, id, start, end}; load_id is the _load_id of the rows this build
  writes: the newest landing load id in the upstream state it reads.
  Unit tests give the plan as var('kpi_plan') (with the change rows inline): no query runs then.
-#}
{% macro kpi_plan(relations) %}
  {%- if var('kpi_plan', none) is not none -%}
    {{ return(var('kpi_plan')) }}
  {%- endif -%}
  {%- if not execute -%}
    {{ return({'mode': 'everyone', 'reason': 'parsing', 'tables': {}, 'load_id': 0, 'affected': none}) }}
  {%- endif -%}
  {%- set tables = {} -%}
  {%- for relation in relations -%}
    {%- do tables.update({relation.identifier: _upstream_state(relation)}) -%}
  {%- endfor -%}
  {%- set plan = {'mode': 'everyone', 'reason': none, 'tables': tables, 'load_id': none, 'affected': none} -%}
  {%- if not is_incremental() -%}
    {%- do plan.update({'reason': 'a full build'}) -%}
  {%- else -%}
    {%- set props = _tblproperties(this) -%}
    {%- for name, state in tables.items() if plan.reason is none -%}
      {%- set processed = props.get('imdb.processed.' ~ name) -%}
      {%- set why = _check_comparable(name, state, processed | int if processed is not none else none,
                                props.get('imdb.table_id.' ~ name)) -%}
      {%- do plan.update({'reason': why}) -%}
      {%- set since = props.get('imdb.processed_load_id.' ~ name) -%}
      {%- do state.update({'since': since | int if since is not none else none}) -%}
    {%- endfor -%}
    {%- if plan.reason is none -%}
      {%- do _plan_from_changes(plan) -%}
    {%- endif -%}
  {%- endif -%}
  {%- if plan.mode == 'everyone' -%}
    {%- do plan.update({'affected': none}) -%}
    {{ log(this ~ ": recomputing everyone: " ~ plan.reason, info=true) }}
  {%- endif -%}
  {%- if plan.load_id is none -%}
    {%- set newest = [] -%}
    {%- for name, state in tables.items() -%}
      {%- do newest.append("(select max(_load_id) from " ~ state.relation ~ " version as of " ~ state.end ~ ")") -%}
    {%- endfor -%}
    {%- set found = run_query("select " ~ newest | join(", ")).rows[0] -%}
    {%- for state in tables.values() -%}
      {%- do state.update({'newest': found[loop.index0] | int if found[loop.index0] is not none else -1}) -%}
    {%- endfor -%}
    {%- do plan.update({'load_id': [tables.values() | map(attribute='newest') | max, 0] | max}) -%}
  {%- endif -%}
  {{ return(plan) }}
{% endmacro %}


{#-
  The incremental case: every table comparable. Each table's newest load id at the version processed last
  (state.since) is recorded by the previous build (imdb.processed_load_id.<table>), or read from that version
  when it is not; one query then reads the newest load id above it at the end (state.newest; Delta reads only
  the files written since). A table whose newest did not move has no changed row (its commits only compacted it
  or set properties). No change at all: mode 'nothing'. Otherwise the affected people are computed once into a
  small Delta table beside the model (dropped by the post-hook), and their number decides the path. A table,
  not a cached view: the SELECT would otherwise run again at each reference inside the model's SELECT and its
  MERGE. Only in `dbt run`/`build`: `dbt compile` or `docs generate` get the affected-people SQL inline and
  write nothing.
-#}
{% macro _plan_from_changes(plan) %}
  {%- set unknown = plan.tables.values() | selectattr('since', 'none') | list -%}
  {%- if unknown -%}
    {%- set olds = [] -%}
    {%- for state in unknown -%}
      {%- do olds.append("(select max(_load_id) from " ~ state.relation ~ " version as of "
                         ~ (state.processed if state.processed is not none else state.end) ~ ")") -%}
    {%- endfor -%}
    {%- set found = run_query("select " ~ olds | join(", ")).rows[0] -%}
    {%- for state in unknown -%}
      {%- do state.update({'since': found[loop.index0] | int if found[loop.index0] is not none else -1}) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set changed = plan.tables.values() | selectattr('start') | list -%}
  {%- set news = [] -%}
  {%- for state in changed -%}
    {%- do news.append("(select max(_load_id) from " ~ state.relation ~ " version as of " ~ state.end
                       ~ " where _load_id > " ~ state.since ~ ")") -%}
  {%- endfor -%}
  {%- set found = run_query("select " ~ news | join(", ")).rows[0] if news else [] -%}
  {%- for state in plan.tables.values() -%}
    {%- do state.update({'newest': state.since}) -%}
  {%- endfor -%}
  {%- for state in changed -%}
    {%- if found[loop.index0] is none -%}
      {%- do state.update({'start': none}) -%}
    {%- else -%}
      {%- do state.update({'newest': found[loop.index0] | int}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set moved = plan.tables.values() | selectattr('start') | map(attribute='newest') | list -%}
  {%- if not moved -%}
    {%- do plan.update({'mode': 'nothing', 'reason': 'no upstream change', 'load_id': 0}) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- do plan.update({'load_id': moved | max}) -%}
  {%- if flags.WHICH not in ['run', 'build', 'retry'] -%}
    {%- do plan.update({'mode': 'affected', 'reason': 'compiled only'}) -%}
    {{ return(none) }}
  {%- endif -%}
  {#- rows, not people: Delta answers a count(*) from its statistics, and most people hold one role -#}
  {%- set everyone = run_query("select count(*) from " ~ this).rows[0][0] | int -%}
  {%- set floor = var('kpi_affected_path_min_rows') | int -%}
  {%- if everyone < floor -%}
    {%- do plan.update({'mode': 'everyone', 'reason': everyone ~ " rows, under kpi_affected_path_min_rows " ~ floor
                        ~ ": finding the affected people would cost more than recomputing them all"}) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set affected = this.incorporate(path={'identifier': this.identifier ~ '__affected_people'}) | string -%}
  {%- do run_query("create or replace table " ~ affected ~ " using delta as " ~ affected_people_sql(plan)) -%}
  {%- set people = run_query("select count(*) from " ~ affected).rows[0][0] | int -%}
  {%- set share = people / [everyone, 1] | max -%}
  {%- set limit = var('kpi_max_affected_share') | float -%}
  {%- if share > limit -%}
    {%- do run_query("drop table if exists " ~ affected) -%}
    {%- do plan.update({'mode': 'everyone', 'reason': people ~ " affected people of " ~ everyone ~ " ("
                        ~ (share * 100) | round(1) ~ "% > kpi_max_affected_share " ~ (limit * 100) ~ "%)"}) -%}
  {%- else -%}
    {{ log(this ~ ": recomputing " ~ people ~ " affected people of " ~ everyone, info=true) }}
    {%- do plan.update({'mode': 'affected', 'affected': affected}) -%}
  {%- endif -%}
{% endmacro %}


{#-
  One upstream table's change rows between the plan's versions, or, in unit tests, the rows given in the plan;
  none when it did not change. Shaped like Delta's change data feed: a key new since the processed version is an
  `insert`; a changed key gives its `update_preimage` (as of the processed version) and `update_postimage` (as
  of the end). Cleansed rows are never removed (a removal is an update to is_deleted), so there is no `delete`.
  A table that needs no pre-images (_needs_pre_images) gets its changed rows alone, as inserts.
-#}
{% macro change_rows(name, plan) -%}
  {%- set columns = _change_columns()[name] + ['_change_type', '_load_id'] -%}
  {%- if plan.changes is defined -%}
    {%- set rows = plan.changes.get(name, []) -%}
    {%- if rows -%}
      select * from values
      {% for row in rows -%}
        ({% for c in columns %}{{ _literal(row.get(c)) }}{{ ", " if not loop.last }}{% endfor %}){{ "," if not loop.last }}
      {% endfor -%}
      as feed({{ columns | join(", ") }})
    {%- else -%}
      {{ _no_change_rows(columns) }}
    {%- endif -%}
  {%- else -%}
    {%- set state = plan.tables[name] -%}
    {%- if state.start is none or state.since is none -%}
      {{ _no_change_rows(columns) }}
    {%- else -%}
      {%- set keys = _change_keys()[name] -%}
      {%- set cols = _change_columns()[name] -%}
      {%- set post -%}
        (select {{ cols | join(", ") }}, _load_id from {{ state.relation }} version as of {{ state.end }}
         where _load_id > {{ state.since }})
      {%- endset -%}
      {%- if name not in _needs_pre_images() -%}
        select {{ cols | join(", ") }}, 'insert' as _change_type, _load_id from {{ post }} as post
      {%- else -%}
      {%- set pre -%}
        (select /*+ BROADCAST(post) */ {% for c in cols %}old.{{ c }}, {% endfor %}old._load_id
         from {{ state.relation }} version as of {{ state.processed }} as old
         left semi join {{ post }} as post on {% for k in keys %}old.{{ k }} = post.{{ k }}{{ " and " if not loop.last }}{% endfor %})
      {%- endset -%}
        -- one join, each matched row unfolded into its two images (the old version is scanned once)
        select * from (
            select /*+ BROADCAST(pre) */ stack(2,
                {% for c in cols %}post.{{ c }}, {% endfor %}
                case when pre.{{ keys[0] }} is null then 'insert' else 'update_postimage' end, post._load_id,
                {% for c in cols %}pre.{{ c }}, {% endfor %}
                case when pre.{{ keys[0] }} is not null then 'update_preimage' end, pre._load_id
            ) as ({{ columns | join(", ") }})
            from {{ post }} as post
            left join {{ pre }} as pre on {% for k in keys %}pre.{{ k }} = post.{{ k }}{{ " and " if not loop.last }}{% endfor %}
        ) where _change_type is not null
      {%- endif -%}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}


{% macro _no_change_rows(columns) -%}
  select {% for c in columns %}cast(null as {{ 'bigint' if c in ['ordering', '_load_id'] else 'boolean' if c == 'is_deleted' else 'string' }}) as {{ c }}{{ ", " if not loop.last }}{% endfor %} where false
{%- endmacro %}


{% macro _literal(value) -%}
  {%- if value is none -%}null
  {%- elif value is sameas true -%}true
  {%- elif value is sameas false -%}false
  {%- elif value is number -%}{{ value }}
  {%- else -%}'{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
  {%- endif -%}
{%- endmacro %}


{#- An upstream relation as of the plan's end version (as it is, in unit tests). -#}
{% macro as_of_plan(relation, plan) -%}
  {%- set state = plan.tables.get(relation.identifier) if plan.tables is defined else none -%}
  {{ relation }}{% if state and state.end is not none %} version as of {{ state.end }}{% endif %}
{%- endmacro %}


{#-
  The people whose KPI rows a change can alter, from the change rows (pre-images included), each kind narrowed
  to what the KPI reads:
    - a credit whose person, category or deletion changed, in a movie that is rated now or whose membership in
      the rated movies changed: its people before and after (a credit moved from A to B affects A and B);
    - a title whose membership in the movies changed (type flip, removal, revival, a new movie) or a movie
      whose rating changed (or appeared or was removed): the people credited in it now;
    - a person whose name or deletion changed, when they have KPI rows (from the database: any changed person
      with KPI rows, see _needs_pre_images).
-#}
{% macro affected_people_sql(plan) -%}
  {%- set upstream = kpi_upstream() -%}
  {%- set title, person, principal, rating = upstream[0], upstream[1], upstream[2], upstream[3] -%}
  with
  title_changes as ({{ change_rows('dim_title', plan) }}),
  rating_changes as ({{ change_rows('fct_title_rating', plan) }}),
  credit_changes as ({{ change_rows('fct_title_principal', plan) }}),
  person_changes as ({{ change_rows('dim_person', plan) }}),
  movies_now as (
      select title.tconst from {{ as_of_plan(title, plan) }} as title
      where title.title_type = 'movie' and not title.is_deleted
  ),
  titles_in_or_out as (
      select tconst from title_changes
      group by tconst
      having count(distinct coalesce(title_type = 'movie' and not is_deleted, false)) > 1
          or bool_or(_change_type in ('insert', 'delete') and title_type = 'movie' and not is_deleted)
  ),
  kpi_titles as (
      select tconst from titles_in_or_out
      union
      select tconst from rating_changes where tconst in (select movies_now.tconst from movies_now)
  ),
  rated_movies_now as (
      select movies_now.tconst from movies_now
      inner join {{ as_of_plan(rating, plan) }} as rating on movies_now.tconst = rating.tconst
      where not rating.is_deleted
  ),
  -- a credit whose person, category or deletion changed (a job or character change alters no KPI); a window,
  -- not a group by and a join, so the feed is read once
  credits_in_question as (
      select
          tconst,
          nconst,
          category,
          size(collect_set(to_json(named_struct('n', nconst, 'c', category, 'd', is_deleted)))
              over (partition by tconst, ordering)) > 1
          or max(_change_type in ('insert', 'delete')) over (partition by tconst, ordering) as kpi_changed
      from credit_changes
  ),
  final as (
      select credits_in_question.nconst from credits_in_question
      where
          credits_in_question.kpi_changed
          and credits_in_question.category in ('actor', 'actress')
          and credits_in_question.nconst is not null
          and (
              credits_in_question.tconst in (select rated_movies_now.tconst from rated_movies_now)
              or credits_in_question.tconst in (select kpi_titles.tconst from kpi_titles)
          )
      union
      select principal.nconst from {{ as_of_plan(principal, plan) }} as principal
      where
          principal.category in ('actor', 'actress')
          and not principal.is_deleted
          and principal.nconst is not null
          and principal.tconst in (select kpi_titles.tconst from kpi_titles)
      union
      select nconst from person_changes
      where nconst in (select kpis.nconst from {{ this }} as kpis)
      group by nconst
      having count(distinct to_json(named_struct('name', case when not is_deleted then primary_name end))) > 1
          or bool_or(_change_type in ('insert', 'delete'))
  )
  select distinct nconst from final
{%- endmacro %}


{#- A filter to the people this build recomputes. -#}
{% macro only_affected(column, plan) -%}
  {%- if plan.mode == 'nothing' -%}
    false
  {%- elif plan.mode == 'affected' and plan.affected -%}
    {{ column }} in (select affected.nconst from {{ plan.affected }} as affected)
  {%- elif plan.mode == 'affected' -%}
    {{ column }} in (select affected.nconst from ({{ affected_people_sql(plan) }}) as affected)
  {%- else -%}
    true
  {%- endif -%}
{%- endmacro %}


{#-
  The plan as a comment in the compiled SQL, for the post-hook: a hook cannot see the model's Jinja variables,
  and must record exactly the versions this SQL read.
-#}
{% macro plan_marker(plan) -%}
  /* kpi_plan {{ {'mode': plan.get('mode'), 'load_id': plan.get('load_id'), 'affected': plan.get('affected'),
                 'tables': plan.get('tables', {})} | tojson }} */
{%- endmacro %}


{#-
  post-hook: remember the upstream versions and table ids this build read (from the plan in its compiled SQL),
  drop the affected-people table, and keep the tested-rows watermark below the rows this build wrote (a
  rebuild without a new landing writes rows with a load id the tests may already have passed).
-#}
{% macro remember_processed_versions() %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set found = modules.re.search('/\* kpi_plan (\{.*\}) \*/', model.compiled_code or '') -%}
  {%- if not found -%}
    {{ exceptions.raise_compiler_error(this ~ ": no kpi_plan in the compiled SQL") }}
  {%- endif -%}
  {%- set plan = fromjson(found.group(1)) -%}
  {%- if plan.affected -%}
    {%- do run_query("drop table if exists " ~ plan.affected) -%}
  {%- endif -%}
  {%- set pairs = [] -%}
  {%- for name, state in plan.tables.items() -%}
    {%- do pairs.append("'imdb.processed." ~ name ~ "' = '" ~ state.end ~ "'") -%}
    {%- do pairs.append("'imdb.table_id." ~ name ~ "' = '" ~ state.id ~ "'") -%}
    {%- if state.newest is defined and state.newest is not none -%}
      {%- do pairs.append("'imdb.processed_load_id." ~ name ~ "' = '" ~ state.newest ~ "'") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for key, tested in _tblproperties(this).items() if key.startswith('imdb.tested_load_id.') -%}
    {%- if plan.mode != 'nothing' and tested | int >= plan.load_id -%}
      {%- do pairs.append("'" ~ key ~ "' = '" ~ (plan.load_id - 1) ~ "'") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if pairs -%}
    alter table {{ this }} set tblproperties ({{ pairs | join(", ") }})
  {%- endif -%}
{% endmacro %}
