{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['nconst', 'role'],
        merge_delete_when='DBT_INTERNAL_SOURCE.movies_rated = 0',
        merge_materialize_source=true,
        on_schema_change='fail',
        tblproperties={'delta.enableDeletionVectors': 'true'},
        post_hook=["{{ remember_processed_versions() }}"],
    )
}}

{#-
  Incremental: recomputes only the people a change can affect, found once from the cleansed tables' rows that
  changed between the versions processed last time and the versions read now (macros/upstream_changes.sql):
    - people on a changed credit (pre-images too: a credit moved from A to B affects A and B),
    - people credited in a title whose type, deletion or rating changed (or that appeared),
    - people whose row in dim_person changed (their name, or anything else: see _needs_pre_images).
  For them it recomputes the KPI from the upstream state at those same versions and merges only the rows whose
  values differ; a person/role that no longer has a rated movie becomes a tombstone (movies_rated = 0) that the
  merge deletes (merge_delete_when). When the affected people are a large share of everyone, or the
  comparison cannot be trusted (a rebuilt or restored upstream table, a vacuumed old version), it recomputes
  everyone the same way.
  So the table always equals a full build, and a run with nothing new changes no row.
-#}

{%- set upstream = kpi_upstream() -%}
{%- set plan = kpi_plan(upstream) -%}
{%- set title, person, principal, rating = upstream[0], upstream[1], upstream[2], upstream[3] -%}

{{ plan_marker(plan) }}
with

rated_movies as (
    select
        title.tconst,
        rating.average_rating,
        rating.num_votes
    from {{ as_of_plan(title, plan) }} as title
    inner join {{ as_of_plan(rating, plan) }} as rating on title.tconst = rating.tconst
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
    from {{ as_of_plan(principal, plan) }} as principal
    where
        principal.category in ('actor', 'actress')
        and principal.nconst is not null
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
    left join {{ as_of_plan(person, plan) }} as person
        on kpis.nconst = person.nconst and not person.is_deleted
),

{% if is_incremental() %}
current_rows as (
    select * from {{ this }}
    where {{ only_affected('nconst', plan) }}
),

-- one full outer join (not a join and an anti join: each would read the upstream tables again)
final as (
    select
        coalesce(named.nconst, current_rows.nconst) as nconst,
        coalesce(named.role, current_rows.role) as role,
        case when named.nconst is null then current_rows.primary_name else named.primary_name end as primary_name,
        coalesce(named.movies_rated, 0) as movies_rated,  -- 0: a tombstone, deleted by the merge
        named.avg_rating,
        named.weighted_rating,
        named.total_votes
    from named
    full outer join current_rows
        on named.nconst = current_rows.nconst and named.role = current_rows.role
    where
        named.nconst is null  -- no rated movie left
        or not (  -- new, or changed
            named.primary_name <=> current_rows.primary_name
            and named.movies_rated <=> current_rows.movies_rated
            and named.avg_rating <=> current_rows.avg_rating
            and named.weighted_rating <=> current_rows.weighted_rating
            and named.total_votes <=> current_rows.total_votes
        )
)
{% else %}
final as (
    select * from named
)
{% endif %}

select
    nconst,
    role,
    primary_name,
    cast(movies_rated as bigint) as movies_rated,
    avg_rating,
    weighted_rating,
    cast(total_votes as bigint) as total_votes,
    cast({{ plan.load_id }} as bigint) as _load_id,
    current_timestamp() as updated_at
from final
