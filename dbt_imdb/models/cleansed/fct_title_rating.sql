{{ config(unique_key='tconst') }}

-- depends_on: {{ ref('dim_title') }}
-- (built after dim_title, so the relationships test on tconst runs in this model's Airflow task: airflow/dags/imdb_pipeline.py)

-- Incremental: only the landing rows of the loads since the last run (macros/landed_since_last_run.sql).
with

landed as (
    {{ landed_since_last_run('title_ratings') }}
),

final as (
    select
        tconst,
        averageRating as average_rating,
        numVotes as num_votes,
        _is_deleted as is_deleted,
        _run_date,
        _loaded_at,
        _load_id
    from landed
)

select * from final
