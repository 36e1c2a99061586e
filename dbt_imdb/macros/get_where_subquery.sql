{#-
  Data tests on the newest batch only. A test configured with `where: "newest_batch:<column>"` checks only the
  rows whose <column> (`_loaded_at`, or `updated_at` for the KPIs) equals the newest value in the table: the
  rows the last landing or build wrote. After a first load or a full build that is every row; on a next day it
  is the ~1% that changed, so the tests do not rescan 98M unchanged rows that were tested when they landed.
  `dbt build --vars '{test_all_rows: true}'` tests every row again. Any other `where` works as in dbt.

  The newest value is read first and inlined as a literal, so Delta skips the files that cannot hold it.
-#}
{% macro spark__get_where_subquery(relation) -%}
  {%- set where = config.get('where') -%}
  {%- if where and where.startswith('newest_batch:') -%}
    {%- set column = where.split(':', 1)[1] | trim -%}
    {%- if var('test_all_rows', false) or not execute -%}
      {%- do return(relation) -%}
    {%- endif -%}
    {%- set newest = run_query("select unix_micros(max(" ~ column ~ ")) from " ~ relation).columns[0].values()[0] -%}
    {%- if newest is none -%}
      {%- do return(relation) -%}
    {%- endif -%}
    {%- do return("(select * from " ~ relation ~ " where " ~ column ~ " >= timestamp_micros(" ~ (newest | int) ~ ")) dbt_subquery") -%}
  {%- elif where -%}
    {%- do return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") -%}
  {%- else -%}
    {%- do return(relation) -%}
  {%- endif -%}
{%- endmacro %}
