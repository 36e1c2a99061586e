{{ config(unique_key='nconst') }}

-- Incremental: only the landing rows of the loads since the last run (macros/landed_since_last_run.sql).
with

landed as (
    {{ landed_since_last_run('name_basics') }}
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
        _loaded_at,
        _load_id
    from landed
)

select * from final
