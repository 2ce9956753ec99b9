"""Catalog stage: the DuckLake/Parquet catalog, its schema, analyst views, exports and shards."""
