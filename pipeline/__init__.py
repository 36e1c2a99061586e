"""One day's run, in one place: pipeline.daily (download + land) and pipeline.tasks (the Airflow DAG's task
bodies) call the stages; pipeline.cli is `python -m ingestion …`."""
