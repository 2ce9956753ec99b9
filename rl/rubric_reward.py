"""Rubric rewards: the test reward combined with the experts' rubric, scored by a judge model.

    answers = judge_episode(judge, rubric, steps, diff)       # {"ran_tests": "yes", ...}
    reward = combined_reward(test_reward, rubric_score(answers, rubric), weights)
    stats = rescore(groups, judge, rubric, weights)           # the trainer: in place, per rollout

The rubric is the review app's data (`envmine.review.fields.load_rubric`: the packaged
`rubric.toml` or the home's edited copy). The judge is any OpenAI-compatible endpoint; it sees
the episode's messages and final diff, never the gold patch, and answers yes/no/na per item as
JSON. Its answers go to the catalog as annotations by reviewer `judge:<model>`, so the
`agreement` view measures judge-expert agreement beside expert-expert agreement. Weights live
in the training config (`[reward]` table: `test`, `rubric`, see `RubricWeights`).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from envmine.records import Annotation, EpisodeStep
from envmine.review.fields import RUBRIC_ANSWERS, RubricItem

log = logging.getLogger(__name__)
MAX_STEP_CHARS = 2000
JUDGE_SYSTEM = (
    "You grade a coding agent's episode against a rubric written by expert developers. For each "
    "rubric item answer \"yes\", \"no\" or \"na\" (not applicable). Reply with one JSON object "
    "mapping item ids to answers and nothing else.")


class RubricWeights(BaseModel):
    """How the reward mixes the tests' verdict and the rubric (`[reward]` in a training config)."""

    model_config = ConfigDict(extra="forbid")

    test: float = 1.0
    """Weight of the test reward (1.0 resolved, 0.0 not)."""
    rubric: float = 0.0
    """Weight of the rubric score (0 = tests only, the default)."""
    gate_on_tests: bool = True
    """The rubric only adds to a resolved episode: an unresolved one keeps its test reward, so
    good manners never pay for a wrong fix."""


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str
    """OpenAI-compatible base URL (`.../v1`)."""
    model: str
    api_key: str = ""
    timeout_s: float = 120.0


def _clip(text: str) -> str:
    return text if len(text) <= MAX_STEP_CHARS else text[:MAX_STEP_CHARS] + " [...]"


def judge_messages(rubric: Sequence[RubricItem], steps: Sequence[EpisodeStep], diff: str) -> list[dict[str, str]]:
    """The judge's prompt: the rubric, the episode step by step, the final diff."""
    items = "\n".join(f"- {item.id}: {item.label}. {item.description}" for item in rubric)
    lines = []
    for step in steps:
        parts = [f"[{step.step} {step.role}]"]
        parts += [f"(thinking) {_clip(step.thinking)}"] if step.thinking else []
        parts += [_clip(step.content)] if step.content else []
        parts += [f"(call) {_clip(call)}" for call in step.tool_calls]
        lines.append("\n".join(parts))
    episode = "\n\n".join(lines)
    user = f"Rubric:\n{items}\n\nEpisode:\n{episode}\n\nFinal diff:\n{_clip(diff) or '(empty)'}\n\nAnswer as JSON."
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def parse_answers(text: str, rubric: Sequence[RubricItem]) -> dict[str, str]:
    """The judge's JSON answers for the rubric's items (thinking and code fences ignored);
    an item it did not answer, or answered with anything but yes/no/na, is `na`."""
    text = re.sub(r"(?s)<think>.*?</think>", "", text)
    found = re.search(r"(?s)\{.*\}", text)
    try:
        data = json.loads(found.group(0)) if found else {}
    except json.JSONDecodeError:
        data = {}
    data = data if isinstance(data, dict) else {}
    answers = {}
    for item in rubric:
        value = str(data.get(item.id, "na")).strip().lower()
        answers[item.id] = value if value in RUBRIC_ANSWERS else "na"
    return answers


def judge_episode(judge: JudgeConfig, rubric: Sequence[RubricItem], steps: Sequence[EpisodeStep],
                  diff: str) -> dict[str, str]:
    """Ask the judge model for the rubric answers of one episode."""
    body = {"model": judge.model, "temperature": 0, "messages": judge_messages(rubric, steps, diff)}
    headers = {"Authorization": f"Bearer {judge.api_key}"} if judge.api_key else {}
    response = httpx.post(f"{judge.endpoint.rstrip('/')}/chat/completions", json=body, headers=headers,
                          timeout=judge.timeout_s)
    response.raise_for_status()
    return parse_answers(response.json()["choices"][0]["message"].get("content") or "", rubric)


def rubric_score(answers: dict[str, str], rubric: Sequence[RubricItem]) -> float:
    """Weighted share of `yes` over the items answered yes or no (0.0 when none was)."""
    counted = [item for item in rubric if answers.get(item.id) in ("yes", "no")]
    total = sum(item.weight for item in counted)
    if total <= 0:
        return 0.0
    return sum(item.weight for item in counted if answers[item.id] == "yes") / total


def combined_reward(test_reward: float, score: float, weights: RubricWeights) -> float:
    """The weighted mean of the test reward and the rubric score, in [0, 1]."""
    if weights.rubric <= 0 or (weights.gate_on_tests and test_reward <= 0):
        return test_reward
    return (weights.test * test_reward + weights.rubric * score) / (weights.test + weights.rubric)


def judge_annotations(model: str, episode_key: str, answers: dict[str, str]) -> list[Annotation]:
    """The judge's answers as annotations by `judge:<model>` (for the `agreement` view)."""
    return [Annotation(annotation_id=secrets.token_hex(12), reviewer=f"judge:{model}", subject_kind="trajectory",
                       subject=episode_key, field=f"rubric:{item}", value=value)
            for item, value in sorted(answers.items())]


def _needs_judge(trajectory: Any, weights: RubricWeights) -> bool:
    """Judge only what its score can change: no failed episode, no gated unresolved one."""
    failed = trajectory.stop_reason == "error" or trajectory.grade_reason == "infra_error"
    return not failed and weights.rubric > 0 and not (weights.gate_on_tests and trajectory.reward <= 0)


def _judge_trajectory(judge: JudgeConfig, rubric: Sequence[RubricItem], trajectory: Any) -> float | None:
    from envmine.review.episodes import message_step

    steps = [message_step("", trajectory.instance_id, 0, n, m) for n, m in enumerate(trajectory.messages)]
    try:
        return rubric_score(judge_episode(judge, rubric, steps, trajectory.diff), rubric)
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("judge failed on %s (its test reward stands): %s", trajectory.instance_id, exc)
        return None


def rescore(groups: Sequence[Sequence[Any]], judge: JudgeConfig, rubric: Sequence[RubricItem],
            weights: RubricWeights, workers: int = 4) -> dict[str, float]:
    """Set each rollout's (rl `Trajectory`) reward to `combined_reward` of its test reward and the
    judge's rubric score, asking the judge `workers` at a time. An episode the judge could not
    score keeps its test reward (counted in `judge_errors`). Returns the step's metrics."""
    flat = [t for group in groups for t in group]
    todo = [t for t in flat if _needs_judge(t, weights)]
    test_rewards = [t.reward for t in flat]
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        scores = list(pool.map(lambda t: _judge_trajectory(judge, rubric, t), todo))
    for t, score in zip(todo, scores):
        if score is not None:
            t.reward = combined_reward(t.reward, score, weights)
    judged = [s for s in scores if s is not None]
    return {"mean_test_reward": sum(test_rewards) / max(len(test_rewards), 1), "judged": len(judged),
            "judge_errors": len(scores) - len(judged),
            "mean_rubric_score": sum(judged) / len(judged) if judged else None}
