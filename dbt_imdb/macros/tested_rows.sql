{#-
  Data tests read only the rows not yet proven good.

  Every row of a cleansed model carries the landing load that last changed it (_load_id); every row of
  actor_actress_kpis the newest load its build read. For each test, a table property of the model it tests,
  `imdb.tested_load_id.<test name>`, says up to which load id that test has passed. A test configured with
  `where: rows_not_yet_tested` (the project's default, dbt_project.yml) checks only the rows above it: normally
  the day's changes, but after a failure still the failing rows too, because a test's watermark moves only when
  it passed (or warned: a warning is shown for the rows that caused it, once) (advance_tested_watermarks,
  on-run-end). So a failure keeps failing until the data is fixed, several landings before one build are all
  tested, and a `--full-refresh` (a new table, without the properties) tests everything.
  `dbt build --vars '{test_all_rows: true}'` tests every row again. Any other `where` works as in dbt.
  One watermark per test, not per model: a model's tests may run in different invocations (a `dbt test --select`
  of one of them), and each must have seen the rows it vouches for. The
  watermark is read from the table's properties and inlined as a literal: no scan before the test, and Delta
  skips the files whose _load_id statistics lie at or below it.
-#}
{% macro spark__get_where_subquery(relation) -%}
  {%- set where = config.get('where') -%}
  {%- if where == 'rows_not_yet_tested' -%}
    {%- set tested = tested_load_id(relation, model.name) if execute and not var('test_all_rows', false) else none -%}
    {%- if tested is none -%}
      {%- do return(relation) -%}
    {%- endif -%}
    {%- do return("(select * from " ~ relation ~ " where _load_id > " ~ tested ~ ") dbt_subquery") -%}
  {%- elif where -%}
    {%- do return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") -%}
  {%- else -%}
    {%- do return(relation) -%}
  {%- endif -%}
{%- endmacro %}


{#- The load id up to which a test has passed on a relation, or none (never, or the table was rebuilt). -#}
{% macro tested_load_id(relation, test_name) %}
  {%- set tested = _tblproperties(relation).get('imdb.tested_load_id.' ~ test_name) -%}
  {{ return(tested | int if tested is not none else none) }}
{% endmacro %}


{#-
  on-run-end: every test that read rows_not_yet_tested in this invocation and passed (or warned) vouches for
  the rows its model holds now: its watermark moves to the newest _load_id there. A test that failed, errored
  or was skipped keeps its watermark, so it reads the same rows again next time. Works the same in a `dbt build`
  of everything, in Airflow's one `dbt build` per model, or in a `dbt test` of its own; one max(_load_id) and one
  ALTER TABLE per model whatever the number of its tests.
-#}
{% macro advance_tested_watermarks(results) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set passed_of = {} -%}
  {%- for result in results if result.node.resource_type == 'test'
        and result.node.config.where == 'rows_not_yet_tested' and result.node.attached_node
        and (result.status | string) in ['pass', 'warn'] -%}
    {%- do passed_of.setdefault(result.node.attached_node, []).append(result.node.name) -%}
  {%- endfor -%}
  {%- for model_id, tests in passed_of.items() -%}
    {%- set model = graph.nodes[model_id] -%}
    {%- set relation = adapter.get_relation(database=model.database, schema=model.schema, identifier=model.alias) -%}
    {%- if relation is not none -%}
      {%- set newest = run_query("select max(_load_id) from " ~ relation).columns[0].values()[0] -%}
      {%- if newest is not none -%}
        {%- set pairs = [] -%}
        {%- for test in tests -%}
          {%- do pairs.append("'imdb.tested_load_id." ~ test ~ "' = '" ~ newest | int ~ "'") -%}
        {%- endfor -%}
        {%- do run_query("alter table " ~ relation ~ " set tblproperties (" ~ pairs | join(", ") ~ ")") -%}
        {{ log(relation ~ ": " ~ tests | length ~ " test(s) passed on the rows up to load " ~ newest | int, info=true) }}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}
