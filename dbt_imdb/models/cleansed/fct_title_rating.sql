{{ config(unique_key='tconst') }}

-- Incremental: only the landing rows changed (inserted, updated, soft-deleted) since the newest _loaded_at
-- already here; see dim_title.
with

landed as (
    select * from {{ source('landing', 'title_ratings') }}
    {% if is_incremental() %}
    where _loaded_at > (select coalesce(max(_loaded_at), timestamp '1900-01-01') from {{ this }})
    {% endif %}
),

final as (
    select
        tconst,
        averageRating as average_rating,
        numVotes as num_votes,
        _is_deleted as is_deleted,
        _run_date,
        _loaded_at
    from landed
)

select * from final
