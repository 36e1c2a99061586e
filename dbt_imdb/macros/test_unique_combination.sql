{#- Generic test: the combination of columns is unique (a composite natural key), without dbt_utils. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(", ") }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(", ") }}
having count(*) > 1
{% endtest %}
