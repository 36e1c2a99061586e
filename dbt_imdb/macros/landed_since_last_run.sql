{#- The landing rows a cleansed model has not merged yet: on an incremental run, those whose _loaded_at is
    newer than the newest one already in the model. Landing sets _loaded_at only when a row is inserted,
    changed or soft-deleted, so this is exactly what changed; soft deletes arrive with _is_deleted = true and
    are merged like any other change (cleansed rows are never removed, so the watermark only moves forward). -#}
{% macro landed_since_last_run(table) -%}
    select * from {{ source('landing', table) }}
    {% if is_incremental() -%}
    where _loaded_at > (select coalesce(max(_loaded_at), timestamp '1900-01-01') from {{ this }})
    {%- endif %}
{%- endmacro %}
