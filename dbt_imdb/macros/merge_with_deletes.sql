{#-
  dbt-spark's merge, plus deletes. dbt's merge only updates and inserts; a model that must also remove rows
  (a KPI row for a person who no longer has a rated movie) sets `merge_delete_when`, a condition on
  DBT_INTERNAL_SOURCE that marks tombstones: a matching target row is deleted, and a tombstone is never
  inserted. Without the config this is exactly dbt-spark's own merge.

  `merge_materialize_source: true` evaluates the source (dbt's temp view of the model's SELECT) once: Delta's
  MERGE reads its source twice (to find the files it touches, then to write them) and by default does not
  materialize a source that reads only Delta tables, so an expensive SELECT would run twice.
  `merge.materializeSource = all` makes Delta materialize it first (a `cache table` of the view did not help:
  Spark's cache missed actor_actress_kpis' plan and the SELECT ran again). Not for a cheap source (the cleansed
  models' few new landing rows): a materialized source loses the statistics that let the MERGE broadcast it, and
  Spark then broadcast the 10M-row target instead (out of memory at scale 0.1). The model's post-hook
  reset_merge_source() restores the default for the session.
-#}
{% macro spark__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) %}
  {%- set predicates = [] if incremental_predicates is none else [] + incremental_predicates -%}
  {%- set dest_columns = adapter.get_columns_in_relation(target) -%}
  {%- set merge_update_columns = config.get('merge_update_columns') -%}
  {%- set merge_exclude_columns = config.get('merge_exclude_columns') -%}
  {%- set update_columns = get_merge_update_columns(merge_update_columns, merge_exclude_columns, dest_columns) -%}
  {%- set delete_when = config.get('merge_delete_when') -%}

  {%- if unique_key -%}
    {%- set keys = unique_key if (unique_key is sequence and unique_key is not string) else [unique_key] -%}
    {%- for key in keys -%}
      {%- do predicates.append('DBT_INTERNAL_SOURCE.' ~ key ~ ' = DBT_INTERNAL_DEST.' ~ key) -%}
    {%- endfor -%}
  {%- else -%}
    {%- do predicates.append('FALSE') -%}
  {%- endif %}

  {%- if execute and config.get('merge_materialize_source') -%}
    {%- do run_query("set spark.databricks.delta.merge.materializeSource = all") -%}
  {%- endif %}

  {{ sql_header if sql_header is not none }}

  merge into {{ target }} as DBT_INTERNAL_DEST
      using {{ source }} as DBT_INTERNAL_SOURCE
      on {{ predicates | join(' and ') }}
  {%- if delete_when %}
      when matched and ({{ delete_when }}) then delete
  {%- endif %}
      when matched then update set
        {% if update_columns -%}{%- for column_name in update_columns %}
            {{ column_name }} = DBT_INTERNAL_SOURCE.{{ column_name }}
            {%- if not loop.last %}, {%- endif %}
        {%- endfor %}
        {%- else %} * {% endif %}
      when not matched {%- if delete_when %} and not ({{ delete_when }}) {%- endif %} then insert *
{% endmacro %}


{#- post-hook: back to Delta's default for the session (dbt reuses the session for the next model). -#}
{% macro reset_merge_source() -%}
  reset spark.databricks.delta.merge.materializeSource
{%- endmacro %}
