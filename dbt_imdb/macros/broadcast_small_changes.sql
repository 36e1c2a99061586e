{#- pre-hook of the incremental cleansed models: a day's changes (1% of a 98M-row table is ~30 MB on disk) are
    broadcast into the MERGE instead of shuffling the whole target for a sort-merge join (Spark's default
    broadcast limit is 10 MB). Only for incremental runs; the post-hook restores the default. -#}
{% macro broadcast_small_changes() -%}
  {%- if is_incremental() -%}
    set spark.sql.autoBroadcastJoinThreshold = 268435456
  {%- endif -%}
{%- endmacro %}
