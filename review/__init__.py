"""Experts in the loop: issue-style statements, the review app (`envmine review`), expert
judgments in the catalog and the rubrics that turn them into rewards."""
