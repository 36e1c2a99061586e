{#- The landing rows a cleansed model has not merged yet: on an incremental run, those whose _load_id is above
    the newest one already in the model. Every landing run has its own load id, strictly increasing and
    allocated before any landing table changes, and landing stamps it only on the rows it inserts, changes or
    soft-deletes; so this is exactly what changed since the last build, however many landings ran in between
    (soft deletes arrive with _is_deleted = true and merge like any other change; cleansed rows are never
    removed, so the newest load id in the model only moves forward).
    The watermark is read first and inlined as a literal: Delta then skips every landing file whose _load_id
    statistics lie at or below it (a scalar subquery would not prune, and a timestamp watermark pruned nothing:
    Delta compares timestamp statistics with a millisecond of slack). -#}
{% macro landed_since_last_run(table) -%}
    select * from {{ source('landing', table) }}
    {% if is_incremental() and execute -%}
    {%- if '_load_id' not in adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
      {{ exceptions.raise_compiler_error(this ~ " was built before landing had load ids (_load_id): rebuild it and what "
         ~ "depends on it once, `dbt build --full-refresh --select " ~ model.name ~ "+` (or `make pipeline FULL_REFRESH=true`)") }}
    {%- endif -%}
    {%- set newest = run_query("select max(_load_id) from " ~ this).columns[0].values()[0] -%}
    where _load_id > {{ newest | int if newest is not none else -1 }}
    {%- endif %}
{%- endmacro %}
