"""A toy environment for trainer tests and the GPU script: no sandbox, instant reward.

The reward is the share of target characters (digits by default) in the model's final
answer — learnable by a random tiny model within a few GRPO steps, so a rising mean reward
shows that the whole loop (rollouts, masks, advantages, loss, optimizer) works.
"""

from __future__ import annotations

from dataclasses import dataclass

from envmine.rl.scaffold import EpisodeSetup, Grade
from envmine.rl.tools import ToolBox
from envmine.rl.types import ToolCall, ToolResult


@dataclass
class ToyTask:
    instance_id: str
    problem_statement: str = "Answer with digits only."
    language: str = "toy"


class ToyEnvironment:
    """Tool calls echo; the final answer is graded by its share of target characters."""

    def __init__(self, target: str = "0123456789"):
        self.target = set(target)
        self.closed = False

    async def reset(self, instance: ToyTask) -> None:
        self.closed = False

    async def step(self, call: ToolCall) -> ToolResult:
        return ToolResult(call, output="ok", submitted=call.name == "submit")

    async def grade(self, answer: str) -> Grade:
        if not answer:
            return Grade(0.0, False)
        share = sum(ch in self.target for ch in answer) / len(answer)
        return Grade(share, share > 0.5)

    async def close(self) -> None:
        self.closed = True


def toy_tasks(n: int) -> list[ToyTask]:
    return [ToyTask(instance_id=f"toy-{i}") for i in range(n)]


def toy_setup(task: ToyTask) -> EpisodeSetup:
    """A short prompt with no tools: the toy's answer is the model's first turn."""
    return EpisodeSetup(system="Reply.", user=task.problem_statement, toolbox=ToolBox(specs=[]),
                        on_no_tool_call="end")
