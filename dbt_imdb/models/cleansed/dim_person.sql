{{ config(unique_key='nconst') }}

-- Incremental: only the landing rows changed (inserted, updated, soft-deleted) since the newest _loaded_at
-- already here; see dim_title.
with

landed as (
    select * from {{ source('landing', 'name_basics') }}
    {% if is_incremental() %}
    where _loaded_at > (select coalesce(max(_loaded_at), timestamp '1900-01-01') from {{ this }})
    {% endif %}
),

final as (
    select
        nconst,
        primaryName as primary_name,
        birthYear as birth_year,
        deathYear as death_year,
        split(nullif(primaryProfession, ''), ',') as primary_professions,
        split(nullif(knownForTitles, ''), ',') as known_for_titles,
        _is_deleted as is_deleted,
        _run_date,
        _loaded_at
    from landed
)

select * from final
