{#-
  dbt-spark's merge, plus deletes. dbt's merge only updates and inserts; a model that must also remove rows
  (a KPI row for a person who no longer has a rated movie) sets `merge_delete_when`, a condition on
  DBT_INTERNAL_SOURCE that marks tombstones: a matching target row is deleted, and a tombstone is never
  inserted. Without the config this is exactly dbt-spark's own merge.

  The MERGE runs under session settings (merge_settings below), set just before it and reset by the project's
  post-hook (reset_merge_settings):
  - `merge_materialize_source: true` evaluates the source (dbt's temp view of the model's SELECT) once: Delta's
    MERGE reads its source twice (to find the files it touches, then to write them), so an expensive SELECT
    (actor_actress_kpis') would run twice. `merge.materializeSource = all` makes Delta materialize it first (a
    `cache table` of the view did not help: Spark's cache missed actor_actress_kpis' plan and the SELECT ran
    again).
  - Otherwise (the cleansed models: a filter over one landing table) the source is read twice, not materialized
    (`none`), and the target is filtered by a Bloom filter of the source's keys. Delta's default (`auto`)
    materialized these sources only because dbt wraps the SELECT in a view (a plan node its determinism check
    does not know); a SELECT over Delta tables alone it would read twice too. Materialized, the source is an
    opaque scan, from which Spark builds no runtime filter. With deletion vectors Delta writes the changes
    through `source left join target` over every file a change touches (with 1% of rows changed all over the
    table, every file), and a left join can only broadcast its right side, the target: without the filter the
    target is shuffled whole. Spark builds the filter (its InjectRuntimeFilter rule) from a filtered scan (the
    `_load_id > watermark` of landed_since_last_run) when neither side is expected to be broadcast and the
    thresholds below allow it; the same settings as landing's MERGE (ingestion/land.py, MERGE_SETTINGS).
    MERGEs at scale 0.1, day 2, two runs each, without / with: fct_title_principal (97 MB) 8.3-8.7 / 4.9-5.6 s;
    dim_person (40 MB) 2.3-2.8 / 2.0-2.5 s; dim_title (16 MB) 2.0-2.2 / 2.0-2.1 s; fct_title_rating (1.3 MB)
    1.4-1.8 / 1.7-2.0 s: under var('merge_runtime_filter_min_bytes'), 32 MB, a target is better broadcast whole,
    as Spark's defaults do, and its source is left to Delta's default.
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

  {%- if execute -%}
    {%- set target_bytes = run_query("describe detail " ~ target).columns['sizeInBytes'].values()[0] | int -%}
    {%- for name, value in merge_settings(config.get('merge_materialize_source'), target_bytes).items() -%}
      {%- do run_query("set " ~ name ~ " = " ~ value) -%}
    {%- endfor -%}
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


{% macro merge_settings(materialize_source, target_bytes) -%}
  {%- if materialize_source -%}
    {{ return({'spark.databricks.delta.merge.materializeSource': 'all'}) }}
  {%- endif -%}
  {%- if target_bytes < var('merge_runtime_filter_min_bytes') | int -%}
    {{ return({}) }}
  {%- endif -%}
  {{ return({
      'spark.databricks.delta.merge.materializeSource': 'none',
      'spark.sql.autoBroadcastJoinThreshold': '-1',
      'spark.sql.optimizer.runtime.bloomFilter.applicationSideScanSizeThreshold': '0',
      'spark.sql.optimizer.runtime.bloomFilter.creationSideThreshold': '256m'
  }) }}
{%- endmacro %}


{#- post-hook of every model: the session's settings back to the server's (dbt reuses the session for the next
    model and for tests). Runs its statements itself and renders nothing, so dbt sends no hook statement. -#}
{% macro reset_merge_settings() -%}
  {%- if execute -%}
    {%- for name in merge_settings(false, 2 ** 62) -%}
      {%- do run_query("reset " ~ name) -%}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}
