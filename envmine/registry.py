"""Plain name -> dotted-path registries, imported lazily (parsers, chat formats, backends).

Nothing is imported until a name is looked up, and an unknown name's error lists the valid
names.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any


def resolve(kind: str, package: str, targets: dict[str, str], name: str) -> Any:
    """The object `targets[name]` names (`"module:attribute"`, relative to `package`)."""
    try:
        target = targets[name]
    except KeyError:
        raise KeyError(f"unknown {kind} {name!r}; known: {', '.join(sorted(targets))}") from None
    module, attribute = target.split(":")
    return getattr(import_module(f"{package}.{module}"), attribute)
