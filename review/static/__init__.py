"""The review app's static files (one stylesheet, one script; no build step)."""
