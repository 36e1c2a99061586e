{#- Generic test: none of the columns is null, checked in one scan of the model (one test per column would
    read the rows once per column). The failing rows keep every column named, for a look (store_failures). -#}
{% test not_null_columns(model, columns) %}
select {{ columns | join(", ") }}
from {{ model }}
where {% for column in columns %}{{ column }} is null{{ " or " if not loop.last }}{% endfor %}
{% endtest %}
