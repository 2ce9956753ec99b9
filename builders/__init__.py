"""Build stage: environment specs, Dockerfile templates, content-addressed images, the Docker edge.

Public entry points (import them from their modules; nothing runs at import time):

- `plan.plan_env(candidate, settings) -> EnvSpec | Reject` (every language, from its spec: `lang_env`)
- `build.build_env(spec, settings, on_line=None) -> (list[Build], Reject | None)`
- `base.ensure_base_image(settings, on_line=None) -> str` (the OS image under the base layer)
- `engine`: the only module that talks to Docker.
"""
