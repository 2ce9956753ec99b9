"""Config tables checked against their pydantic models, with errors a person can act on.

Every problem is named by its key path (`settings.docker.concurency`); an unknown key comes with
the valid names of its table. Values are never quoted: one may be a secret.
"""

from __future__ import annotations

import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config that does not fit its model (a user error: shown without a traceback)."""


def validate_config(model: type[M], data: dict[str, Any], where: str = "", prefix: str = "") -> M:
    """`data` as a `model`; a mismatch is a `ConfigError` that lists every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [_problem(model, error, prefix) for error in exc.errors(include_input=False)]
        head = f"{where}: invalid config" if where else "invalid config"
        raise ConfigError("\n  ".join([head, *lines])) from None


def _problem(model: type[BaseModel], error: Any, prefix: str) -> str:
    loc = tuple(error["loc"])
    key = ".".join(str(part) for part in ((prefix,) if prefix else ()) + loc) or "(top level)"
    if error["type"] != "extra_forbidden":
        return f"{key}: {error['msg']}"
    table = _model_at(model, loc[:-1])
    return f"{key}: unknown key" + (f" (valid: {', '.join(sorted(table.model_fields))})" if table else "")


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class of the table at `loc` (list indexes stepped over)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        current = _inner_model(field.annotation) if field else None
    return current


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside an annotation (`X`, `X | None`, `list[X]`, `dict[str, X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
