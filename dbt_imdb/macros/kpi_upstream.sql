{#- The cleansed tables actor_actress_kpis reads; its bookkeeping of upstream changes covers exactly these. -#}
{% macro kpi_upstream() %}
  {{ return([ref('dim_title'), ref('dim_person'), ref('fct_title_principal'), ref('fct_title_rating')]) }}
{% endmacro %}
