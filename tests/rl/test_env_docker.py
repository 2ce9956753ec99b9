"""The Docker environment on a real validated task: scripted policies get reward 1 (a fix made
with the tools, and the gold patch) and 0 (a wrong patch); sandboxes are always removed."""

import asyncio

import docker
import pytest

from envmine.builders.engine import client
from envmine.rl import policies
from envmine.rl.env import DockerEnvironment, WarmPool
from envmine.rl.formats import get_format
from envmine.rl.perturb import PerturbConfig, draw, setup_for
from envmine.rl.scaffold import EpisodeLimits, run_episode
from envmine.rl.types import ToolCall
from envmine.settings import Settings

from envmine.testing.rl_task import validated_task

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings.load(home=tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def task(tmp_path_factory, settings):
    return validated_task(tmp_path_factory.mktemp("task"), settings)


class TrackedEnv(DockerEnvironment):
    """Remembers the ids of the containers its episodes ran in."""

    started: list[str] = []

    async def reset(self, instance):
        await super().reset(instance)
        TrackedEnv.started.append(self._held.box.container.id)


def gone(container_id):
    try:
        client().containers.get(container_id)
    except docker.errors.NotFound:
        return True
    return False


def episode(task, settings, backend, setup=None, pool=None, limits=None):
    env = TrackedEnv(settings, pool)
    return asyncio.run(run_episode(env, task, backend, get_format("minimax_m2"),
                                   setup or setup_for(task), limits or EpisodeLimits(max_turns=8)))


def test_validated_task_has_f2p_and_p2p(task):
    assert task.FAIL_TO_PASS and task.PASS_TO_PASS
    assert any("test_add" in t for t in task.FAIL_TO_PASS) and any("test_neg" in t for t in task.PASS_TO_PASS)


def test_tool_using_fix_scores_one_and_container_is_removed(task, settings):
    turns = policies.edit_turns("calc/ops.py", "return a - b", "return a + b", search="def add")
    traj = episode(task, settings, policies.scripted(turns))
    assert traj.stop_reason == "submitted", traj.error
    assert traj.reward == 1.0 and traj.resolved and traj.turns == 4
    tool_answers = [m["content"] for m in traj.messages if m["role"] == "tool"]
    assert "calc/ops.py:1:def add(a, b):" in tool_answers[0]
    assert "     3\t    return a - b" in tool_answers[1]
    assert tool_answers[2] == "Replaced 1 occurrence in calc/ops.py."
    assert gone(TrackedEnv.started[-1])


def test_gold_policy_scores_one(task, settings):
    traj = episode(task, settings, policies.gold(task))
    assert traj.reward == 1.0 and traj.stop_reason == "submitted"
    assert "calc/ops.py" in traj.messages[-2]["content"]  # git status after applying


def test_wrong_patch_scores_zero(task, settings):
    turns = policies.edit_turns("calc/ops.py", "return a - b", "return a * b")
    traj = episode(task, settings, policies.scripted(turns))
    assert traj.stop_reason == "submitted" and traj.reward == 0.0 and not traj.resolved
    assert gone(TrackedEnv.started[-1])


def test_editing_tests_cannot_fake_a_pass(task, settings):
    # The agent rewrites the test file to pass; the grader restores the task's tests.
    fake = "def test_add():\n    assert True\n\n\ndef test_neg():\n    assert True\n"
    from envmine.rl.types import AssistantTurn
    turns = [AssistantTurn(tool_calls=[ToolCall("bash", {"command": f"printf '%s' '{fake}' > tests/test_ops.py"})]),
             AssistantTurn(tool_calls=[ToolCall("submit")])]
    traj = episode(task, settings, policies.scripted(turns))
    assert traj.reward == 0.0


def test_perturbed_episode_still_solves(task, settings):
    p = draw(PerturbConfig(responses=False), 4)
    setup = setup_for(task, p)
    names = {s.canonical: s.name for s in setup.toolbox.specs}
    params = {s.canonical: [q.name for q in s.params] for s in setup.toolbox.specs}
    from envmine.rl.types import AssistantTurn
    path, old, new = params["replace"]
    turns = [AssistantTurn(tool_calls=[ToolCall(names["replace"], {path: "calc/ops.py", old: "a - b", new: "a + b"})]),
             AssistantTurn(tool_calls=[ToolCall(names["submit"])])]
    traj = episode(task, settings, policies.scripted(turns), setup=setup)
    assert traj.reward == 1.0 and traj.perturbation_name == "perturb:4"


def test_episode_that_fails_midway_still_removes_its_container(task, settings):
    class Exploding:
        token_level = False

        async def generate(self, request):
            raise RuntimeError("model server went away")

    traj = episode(task, settings, Exploding())
    assert traj.stop_reason == "error" and "went away" in traj.error
    assert gone(TrackedEnv.started[-1])


def test_wall_time_limit_stops_a_long_command(task, settings):
    from envmine.rl.types import AssistantTurn
    turns = [AssistantTurn(tool_calls=[ToolCall("bash", {"command": "sleep 30"})])]
    traj = episode(task, settings, policies.scripted(turns), limits=EpisodeLimits(wall_s=3))
    assert traj.stop_reason == "timeout" and traj.wall_s < 25
    assert gone(TrackedEnv.started[-1])


def test_warm_pool_serves_ready_sandboxes_and_cleans_up(task, settings):
    async def scenario():
        pool = WarmPool(settings.validation.limits, settings.docker.sandbox_user, size=1)
        pool.fill(task.image)
        await asyncio.sleep(0)
        await asyncio.gather(*list(pool._refills))
        env = TrackedEnv(settings, pool)
        await env.reset(task)
        first = env._held.box.container.id
        out = await env.step(ToolCall("bash", {"command": "whoami && pwd"}))
        await env.close()
        held = [h.box.container.id for hs in pool._ready.values() for h in hs]
        await asyncio.gather(*list(pool._refills))
        held = [h.box.container.id for hs in pool._ready.values() for h in hs]
        await pool.close()
        return pool.hits, first, out.output, held

    hits, first, output, held = asyncio.run(scenario())
    assert hits == 1 and output.startswith("envmine\n/testbed")
    assert gone(first) and held and all(gone(c) for c in held)


def test_gold_eval_writes_catalog_and_scores_one(task, settings):
    from envmine.rl.evaluate import evaluate
    from envmine.warehouse.catalog import Catalog

    with Catalog.open(settings.catalog_dir) as catalog:
        catalog.upsert("instances", [task])
    report = evaluate("gold", home=settings.home, k=2, concurrency=2)
    assert report.summary["all"]["all"]["pass@1"] == 1.0
    assert report.summary["language"]["python"]["pass@2"] == 1.0
    assert report.written == 2
    with Catalog.open(settings.catalog_dir) as catalog:
        rows = catalog.sql("SELECT model, instance_id, attempt, reward, turns, stop_reason FROM evaluations "
                           "ORDER BY attempt").to_pylist()
    assert rows == [{"model": "gold", "instance_id": task.instance_id, "attempt": a, "reward": 1.0,
                     "turns": 3, "stop_reason": "submitted"} for a in (0, 1)]
    # the same attempts are the review app's episodes: messages, the graded diff, no tampering
    from envmine.review.store import episode

    with Catalog.open(settings.catalog_dir) as catalog:
        shown = [episode(catalog, f"{report.run_id}:{task.instance_id}:{a}") for a in (0, 1)]
    for found in shown:
        ep = found["episode"]
        assert (ep.model, ep.reward, ep.resolved, ep.stop_reason, ep.tampering) == ("gold", 1.0, True, "submitted", [])
        assert "-    return a - b\n+    return a + b" in ep.diff
        assert [s.role for s in found["steps"]][:2] == ["system", "user"]
        assert sum(len(s.tool_calls) for s in found["steps"]) == 3
    assert report.episodes_written == 2 + sum(len(found["steps"]) for found in shown)


def test_one_training_step_in_docker_from_exported_shards(task, settings, tmp_path):
    from envmine.rl.config import TrainConfig
    from envmine.rl.train import train_config
    from envmine.warehouse.catalog import Catalog
    from envmine.warehouse.export import export_shards

    with Catalog.open(settings.catalog_dir) as catalog:
        catalog.upsert("instances", [task])
        export_shards(catalog, tmp_path / "shards")
    cfg = TrainConfig.model_validate({
        "run_name": "docker-smoke", "steps": 1,
        "model": {"kind": "tiny"}, "rollout": {"group_size": 2, "tasks_per_step": 1, "concurrency": 2},
        "limits": {"max_turns": 2, "max_new_tokens": 8}, "optim": {"lr": 1e-3},
        "env": {"kind": "docker", "manifest": str(tmp_path / "shards" / "manifest.json"), "warm_pool": 1},
        "perturb": {}})
    TrackedEnv.started.clear()
    result = train_config(cfg, home=settings.home)
    row = result.metrics[0]
    # A random model never calls a tool: both rollouts hit max_turns and score 0; both take the
    # truncation penalty, so the group is flat and skipped: no optimizer step.
    assert row["rollouts"] == 2 and row["penalized_truncated"] == 2 and row["flat_groups"] == 1
    assert row["all_equal_alarm"] and row["optimizer_steps"] == 0
    assert row["mean_reward"] == 0.0
    leftovers = client().containers.list(all=True, filters={"label": "envmine.sandbox", "ancestor": task.image})
    assert leftovers == []


def test_tools_answer_errors_as_observations(task, settings):
    async def scenario():
        env = TrackedEnv(settings)
        await env.reset(task)
        try:
            calls = [ToolCall("replace", {"path": "calc/ops.py", "old": "return", "new": "yield"}),
                     ToolCall("replace", {"path": "nope.py", "old": "a", "new": "b"}),
                     ToolCall("view", {"path": "calc/ops.py", "start": "2", "end": "3"}),
                     ToolCall("search", {"pattern": "zzz_not_there"}),
                     ToolCall("bash", {"command": "echo hi; exit 3"}),
                     ToolCall("replace", {"path": "calc/ops.py", "old": "a - b", "new": "a + b"}),
                     ToolCall("bash", {"command": "touch new_file.py && ls -l calc/ops.py"})]
            return [(await env.step(c)).output for c in calls], await env.diff()
        finally:
            await env.close()

    outputs, diff = asyncio.run(scenario())
    assert outputs[0] == "Error: the text to replace occurs 2 times in calc/ops.py; it must occur once."
    assert outputs[1] == "Error: no such file: nope.py"
    assert outputs[2] == '     2\t    """Sum of a and b."""\n     3\t    return a - b\n'
    assert outputs[3] == "No matches."
    assert outputs[4] == "hi\n\n[exit code 3]"
    assert outputs[5] == "Replaced 1 occurrence in calc/ops.py."
    assert " envmine envmine " in outputs[6]  # edits keep the agent's ownership
    assert "diff --git a/new_file.py b/new_file.py" in diff  # new files are part of the diff
    assert "+    return a + b" in diff
    assert gone(TrackedEnv.started[-1])


@pytest.mark.hostile
def test_a_policy_that_fills_the_disk_scores_zero_named_disk_full(task, settings):
    from envmine.rl.types import AssistantTurn
    from envmine.settings import Limits

    fill = "dd if=/dev/zero of=/testbed/fill.bin bs=1M count=3072"
    turns = [AssistantTurn(tool_calls=[ToolCall("bash", {"command": fill})]),
             AssistantTurn(tool_calls=[ToolCall("submit")])]
    env = TrackedEnv(settings, limits=Limits(writable_disk="512m"))
    traj = asyncio.run(run_episode(env, task, policies.scripted(turns), get_format("minimax_m2"),
                                   setup_for(task), EpisodeLimits(max_turns=4)))
    tool_answers = [m["content"] for m in traj.messages if m["role"] == "tool"]
    assert tool_answers[0].endswith("[the sandbox was killed at its limit: disk_full]"), tool_answers
    assert (traj.reward, traj.grade_reason) == (0.0, "disk_full"), (traj.stop_reason, traj.error)
    assert gone(TrackedEnv.started[-1])
