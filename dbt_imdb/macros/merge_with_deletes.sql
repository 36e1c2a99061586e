{#-
  dbt-spark's merge, plus deletes. dbt's merge only updates and inserts; a model that must also remove rows
  (a KPI row for a person who no longer has a rated movie) sets `merge_delete_when`, a condition on
  DBT_INTERNAL_SOURCE that marks tombstones: a matching target row is deleted, and a tombstone is never
  inserted. Without the config this is exactly dbt-spark's own merge.
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
