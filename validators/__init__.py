"""Validate stage: sandboxed test runs, result parsers, grading, flakiness and leakage checks."""
