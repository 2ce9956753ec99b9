"""Rubric rewards: a judge model behind a local OpenAI-compatible server scores the experts'
rubric; its answers land in the catalog and the agreement view measures it against an expert."""

from __future__ import annotations

import json

import pytest

from envmine.records import Annotation, EpisodeStep
from envmine.review.fields import load_rubric
from envmine.rl.rubric_reward import (JudgeConfig, RubricWeights, combined_reward, judge_annotations,
                                      judge_episode, parse_answers, rubric_score)
from envmine.warehouse.catalog import Catalog

RUBRIC = load_rubric()
GOLD_MARKER = "GOLD-PATCH-NEVER-SHOWN"


def steps(ran_tests: bool) -> list[EpisodeStep]:
    calls = ['view({"path": "src/iniconfig/__init__.py"})', 'replace({"path": "src/iniconfig/__init__.py"})']
    calls += ['bash({"command": "python -m pytest -q testing"})'] if ran_tests else []
    return [EpisodeStep(run_id="r", instance_id="i", attempt=0, step=n, role="assistant",
                        thinking="Look first.", tool_calls=[call]) for n, call in enumerate(calls)]


def judge_server(httpserver, model: str):
    """A local chat-completions endpoint: a rule-following judge (ran the tests iff a pytest call
    is in the episode; read before editing iff a view comes before the replace)."""
    seen = []

    def answer(request):
        from werkzeug.wrappers import Response

        body = request.get_json()
        seen.append(body)
        assert body["model"] == model and body["messages"][0]["role"] == "system"
        prompt = body["messages"][1]["content"]
        verdict = {"read_before_edit": "yes" if prompt.index("view(") < prompt.index("replace(") else "no",
                   "reproduced": "na", "ran_tests": "yes" if "pytest" in prompt else "no",
                   "minimal_diff": "yes", "no_tampering": "yes"}
        text = f"<think>checking</think>```json\n{json.dumps(verdict)}\n```"
        return Response(json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}),
                        content_type="application/json")

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(answer)
    return JudgeConfig(endpoint=httpserver.url_for("/v1"), model=model), seen


def test_scores_and_weights():
    answers = {"read_before_edit": "yes", "reproduced": "na", "ran_tests": "no", "minimal_diff": "yes",
               "no_tampering": "yes"}
    assert rubric_score(answers, RUBRIC) == pytest.approx(4 / 5)  # weights 1 + 1 + 2 yes of 1+1+1+2
    assert rubric_score({}, RUBRIC) == 0.0
    weights = RubricWeights(test=1.0, rubric=0.5)
    assert combined_reward(1.0, 0.8, weights) == pytest.approx((1.0 + 0.4) / 1.5)
    assert combined_reward(0.0, 1.0, weights) == 0.0  # the rubric never pays for a wrong fix
    assert combined_reward(0.0, 1.0, weights.model_copy(update={"gate_on_tests": False})) == pytest.approx(0.5 / 1.5)
    assert combined_reward(1.0, 0.0, RubricWeights()) == 1.0  # default: tests only


def test_judge_answers_are_read_defensively():
    text = '<think>{"ran_tests": "no"}</think> sure! {"ran_tests": "YES", "minimal_diff": "maybe", "extra": "yes"}'
    answers = parse_answers(text, RUBRIC)
    assert answers["ran_tests"] == "yes" and answers["minimal_diff"] == "na" and "extra" not in answers
    assert set(parse_answers("no json at all", RUBRIC).values()) == {"na"}


def test_judge_on_a_local_endpoint_agrees_with_an_expert_as_measured(httpserver, tmp_path):
    judge, seen = judge_server(httpserver, "tiny-judge")
    episodes = {"run:i:0": steps(ran_tests=True), "run:i:1": steps(ran_tests=False)}
    judged = {key: judge_episode(judge, RUBRIC, s, diff="+fixed\n") for key, s in episodes.items()}
    assert judged["run:i:0"]["ran_tests"] == "yes" and judged["run:i:1"]["ran_tests"] == "no"
    assert all(GOLD_MARKER not in m["content"] for body in seen for m in body["messages"])
    expert = {"run:i:0": {"ran_tests": "yes", "read_before_edit": "yes"},
              "run:i:1": {"ran_tests": "yes", "read_before_edit": "yes"}}
    rows = [a for key, answers in judged.items() for a in judge_annotations("tiny-judge", key, answers)]
    rows += [Annotation(annotation_id=f"e{key}{item}", reviewer="alice", subject_kind="trajectory", subject=key,
                        field=f"rubric:{item}", value=value)
             for key, answers in expert.items() for item, value in answers.items()]
    with Catalog.open(tmp_path / "catalog") as catalog:
        catalog.upsert("annotations", rows)
        agreement = catalog.sql("SELECT field, rater_a, rater_b, items, observed_agreement, kappa FROM agreement "
                                "ORDER BY field").to_pylist()
    assert agreement == [
        {"field": "rubric:ran_tests", "rater_a": "alice", "rater_b": "judge:tiny-judge", "items": 2,
         "observed_agreement": 0.5, "kappa": 0.0},
        {"field": "rubric:read_before_edit", "rater_a": "alice", "rater_b": "judge:tiny-judge", "items": 2,
         "observed_agreement": 1.0, "kappa": None},
    ]


def test_the_judge_scores_recorded_episodes_once(httpserver, tmp_path):
    from envmine.records import Episode
    from envmine.review.store import judge_episodes

    judge, seen = judge_server(httpserver, "tiny-judge")
    with Catalog.open(tmp_path / "catalog") as catalog:
        for attempt, ran in enumerate((True, False)):
            catalog.commit({"episodes": [Episode(run_id="run", instance_id="i", attempt=attempt, diff="+x\n")],
                            "episode_steps": [s.model_copy(update={"run_id": "run", "attempt": attempt}) for s in steps(ran)]})
        assert judge_episodes(catalog, judge, RUBRIC) == 2
        assert judge_episodes(catalog, judge, RUBRIC) == 0 and len(seen) == 2
        got = catalog.sql("SELECT subject, value FROM judgments WHERE field = 'rubric:ran_tests' ORDER BY 1").to_pylist()
    assert got == [{"subject": "run:i:0", "value": "yes"}, {"subject": "run:i:1", "value": "no"}]
