"""The trainer's `[reward]` table: by default the test reward alone; with a rubric weight, a
judge model (a local OpenAI-compatible server here) scores each rollout against the experts'
rubric and the reward the trainer uses is `combined_reward` of both."""

from __future__ import annotations

import json

import pytest

from envmine.review.fields import load_rubric
from envmine.rl.config import load_train_config
from envmine.rl.rubric_reward import JudgeConfig, RubricWeights, rescore
from envmine.rl.train import train_config
from envmine.rl.types import Trajectory

RUBRIC = load_rubric()


def judge_server(httpserver, answer: str):
    """A judge that answers `answer` for every rubric item; returns its config and what it saw."""
    seen = []

    def respond(request):
        from werkzeug.wrappers import Response

        seen.append(request.get_json())
        verdict = {item.id: answer for item in RUBRIC}
        body = {"choices": [{"message": {"role": "assistant", "content": json.dumps(verdict)}}]}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(respond)
    return JudgeConfig(endpoint=httpserver.url_for("/v1"), model="tiny-judge"), seen


def test_reward_table_is_typed_and_refuses_unknown_keys(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('[reward]\nrubric = 0.5\ngate_on_tests = false\n'
                    '[reward.judge]\nendpoint = "http://127.0.0.1:9/v1"\nmodel = "j"\n')
    cfg = load_train_config(path)
    assert (cfg.reward.test, cfg.reward.rubric, cfg.reward.gate_on_tests) == (1.0, 0.5, False)
    assert cfg.reward.judge.model == "j"
    assert load_train_config("configs/rl/toy.toml").reward.rubric == 0.0  # default: tests only
    path.write_text("[reward]\nrubrik = 1.0\n")
    with pytest.raises(ValueError, match="rubrik"):
        load_train_config(path)


def test_a_rubric_weight_without_a_judge_fails_before_training(tmp_path):
    cfg = load_train_config("configs/rl/toy.toml")
    cfg.reward.rubric = 1.0
    with pytest.raises(ValueError, match="needs a judge"):
        train_config(cfg, home=tmp_path)
    assert not (tmp_path / "rl" / "runs" / "toy" / "metrics.jsonl").exists()


def test_rescore_judges_only_what_can_change_and_keeps_the_test_reward_on_failure(httpserver):
    judge, seen = judge_server(httpserver, "yes")
    groups = [[Trajectory("ok", reward=1.0, stop_reason="submitted", messages=[{"role": "user", "content": "fix"}],
                          diff="+fixed\n"),
               Trajectory("wrong", reward=0.0, stop_reason="submitted"),
               Trajectory("crashed", reward=0.0, stop_reason="error"),
               Trajectory("sick", reward=1.0, stop_reason="submitted", grade_reason="infra_error")]]
    stats = rescore(groups, judge, RUBRIC, RubricWeights(test=1.0, rubric=1.0))
    assert [t.reward for t in groups[0]] == [1.0, 0.0, 0.0, 1.0] and len(seen) == 1
    assert "+fixed" in seen[0]["messages"][1]["content"] and "[0 user]\nfix" in seen[0]["messages"][1]["content"]
    assert stats == {"mean_test_reward": 0.5, "judged": 1, "judge_errors": 0, "mean_rubric_score": 1.0}
    # the judge says "no" to everything: a resolved rollout's reward halves
    groups[0][0].reward = 1.0
    httpserver.clear()
    judge_server(httpserver, "no")
    rescore(groups, judge, RUBRIC, RubricWeights(test=1.0, rubric=1.0))
    assert groups[0][0].reward == 0.5
    # a judge that is down: the rollout keeps its test reward, and the step says so
    groups[0][0].reward = 1.0
    down = JudgeConfig(endpoint="http://127.0.0.1:9/v1", model="gone", timeout_s=2)
    stats = rescore(groups, down, RUBRIC, RubricWeights(test=1.0, rubric=1.0))
    assert groups[0][0].reward == 1.0 and stats["judge_errors"] == 1 and stats["mean_rubric_score"] is None


def test_training_step_uses_the_combined_reward(httpserver, tmp_path):
    judge, seen = judge_server(httpserver, "yes")
    cfg = load_train_config("configs/rl/toy.toml")
    cfg.steps, cfg.rollout.tasks_per_step, cfg.rollout.group_size = 1, 1, 4
    cfg.reward = cfg.reward.model_copy(update={"rubric": 1.0, "gate_on_tests": False, "judge": judge})
    result = train_config(cfg, home=tmp_path)
    row = result.metrics[0]
    assert row["judged"] == 4 == len(seen) and row["judge_errors"] == 0 and row["mean_rubric_score"] == 1.0
    # every rollout's reward is (test + 1) / 2: the rubric's full marks averaged in
    assert row["mean_reward"] == pytest.approx((row["mean_test_reward"] + 1.0) / 2)
    assert all("Answer with digits only." in body["messages"][1]["content"] for body in seen)
    assert all(item.id in seen[0]["messages"][1]["content"] for item in RUBRIC)


def test_tampering_is_penalised_and_counted():
    from envmine.rl.config import TrainConfig
    from envmine.rl.train import penalise_tampering
    from envmine.rl.types import Trajectory

    cfg = TrainConfig.model_validate({"reward": {"tampering_penalty": 0.5}})
    honest = Trajectory(instance_id="t", reward=1.0)
    cheat = Trajectory(instance_id="t", reward=0.0, tampering=["tests/test_add.py"])
    assert penalise_tampering([[honest, cheat]], cfg.reward.tampering_penalty) == 1
    assert (honest.reward, cheat.reward) == (1.0, -0.5)
    assert TrainConfig().reward.tampering_penalty == 0.0
