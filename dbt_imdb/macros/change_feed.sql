{#-
  Incremental reads through Delta's change data feed.

  An incremental model that depends on several upstream tables remembers, in a table property of its own
  table, the Delta version of each upstream table it has processed (`imdb.processed.<table>`). On the next
  run it reads only the commits after that version with table_changes(), pre-images included: that is what
  lets actor_actress_kpis find the person a principal row moved away from.

  changes_plan() answers, per upstream relation, the first version to read (or none when nothing changed),
  or none as a whole when the model must recompute everything: first run, a property missing, an upstream
  table rebuilt since (a --full-refresh replaces the table, and a replace is not in the change feed), or more
  changes than the incremental path handles faster (see _too_many_changes).
  Assumes one pipeline run at a time (the Airflow DAG runs with max_active_runs=1).
-#}

{% macro _latest_version(relation) %}
  {%- set rows = run_query("describe history " ~ relation ~ " limit 1").rows -%}
  {{ return(rows[0][0] | int) }}
{% endmacro %}


{% macro changes_plan(relations) %}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set props = {} -%}
  {%- for row in run_query("show tblproperties " ~ this).rows -%}
    {%- do props.update({row[0]: row[1]}) -%}
  {%- endfor -%}
  {%- set plan = {} -%}
  {%- for relation in relations -%}
    {%- set key = 'imdb.processed.' ~ relation.identifier -%}
    {%- if key not in props -%}
      {{ log(this ~ ": no processed version for " ~ relation ~ ", recomputing everything", info=true) }}
      {{ return(none) }}
    {%- endif -%}
    {%- set processed = props[key] | int -%}
    {%- set latest = _latest_version(relation) | int -%}
    {%- if latest > processed -%}
      {%- set history = run_query("describe history " ~ relation ~ " limit " ~ (latest - processed)).rows -%}
      {%- for commit in history -%}
        {%- if 'REPLACE' in commit[4] or 'CREATE' in commit[4] -%}
          {{ log(this ~ ": " ~ relation ~ " was rebuilt (" ~ commit[4] ~ "), recomputing everything", info=true) }}
          {{ return(none) }}
        {%- endif -%}
      {%- endfor -%}
      {%- do plan.update({relation.identifier: processed + 1}) -%}
    {%- else -%}
      {%- do plan.update({relation.identifier: none}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(none if _too_many_changes(relations, plan) else plan) }}
{% endmacro %}


{#-
  Past var('incremental_max_changed_rows') changed rows the affected people are a large share of everyone, and
  finding them costs more scans and joins of the whole principals table than computing everyone once (at full
  IMDb scale, 1% change is ~2M change rows): the model then recomputes everything, and still merges only the
  rows whose values differ.
-#}
{% macro _too_many_changes(relations, plan) %}
  {%- set counts = [] -%}
  {%- for relation in relations if plan[relation.identifier] is not none -%}
    {%- do counts.append("select count(*) as n from table_changes('" ~ relation ~ "', " ~ plan[relation.identifier] ~ ")") -%}
  {%- endfor -%}
  {%- if not counts -%}{{ return(false) }}{%- endif -%}
  {%- set changed = run_query("select sum(n) from (" ~ counts | join(" union all ") ~ ")").rows[0][0] | int -%}
  {%- set limit = var('incremental_max_changed_rows') | int -%}
  {%- if changed > limit -%}
    {{ log(this ~ ": " ~ changed ~ " changed upstream rows (more than incremental_max_changed_rows = " ~ limit ~ "), recomputing everything", info=true) }}
    {{ return(true) }}
  {%- endif -%}
  {{ return(false) }}
{% endmacro %}


{#- The changed rows (every change type, pre-images included) of one upstream relation, or no rows. -#}
{% macro changed_rows(relation, plan, columns) -%}
  {%- if plan[relation.identifier] is none -%}
    select {% for c in columns %}cast(null as string) as {{ c }}{{ ", " if not loop.last }}{% endfor %} where false
  {%- else -%}
    select {{ columns | join(", ") }} from table_changes('{{ relation }}', {{ plan[relation.identifier] }})
  {%- endif -%}
{%- endmacro %}


{#- post-hook: remember the upstream versions this run has processed. -#}
{% macro remember_processed_versions(relations) %}
  {%- if execute -%}
    {%- set pairs = [] -%}
    {%- for relation in relations -%}
      {%- do pairs.append("'imdb.processed." ~ relation.identifier ~ "' = '" ~ _latest_version(relation) ~ "'") -%}
    {%- endfor -%}
    alter table {{ this }} set tblproperties ({{ pairs | join(", ") }})
  {%- endif -%}
{% endmacro %}


{#- A filter to the affected people in an incremental run (everyone when recomputing everything). -#}
{% macro only_affected(column, plan) -%}
  {%- if plan is none -%}
    true
  {%- else -%}
    {{ column }} in (select affected_people.nconst from affected_people)
  {%- endif -%}
{%- endmacro %}
