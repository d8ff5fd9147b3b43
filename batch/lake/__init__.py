"""The event lake: Iceberg tables (SQLite catalog + folder locally, Glue + S3 on AWS)."""
