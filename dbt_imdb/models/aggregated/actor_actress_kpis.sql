{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['nconst', 'role'],
        merge_delete_when='DBT_INTERNAL_SOURCE.movies_rated = 0',
        on_schema_change='fail',
        tblproperties={'delta.enableDeletionVectors': 'true'},
        post_hook="{{ remember_processed_versions(kpi_upstream()) }}",
    )
}}

{#-
  Incremental: recomputes only the people a change can affect, read from the cleansed tables' change data
  feed since the versions processed last time (see macros/change_feed.sql):
    - people on a changed credit (pre-images too: a credit moved from A to B affects A and B),
    - people credited in a title whose type or rating changed (or that appeared or was removed),
    - people whose name changed.
  For them it recomputes the KPI from the current state and merges only the rows whose values differ;
  a person/role that no longer has a rated movie becomes a tombstone (movies_rated = 0) that the merge
  deletes (merge_delete_when). So the table always equals a full build, and a run with nothing new
  changes no row.
-#}

{%- set upstream = kpi_upstream() -%}
{%- set plan = changes_plan(upstream) if is_incremental() else none -%}

with

{% if plan is not none %}
changed_titles as (
    {{ changed_rows(ref('dim_title'), plan, ['tconst']) }}
    union
    {{ changed_rows(ref('fct_title_rating'), plan, ['tconst']) }}
),

affected_people as (
    {{ changed_rows(ref('fct_title_principal'), plan, ['nconst']) }}
    union
    {{ changed_rows(ref('dim_person'), plan, ['nconst']) }}
    union
    select principal.nconst
    from {{ ref('fct_title_principal') }} as principal
    where principal.tconst in (select changed_titles.tconst from changed_titles)
),
{% endif %}

rated_movies as (
    select
        title.tconst,
        rating.average_rating,
        rating.num_votes
    from {{ ref('dim_title') }} as title
    inner join {{ ref('fct_title_rating') }} as rating on title.tconst = rating.tconst
    where
        title.title_type = 'movie'
        and not title.is_deleted
        and not rating.is_deleted
),

-- a movie counts once per person and role, however many principal rows they have in it
credits as (
    select distinct
        principal.nconst,
        principal.category as role,
        principal.tconst
    from {{ ref('fct_title_principal') }} as principal
    where
        principal.category in ('actor', 'actress')
        and not principal.is_deleted
        and {{ only_affected('principal.nconst', plan) }}
),

kpis as (
    select
        credits.nconst,
        credits.role,
        count(*) as movies_rated,
        -- ratings are decimals: the sums are exact, so the result does not depend on the order of rows
        cast(sum(rated_movies.average_rating) as double) / count(*) as avg_rating,
        cast(sum(rated_movies.average_rating * rated_movies.num_votes) as double)
        / nullif(cast(sum(rated_movies.num_votes) as double), 0) as weighted_rating,
        sum(rated_movies.num_votes) as total_votes
    from credits
    inner join rated_movies on credits.tconst = rated_movies.tconst
    group by credits.nconst, credits.role
),

named as (
    select
        kpis.nconst,
        kpis.role,
        person.primary_name,
        kpis.movies_rated,
        kpis.avg_rating,
        kpis.weighted_rating,
        kpis.total_votes
    from kpis
    left join {{ ref('dim_person') }} as person
        on kpis.nconst = person.nconst and not person.is_deleted
),

{% if is_incremental() %}
current_rows as (
    select * from {{ this }}
    where {{ only_affected('nconst', plan) }}
),

changed as (
    select
        named.*,
        current_timestamp() as updated_at
    from named
    left join current_rows
        on named.nconst = current_rows.nconst and named.role = current_rows.role
    where not (
        named.primary_name <=> current_rows.primary_name
        and named.movies_rated <=> current_rows.movies_rated
        and named.avg_rating <=> current_rows.avg_rating
        and named.weighted_rating <=> current_rows.weighted_rating
        and named.total_votes <=> current_rows.total_votes
    )
),

vanished as (
    select
        current_rows.nconst,
        current_rows.role,
        current_rows.primary_name,
        cast(0 as bigint) as movies_rated,  -- tombstone: deleted by the merge
        cast(null as double) as avg_rating,
        cast(null as double) as weighted_rating,
        cast(null as bigint) as total_votes,
        current_timestamp() as updated_at
    from current_rows
    left anti join named
        on current_rows.nconst = named.nconst and current_rows.role = named.role
),

final as (
    select * from changed
    union all
    select * from vanished
)
{% else %}
final as (
    select
        named.*,
        current_timestamp() as updated_at
    from named
)
{% endif %}

select
    nconst,
    role,
    primary_name,
    movies_rated,
    avg_rating,
    weighted_rating,
    cast(total_votes as bigint) as total_votes,
    updated_at
from final
