"""Scripted policies: fixed turns through the same tools a model uses.

`gold` applies the task's gold patch with the bash tool and submits; a user runs it over the
curated set before spending GPU hours (every task must score 1.0). The others are for tests.
"""

from __future__ import annotations

from typing import Any

from envmine.rl.backends.base import ScriptedBackend
from envmine.rl.types import AssistantTurn, ToolCall

GOLD_PATCH_PATH = "/tmp/envmine-gold.diff"


def _heredoc_delimiter(text: str) -> str:
    delimiter = "ENVMINE_PATCH"
    while delimiter in text:
        delimiter += "_X"
    return delimiter


def apply_patch_command(patch: str) -> str:
    """A bash command that writes `patch` to a file and applies it in /testbed."""
    body = patch if patch.endswith("\n") else patch + "\n"
    end = _heredoc_delimiter(body)
    return (f"cat > {GOLD_PATCH_PATH} <<'{end}'\n{body}{end}\n"
            f"git -c safe.directory='*' apply --verbose {GOLD_PATCH_PATH} "
            f"|| patch --batch --forward -p1 --fuzz=3 < {GOLD_PATCH_PATH}")


def gold_turns(instance: Any) -> list[AssistantTurn]:
    """Apply the gold patch, look at the result, submit."""
    return [
        AssistantTurn(thinking="I will apply the reference fix to the repository.",
                      tool_calls=[ToolCall("bash", {"command": apply_patch_command(instance.patch)})]),
        AssistantTurn(thinking="The patch applied. Let me check the working tree.",
                      tool_calls=[ToolCall("bash", {"command": "git -c safe.directory='*' status --short"})]),
        AssistantTurn(thinking="The change is in place; submitting.", tool_calls=[ToolCall("submit")]),
    ]


def gold(instance: Any) -> ScriptedBackend:
    """The gold policy for one task."""
    return ScriptedBackend(gold_turns(instance))


def edit_turns(path: str, old: str, new: str, search: str = "") -> list[AssistantTurn]:
    """Search, view, replace `old` by `new` in `path`, submit — a scripted tool-using fix."""
    turns = []
    if search:
        turns.append(AssistantTurn(thinking=f"Where is {search!r} defined?",
                                   tool_calls=[ToolCall("search", {"pattern": search})]))
    turns += [
        AssistantTurn(thinking=f"Let me read {path}.", tool_calls=[ToolCall("view", {"path": path})]),
        AssistantTurn(thinking="I see the problem; editing it.",
                      tool_calls=[ToolCall("replace", {"path": path, "old": old, "new": new})]),
        AssistantTurn(thinking="Done.", tool_calls=[ToolCall("submit")]),
    ]
    return turns


def scripted(turns: list[AssistantTurn]) -> ScriptedBackend:
    return ScriptedBackend(turns)
