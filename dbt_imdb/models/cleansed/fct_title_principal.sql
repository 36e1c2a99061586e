{{ config(unique_key=['tconst', 'ordering']) }}

-- Incremental: only the landing rows changed (inserted, updated, soft-deleted) since the newest _loaded_at
-- already here; see dim_title. When a credit moves to another person, the update's pre-image in this
-- table's change data feed still names the previous one (actor_actress_kpis relies on it).
with

landed as (
    select * from {{ source('landing', 'title_principals') }}
    {% if is_incremental() %}
    where _loaded_at > (select coalesce(max(_loaded_at), timestamp '1900-01-01') from {{ this }})
    {% endif %}
),

final as (
    select
        tconst,
        ordering,
        nconst,
        category,
        job,
        -- IMDb writes a JSON-like list; names may contain commas, so parse it rather than split it
        from_json(characters, 'array<string>') as characters,
        _is_deleted as is_deleted,
        _run_date,
        _loaded_at
    from landed
)

select * from final
