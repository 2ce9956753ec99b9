"""Build stage: environment specs, Dockerfile templates, content-addressed images, the Docker edge."""
