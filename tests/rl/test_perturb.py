"""Perturbations are drawn from their seed alone, recorded, and map back to canonical tools."""

import json

from envmine.rl import perturb
from envmine.rl.perturb import PerturbConfig
from envmine.rl.toy import ToyTask
from envmine.rl.types import ToolCall, ToolResult

ISSUE = "Calling add with negative numbers returns the wrong result when both values are negative"


def test_same_seed_same_perturbation_different_seeds_differ():
    cfg = PerturbConfig()
    a, b = perturb.draw(cfg, 7), perturb.draw(cfg, 7)
    assert a.record() == b.record()
    records = {json.dumps(perturb.draw(cfg, s).record(), sort_keys=True) for s in range(20)}
    assert len(records) == 20


def test_setup_is_reproducible_and_recorded():
    task = ToyTask("x", problem_statement=ISSUE)
    p = perturb.draw(PerturbConfig(typo_rate=0.5), 3)
    s1, s2 = perturb.setup_for(task, p), perturb.setup_for(task, perturb.draw(PerturbConfig(typo_rate=0.5), 3))
    assert (s1.system, s1.user) == (s2.system, s2.user)
    assert [t.json_schema() for t in s1.toolbox.specs] == [t.json_schema() for t in s2.toolbox.specs]
    assert s1.perturbation == p.record() and s1.perturbation_name == "perturb:3"
    assert json.loads(json.dumps(s1.perturbation)) == s1.perturbation


def test_renamed_tools_resolve_to_canonical_names():
    cfg = PerturbConfig()
    for seed in range(10):
        p = perturb.draw(cfg, seed)
        box = perturb.toolbox(p)
        shown = {s.canonical: s for s in box.specs}
        assert sorted(shown) == ["bash", "replace", "search", "submit", "view"]
        replace_spec = shown["replace"]
        args = {q.name: f"v{i}" for i, q in enumerate(replace_spec.params)}
        call = box.resolve(ToolCall(replace_spec.name, args))
        assert call.name == "replace" and call.arguments == {"path": "v0", "old": "v1", "new": "v2"}
        assert [s.key for s in box.specs] == p.tool_order


def test_canonical_setup_is_unperturbed():
    s = perturb.setup_for(ToyTask("x", problem_statement=ISSUE))
    assert s.perturbation == {} and s.observe is None and ISSUE in s.user
    assert [t.name for t in s.toolbox.specs] == ["bash", "view", "replace", "search", "submit"]


def test_tool_response_perturbations_are_seeded():
    p = perturb.Perturbation(seed=11, truncate_chars=50, noise_rate=0.5, error_rate=0.0)
    result = ToolResult(ToolCall("bash", {"command": "ls"}, id="call_0_0"), "\n".join(f"line {i}" for i in range(40)))
    once, again = perturb.observe(p, result, 2), perturb.observe(p, result, 2)
    assert once == again
    assert once.output.endswith("[output truncated at 50 characters]")


def test_transient_errors_only_on_read_only_tools():
    p = perturb.Perturbation(seed=5, error_rate=1.0, tool_names={"view": "cat", "bash": "shell"})
    view = ToolResult(ToolCall("cat", {"path": "a"}, id="c"), "content")
    bash = ToolResult(ToolCall("shell", {"command": "ls"}, id="c"), "content")
    assert perturb.observe(p, view, 0).error and "Error" in perturb.observe(p, view, 0).output
    assert perturb.observe(p, bash, 0).output == "content"


def test_user_prompt_noise_keeps_words():
    p = perturb.Perturbation(seed=2, user_typos=1.0)
    text = perturb.user_prompt(p, ISSUE, "python")
    assert text != perturb.user_prompt(perturb.Perturbation(seed=2), ISSUE, "python")
    assert text == perturb.user_prompt(perturb.Perturbation(seed=2, user_typos=1.0), ISSUE, "python")
