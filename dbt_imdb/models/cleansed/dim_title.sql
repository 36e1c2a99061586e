{{ config(unique_key='tconst') }}

-- Incremental: only the landing rows of the loads since the last run (macros/landed_since_last_run.sql);
-- soft deletes arrive as is_deleted = true and are merged like any other change.
with

landed as (
    {{ landed_since_last_run('title_basics') }}
),

final as (
    select
        tconst,
        titleType as title_type,
        primaryTitle as primary_title,
        originalTitle as original_title,
        isAdult = 1 as is_adult,
        startYear as start_year,
        endYear as end_year,
        runtimeMinutes as runtime_minutes,
        split(nullif(genres, ''), ',') as genres,
        _is_deleted as is_deleted,
        _run_date,
        _loaded_at,
        _load_id
    from landed
)

select * from final
