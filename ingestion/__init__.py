"""IMDb ingestion: download the daily snapshots, land them as Delta tables, publish the KPIs to PostgreSQL."""
