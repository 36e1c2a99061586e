{#- Exact schema names (landing, cleansed, aggregated) instead of dbt's <target>_<custom>, behind an optional
    IMDB_SCHEMA_PREFIX that tests and side-by-side experiments use to stay apart. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ env_var('IMDB_SCHEMA_PREFIX', '') ~ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
