{{ config(unique_key='tconst') }}

-- Incremental: only the landing rows whose _loaded_at is newer than the newest one already here. Landing
-- sets _loaded_at only when a row is inserted, changed or soft-deleted, so this is exactly what changed;
-- soft deletes arrive with is_deleted = true and are merged like any other change (rows are never
-- removed here, so the watermark only moves forward).
with

landed as (
    select * from {{ source('landing', 'title_basics') }}
    {% if is_incremental() %}
    where _loaded_at > (select coalesce(max(_loaded_at), timestamp '1900-01-01') from {{ this }})
    {% endif %}
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
        _loaded_at
    from landed
)

select * from final
