"""Thin Prefect flows and deployments that wire the stages."""
