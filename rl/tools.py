"""The agent's tools: bash, view a file, replace text in a file, search, submit.

A tool's *specification* (name, description, parameters) is data that perturbations vary;
its *execution* runs in a workspace — anything with the engine Sandbox's `exec`,
`read_file` and `write_file` — with shell text from Jinja templates.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from jinja2 import Environment, StrictUndefined

from envmine.rl.types import ToolCall, ToolResult

_JINJA = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_JINJA.filters["q"] = shlex.quote

VIEW = _JINJA.from_string(
    "cat -n -- {{ path | q }} | sed -n '{{ start }},{{ end }}p'"
)
SEARCH = _JINJA.from_string(
    "grep -rnI --exclude-dir=.git -e {{ pattern | q }} -- {{ path | q }} | head -n {{ limit }}"
)
INSTALL_EDIT = _JINJA.from_string("cat {{ tmp | q }} > {{ path | q }}")
DIFF = ("git -c safe.directory='*' add -A >/dev/null 2>&1; "
        "git -c safe.directory='*' diff --cached --binary HEAD")
EDIT_TMP = "/.envmine-edit"


class Workspace(Protocol):
    def exec(self, command: str, timeout_s: int = 600, user: str | None = None,
             workdir: str = "/testbed", env: dict[str, str] | None = None) -> Any: ...
    def read_file(self, path: str) -> bytes | None: ...
    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None: ...


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    type: str = "string"
    required: bool = True


@dataclass(frozen=True)
class ToolSpec:
    """What the model is told about one tool. `canonical` is the name the executor knows."""

    name: str
    description: str
    params: tuple[Param, ...] = ()
    canonical: str = ""

    @property
    def key(self) -> str:
        return self.canonical or self.name

    def json_schema(self) -> dict[str, Any]:
        """The tool as an OpenAI `tools` entry."""
        props = {p.name: {"type": p.type, "description": p.description} for p in self.params}
        required = [p.name for p in self.params if p.required]
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object", "properties": props, "required": required}}}


DEFAULT_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("bash", "Run a bash command in the repository (cwd /testbed) and return its output.",
             (Param("command", "The shell command to run."),)),
    ToolSpec("view", "Show a file with line numbers, optionally only a range of lines.",
             (Param("path", "Path of the file, relative to /testbed or absolute."),
              Param("start", "First line to show (1-based).", "integer", False),
              Param("end", "Last line to show.", "integer", False))),
    ToolSpec("replace", "Replace one exact, unique occurrence of a text in a file.",
             (Param("path", "Path of the file to edit."),
              Param("old", "The exact text to replace; it must occur exactly once."),
              Param("new", "The text to put in its place."))),
    ToolSpec("search", "Search the repository for a regular expression (grep) and list matches.",
             (Param("pattern", "The regular expression to search for."),
              Param("path", "Folder or file to search in (default: the repository).", "string", False))),
    ToolSpec("submit", "Submit your changes to the repository as the final answer. Ends the task.", ()),
)


@dataclass
class ToolBox:
    """The tool specs shown to the model, and how names and parameters map back."""

    specs: list[ToolSpec] = field(default_factory=lambda: list(DEFAULT_TOOLS))
    param_aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    """canonical tool -> {shown parameter name -> canonical parameter name}."""
    timeout_s: int = 120
    max_output_chars: int = 10_000

    def resolve(self, call: ToolCall) -> ToolCall | None:
        """The call in canonical names, or None when the tool does not exist."""
        spec = next((s for s in self.specs if s.name == call.name), None)
        if spec is None:
            return None
        aliases = self.param_aliases.get(spec.key, {})
        args = {aliases.get(k, k): v for k, v in call.arguments.items()}
        return replace(call, name=spec.key, arguments=args)


def execute(box: ToolBox, workspace: Workspace, call: ToolCall) -> ToolResult:
    """Run one tool call in `workspace`; errors become observations, never exceptions."""
    canonical = box.resolve(call)
    if canonical is None:
        names = ", ".join(s.name for s in box.specs)
        return ToolResult(call, f"Error: unknown tool {call.name!r}. Available tools: {names}.", error=True)
    try:
        output, submitted = _RUNNERS[canonical.name](box, workspace, canonical.arguments)
    except (KeyError, ValueError) as exc:
        return ToolResult(call, f"Error: bad arguments for {call.name}: {exc}", error=True)
    return ToolResult(call, _clip(output, box.max_output_chars), submitted=submitted)


def _bash(box: ToolBox, ws: Workspace, args: dict[str, str]) -> tuple[str, bool]:
    result = ws.exec(args["command"], timeout_s=box.timeout_s)
    suffix = f"\n[timed out after {box.timeout_s}s]" if result.timed_out else ""
    if result.limit:
        return f"{result.output}\n[the sandbox was killed at its limit: {result.limit}]", False
    return f"{result.output}{suffix}\n[exit code {result.exit_code}]", False


def _view(box: ToolBox, ws: Workspace, args: dict[str, str]) -> tuple[str, bool]:
    start, end = int(args.get("start") or 1), args.get("end")
    command = VIEW.render(path=args["path"], start=max(start, 1), end=int(end) if end else "$")
    result = ws.exec(command, timeout_s=box.timeout_s)
    return result.output or f"(no lines; does {args['path']} exist?)", False


def _replace(box: ToolBox, ws: Workspace, args: dict[str, str]) -> tuple[str, bool]:
    path = _absolute(args["path"])
    raw = ws.read_file(path)
    if raw is None:
        return f"Error: no such file: {args['path']}", False
    text, old = raw.decode("utf-8", errors="surrogateescape"), args["old"]
    count = text.count(old) if old else 0
    if count != 1:
        return f"Error: the text to replace occurs {count} times in {args['path']}; it must occur once.", False
    new_text = text.replace(old, args.get("new", ""), 1)
    # Written through a temporary file and `cat >` as the agent's user, so the file keeps its
    # owner and mode (put_archive would make it root's).
    ws.write_file(EDIT_TMP, new_text.encode("utf-8", errors="surrogateescape"))
    result = ws.exec(INSTALL_EDIT.render(tmp=EDIT_TMP, path=path), timeout_s=box.timeout_s)
    if result.exit_code != 0:
        return f"Error: could not write {args['path']}: {result.output}", False
    return f"Replaced 1 occurrence in {args['path']}.", False


def _search(box: ToolBox, ws: Workspace, args: dict[str, str]) -> tuple[str, bool]:
    command = SEARCH.render(pattern=args["pattern"], path=args.get("path") or ".", limit=200)
    result = ws.exec(command, timeout_s=box.timeout_s)
    return result.output or "No matches.", False


def _submit(box: ToolBox, ws: Workspace, args: dict[str, str]) -> tuple[str, bool]:
    return "Submitted.", True


_RUNNERS = {"bash": _bash, "view": _view, "replace": _replace, "search": _search, "submit": _submit}


def _absolute(path: str) -> str:
    return path if path.startswith("/") else f"/testbed/{path.removeprefix('./')}"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"
