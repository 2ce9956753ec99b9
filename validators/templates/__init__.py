"""Jinja templates of the validate stage (a package so that `pip install .` ships them)."""
