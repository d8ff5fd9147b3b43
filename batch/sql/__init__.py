"""SQL over the lake: the views written once in Trino's dialect, run by Athena or by DuckDB."""
