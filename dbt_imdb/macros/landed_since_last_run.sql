{#- The landing rows a cleansed model has not merged yet: on an incremental run, those whose _loaded_at is
    newer than the newest one already in the model. Landing sets _loaded_at only when a row is inserted,
    changed or soft-deleted, so this is exactly what changed; soft deletes arrive with _is_deleted = true and
    are merged like any other change (cleansed rows are never removed, so the watermark only moves forward).
    The watermark is read first and inlined as a literal: Delta then skips every file written before it
    (a scalar subquery would not prune, and the whole landing table would be read for 1% of changes). -#}
{% macro landed_since_last_run(table) -%}
    select * from {{ source('landing', table) }}
    {% if is_incremental() and execute -%}
    {%- set watermark = run_query("select unix_micros(max(_loaded_at)) from " ~ this).columns[0].values()[0] -%}
    where _loaded_at > timestamp_micros({{ (watermark if watermark is not none else -2208988800000000) | int }})
    {%- endif %}
{%- endmacro %}
