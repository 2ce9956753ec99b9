"""Evaluation episodes as reviewers read them: an rl `Trajectory` to `Episode` + `EpisodeStep`
records (pure), with tampering flags read from the final diff.

    episodes, steps = to_records(run_id, model, instance, attempt, trajectory, diff)
    catalog.commit({"episodes": episodes, "episode_steps": steps})
"""

from __future__ import annotations

import json
import re
from typing import Any

from envmine.miners.patches import file_diffs
from envmine.records import Episode, EpisodeStep, TaskInstance

THINK = re.compile(r"(?s)^\s*<think>(.*?)</think>\s*")
TEST_PATH = re.compile(r"(?i)(^|/)(tests?|spec|__tests__)(/|$)|(^|/)test_[^/]*$|_test\.[a-z]+$|\.(test|spec)\.[a-z]+$")
SKIP_MARKERS = re.compile(r"\.mark\.skip|pytest\.skip\(|@unittest\.skip|\bt\.Skip\(|#\[ignore\]|\bit\.skip\(|\bxit\(|@Disabled")


def tampering_flags(diff: str, test_patch: str) -> list[str]:
    """What in the final diff looks like gaming the tests: edits to the task's test files or
    other test files, deleted test files, added skip markers (anywhere)."""
    owned = {fd.path for fd in file_diffs(test_patch)}
    flags = []
    for fd in file_diffs(diff):
        is_test = fd.path in owned or TEST_PATH.search(fd.path) is not None
        if fd.path in owned:
            flags.append(f"edits task test file {fd.path}")
        elif is_test:
            flags.append(f"edits test file {fd.path}")
        if is_test and ("\n+++ /dev/null" in fd.text or "deleted file mode" in fd.text):
            flags.append(f"deletes {fd.path}")
        added = "\n".join(line for line in fd.text.splitlines() if line.startswith("+"))
        if SKIP_MARKERS.search(added):
            flags.append(f"adds a skip marker in {fd.path}")
    return flags


def _call_text(call: dict[str, Any]) -> str:
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return f"{function.get('name', '?')}({arguments})"


def message_step(run_id: str, instance_id: str, attempt: int, step: int, message: dict[str, Any]) -> EpisodeStep:
    """One chat message as a step: thinking (a reasoning field or `<think>` in content), text, calls."""
    content = message.get("content") or ""
    thinking = message.get("reasoning") or message.get("reasoning_content") or ""
    found = THINK.match(content) if isinstance(content, str) else None
    if found:
        thinking, content = thinking or found.group(1).strip(), content[found.end():]
    if not isinstance(content, str):
        content = json.dumps(content, ensure_ascii=False)
    return EpisodeStep(run_id=run_id, instance_id=instance_id, attempt=attempt, step=step,
                       role=str(message.get("role", "")), thinking=thinking, content=content,
                       tool_calls=[_call_text(c) for c in message.get("tool_calls") or []])


def to_records(run_id: str, model: str, instance: TaskInstance, attempt: int, trajectory: Any,
               diff: str | None = None) -> tuple[Episode, list[EpisodeStep]]:
    """The episode record and its steps (from `trajectory.messages`); the diff is `diff` or the
    trajectory's own, and the tampering flags are the grader's (`trajectory.tampering`) plus
    what the diff shows."""
    diff = diff if diff is not None else getattr(trajectory, "diff", "") or ""
    flags = [f"grader: {path}" for path in getattr(trajectory, "tampering", None) or []]
    episode = Episode(run_id=run_id, instance_id=instance.instance_id, attempt=attempt, model=model,
                      reward=float(trajectory.reward), resolved=bool(trajectory.resolved),
                      stop_reason=trajectory.stop_reason, diff=diff,
                      tampering=flags + tampering_flags(diff, instance.test_patch))
    steps = [message_step(run_id, instance.instance_id, attempt, n, m) for n, m in enumerate(trajectory.messages)]
    return episode, steps
