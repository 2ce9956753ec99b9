"""pass@k and the per-language / per-perturbation summary."""

import pytest

from envmine.records import Evaluation
from envmine.rl.evaluate import pass_at_k, summarize


def ev(instance, attempt, resolved, language="python", perturbation=""):
    return Evaluation(run_id="r", model="m", instance_id=instance, attempt=attempt, reward=float(resolved),
                      resolved=resolved, language=language, perturbation=perturbation)


def test_pass_at_k_estimator():
    assert pass_at_k(4, 0, 1) == 0.0
    assert pass_at_k(4, 4, 2) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(5, 2, 3) == pytest.approx(1 - 1 / 10)


def test_summary_by_language_and_perturbation():
    evals = [ev("a", 0, True, perturbation="perturb:0"), ev("a", 1, False, perturbation="perturb:1"),
             ev("b", 0, False, "go", "perturb:0"), ev("b", 1, False, "go", "perturb:1")]
    s = summarize(evals, k=2)
    assert s["all"]["all"] == {"pass@1": 0.25, "pass@2": 0.5, "tasks": 2.0, "attempts": 4.0}
    assert s["language"]["python"]["pass@2"] == 1.0 and s["language"]["go"]["pass@1"] == 0.0
    assert s["perturbation"]["perturb:0"]["pass@1"] == 0.5
    assert s["perturbation"]["perturb:1"]["pass@1"] == 0.0
