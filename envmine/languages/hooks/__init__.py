"""Language hooks: code for what only one language's manifests say, beside its spec (data).

A spec names its hook (`hook = "python"`). The planner (`envmine.builders.lang_env`) reads the
files the spec's rules and `read_files` globs name, asks the hook which further files those
files name (`referenced_files`), and calls `plan` with the text of them all. A hook is pure: it
reads no disk and starts no process. It raises PlanError for a tree that cannot be built here
and returns a HookPlan: Jinja context for the spec's commands, files for the repo layer,
facts for `EnvSpec.toolchain`, and the framework the manifests name (preferred over detection
order). Everything else about the language stays in its spec.

`hook` is a name registered in HOOKS or a dotted module path (a hook kept outside envmine).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol

from envmine.reasons import Reason

HOOKS = {"python": "envmine.languages.hooks.python", "node": "envmine.languages.hooks.node"}
"""Registered hook names -> modules (imported when a plan first needs one)."""


class PlanError(Exception):
    """The repository cannot be built here; carries the reason code and a precise detail."""

    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class HookPlan:
    """What a hook adds to a plan."""

    context: dict[str, object] = field(default_factory=dict)
    """Jinja context of the spec's install, prepare and test commands."""
    files: dict[str, str] = field(default_factory=dict)
    """Files copied to /opt/envmine/<name> in the repo layer before `install`, by name, as
    text; the repo layer's tag covers them."""
    facts: dict[str, str] = field(default_factory=dict)
    """Detected facts recorded in `EnvSpec.toolchain`."""
    framework: str = ""
    """The framework (a name in the spec's `frameworks`) the manifests say the tests run with,
    preferred over detection order when its detect rules match; empty to leave it to them."""


class Hook(Protocol):
    """The functions a hook module defines."""

    def referenced_files(self, files: dict[str, str]) -> list[str]:
        """Paths that `files` name (includes, dynamic sources) whose text `plan` also needs."""

    def plan(self, files: dict[str, str], suite: str) -> HookPlan:
        """The hook's part of the plan from the files' text; `suite` is the Debian suite the
        toolchain comes from. PlanError when the tree cannot be built here."""


def check_hook_name(name: str) -> str:
    """`name` itself when it is registered or a dotted path; a ValueError listing the names."""
    if name and name not in HOOKS and "." not in name:
        raise ValueError(f"unknown hook {name!r}; known: {', '.join(sorted(HOOKS))} (or a dotted module path)")
    return name


def load_hook(name: str) -> Hook:
    """The hook module called `name` (see HOOKS) or at the dotted path `name`."""
    return importlib.import_module(HOOKS.get(check_hook_name(name), name))
