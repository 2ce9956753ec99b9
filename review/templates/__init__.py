"""Jinja templates of the review app and of generated problem statements."""
