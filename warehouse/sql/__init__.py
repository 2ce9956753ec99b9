"""Analyst views of the catalog, one SQL file per view."""
