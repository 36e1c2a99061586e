{{ config(unique_key=['tconst', 'ordering']) }}

-- depends_on: {{ ref('dim_title') }}
-- depends_on: {{ ref('dim_person') }}
-- (built after both dimensions, so the relationships tests on tconst and nconst run in this model's build in
-- Airflow: airflow/dags/imdb_pipeline.py)

-- Incremental: only the landing rows of the loads since the last run (macros/landed_since_last_run.sql).
-- When a credit moves to another person, the row at the version actor_actress_kpis processed last still
-- names the previous one (its pre-image: the KPI recomputes both people).
with

landed as (
    {{ landed_since_last_run('title_principals') }}
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
        _loaded_at,
        _load_id
    from landed
)

select * from final
