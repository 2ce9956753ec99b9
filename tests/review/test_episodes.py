"""Episodes as reviewers read them: rl's own chat messages to steps, tampering read from diffs,
and the episode page with its rubric and pairwise preference."""

from __future__ import annotations

import re

import httpx

from envmine.records import TaskInstance
from envmine.review import store
from envmine.review.episodes import message_step, tampering_flags, to_records
from envmine.rl.formats.openai import to_message, tool_messages
from envmine.rl.types import AssistantTurn, ToolCall, ToolResult, Trajectory
from envmine.warehouse.catalog import run_sql

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def trajectory(instance: TaskInstance, diff: str, reward: float, think_in_content: bool) -> Trajectory:
    view = ToolCall("view", {"path": "src/iniconfig/__init__.py"}, id="c0")
    turns = [AssistantTurn(thinking="Read <the> parser first.", content="Looking.", tool_calls=[view]),
             AssistantTurn(thinking="Done.", content="", tool_calls=[ToolCall("submit", {}, id="c1")])]
    messages = [{"role": "system", "content": "You fix bugs."}, {"role": "user", "content": instance.problem_statement}]
    messages.append(to_message(turns[0], think_in_content=think_in_content))
    messages += tool_messages([ToolResult(view, "<script>alert(1)</script> def parse(): ...")])
    messages.append(to_message(turns[1], think_in_content=think_in_content))
    traj = Trajectory(instance_id=instance.instance_id, messages=messages, reward=reward, resolved=reward == 1.0,
                      stop_reason="submitted", turns=2)
    traj.diff = diff
    return traj


def test_steps_keep_thinking_calls_and_answers(task_by_id):
    instance = next(iter(task_by_id.values()))
    for inline in (False, True):
        traj = trajectory(instance, instance.patch, 1.0, think_in_content=inline)
        steps = [message_step("run", instance.instance_id, 0, n, m) for n, m in enumerate(traj.messages)]
        assert [s.role for s in steps] == ["system", "user", "assistant", "tool", "assistant"]
        assert steps[2].thinking == "Read <the> parser first." and steps[2].content.strip() == "Looking."
        assert steps[2].tool_calls == ['view({"path": "src/iniconfig/__init__.py"})']
        assert steps[3].content.startswith("<script>")


def test_tampering_is_read_from_the_diff(task_by_id):
    instance = next(i for i in task_by_id.values() if i.test_patch)
    test_file = instance.test_patch.split("diff --git a/", 2)[1].split(" ", 1)[0]
    assert [t.instance_id for t in task_by_id.values() if tampering_flags(t.patch, t.test_patch)] == []  # gold patches
    edits_tests = f"diff --git a/{test_file} b/{test_file}\n--- a/{test_file}\n+++ b/{test_file}\n@@ -1 +1,2 @@\n+@pytest.mark.skip\n def test_x(): pass\n"
    assert tampering_flags(edits_tests, instance.test_patch) == [
        f"edits task test file {test_file}", f"adds a skip marker in {test_file}"]
    other = "diff --git a/tests/test_other.py b/tests/test_other.py\ndeleted file mode 100644\n--- a/tests/test_other.py\n+++ /dev/null\n"
    assert tampering_flags(other, instance.test_patch) == ["edits test file tests/test_other.py", "deletes tests/test_other.py"]


def test_episode_page_rubric_and_preference_land_in_sql(live, task_by_id):
    instance = next(iter(task_by_id.values()))
    groups = [[trajectory(instance, instance.patch, 1.0, False), trajectory(instance, "", 0.0, True)]]
    assert store.record_episodes(live.catalog, "eval-1", "gold", [instance], groups) == 2 + 10
    first, second = (f"eval-1:{instance.instance_id}:{n}" for n in (0, 1))
    client = httpx.Client(base_url=live.url, follow_redirects=False, timeout=30)
    client.post("/login", data={"token": live.tokens["alice"]})
    assert f'/episode/{first}' in client.get("/episodes").text
    page = client.get(f"/episode/{first}").text
    assert "Read &lt;the&gt; parser first." in page and "&lt;script&gt;alert(1)" in page
    assert 'view({&#34;path&#34;: &#34;src/iniconfig/__init__.py&#34;})' in page
    assert '<span class="add">' in page  # the final diff, rendered
    token = CSRF.search(page).group(1)
    response = client.post(f"/episode/{first}/judge", data={
        "csrf": token, "rubric:read_before_edit": "yes", "rubric:ran_tests": "no", "notes": "",
        "other": second, "preference": "a"})
    assert response.status_code == 303 and response.headers["location"].endswith("saved=3")
    rows = run_sql(live.catalog.catalog_dir, "SELECT subject_kind, subject, field, value FROM judgments "
                   "ORDER BY subject_kind, field").to_pylist()
    assert rows == [
        {"subject_kind": "pair", "subject": f"{first}|{second}", "field": "preference", "value": "a"},
        {"subject_kind": "trajectory", "subject": first, "field": "rubric:ran_tests", "value": "no"},
        {"subject_kind": "trajectory", "subject": first, "field": "rubric:read_before_edit", "value": "yes"},
    ]
    bad = client.post(f"/episode/{first}/judge", data={"csrf": token, "rubric:made_up": "yes"})
    assert bad.status_code == 400
    stranger = client.post(f"/episode/{first}/judge", data={"csrf": token, "other": "eval-9:x:0", "preference": "b"})
    assert stranger.status_code == 400
