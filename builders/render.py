"""Jinja rendering of Dockerfiles and shell text, and the content-addressed layer tags."""

from __future__ import annotations

import shlex
from functools import cache

import jinja2

from envmine.records import LayerSpec, content_key

TAG_PREFIX = "envmine"


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("envmine.builders", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["quote"] = shlex.quote
    return env


def render(template: str, **context: object) -> str:
    """Render `templates/<template>`; a missing variable is an error (StrictUndefined)."""
    return _env().get_template(template).render(**context)


def layer_tag(name: str, dockerfile: str, context_files: dict[str, str], parent: str | None) -> str:
    """`envmine/<name>:<hash>` over the rendered Dockerfile, its context files and its parent."""
    parts = [name, parent or "", dockerfile]
    for path in sorted(context_files):
        parts += [path, context_files[path]]
    return f"{TAG_PREFIX}/{name}:{content_key(*parts)}"


def make_layer(name: str, template: str, parent: str, context_files: dict[str, str] | None = None,
               **context: object) -> LayerSpec:
    """Render one layer's Dockerfile and give it its content-addressed tag."""
    dockerfile = render(template, parent=parent, **context)
    files = dict(context_files or {})
    return LayerSpec(name=name, dockerfile=dockerfile, tag=layer_tag(name, dockerfile, files, parent),
                     parent=parent, context_files=files)
