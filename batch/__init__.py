"""Batch side: event lake tables (Parquet on S3 or disk) and their Athena/DuckDB forms."""
