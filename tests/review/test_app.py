"""The review app served by a real uvicorn over a catalog of real tasks, driven over HTTP."""

from __future__ import annotations

import re
import threading

import httpx
import pytest

from envmine.review.auth import make_session
from envmine.warehouse.catalog import run_sql
from xss import XSS_ID, xss_instance

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
ROUNDS = 2


def login(live, name: str) -> httpx.Client:
    client = httpx.Client(base_url=live.url, follow_redirects=False, timeout=30)
    response = client.post("/login", data={"token": live.tokens[name], "next": "/queue"})
    assert response.status_code == 303 and response.headers["location"] == "/queue"
    return client


def csrf_of(client: httpx.Client, path: str) -> str:
    return CSRF.search(client.get(path).text).group(1)


def first_task(live) -> str:
    return sorted(live.catalog.keys("instances"))[0]


def test_every_page_needs_a_login(live):
    client = httpx.Client(base_url=live.url, follow_redirects=False)
    for path in ("/queue", f"/task/{first_task(live)}", "/episodes", "/agreement"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    refused = client.post(f"/task/{first_task(live)}/judge", data={"clarity": "0"})
    assert refused.status_code == 401
    assert live.catalog.sql("SELECT count(*) AS n FROM annotations")["n"][0].as_py() == 0


def test_wrong_token_forged_or_revoked_session_is_refused(live):
    client = httpx.Client(base_url=live.url, follow_redirects=False)
    assert client.post("/login", data={"token": "not-a-token"}).status_code == 401
    forged = make_session(b"another server's secret", "alice")
    client.cookies.set("envmine_session", forged)
    assert client.get("/queue").status_code == 303
    bob = login(live, "bob")
    live.reviewers.remove("bob")
    assert bob.get("/queue").status_code == 303


def test_queue_lists_the_real_tasks_and_filters(live):
    alice = login(live, "alice")
    page = alice.get("/queue").text
    ids = sorted(live.catalog.keys("instances"))
    assert ids and all(f'href="/task/{i}"' in page for i in ids)
    coarse = alice.get("/queue", params={"code": "f2p_import_failure_only"}).text
    flagged = set(live.catalog.sql("SELECT instance_id FROM quality WHERE code = 'f2p_import_failure_only'")
                  ["instance_id"].to_pylist())
    assert flagged and {i for i in ids if f'href="/task/{i}"' in coarse} == flagged


def test_task_page_shows_statement_diffs_tests_logs_and_codes(live, task_by_id):
    alice = login(live, "alice")
    instance_id = first_task(live)
    task = task_by_id[instance_id]
    page = alice.get(f"/task/{instance_id}").text
    assert "Problem statement (original)" in page and "Issue-style statement (template)" in page
    assert '<span class="add">' in page and '<span class="del">' in page
    assert all(test in page for test in task.FAIL_TO_PASS + task.PASS_TO_PASS)
    assert "<b>before</b>" in page and "<b>after</b>" in page
    for code in live.catalog.sql("SELECT code FROM quality WHERE instance_id = ?", [instance_id])["code"].to_pylist():
        assert f'<span class="code">{code}</span>' in page


def test_a_judgment_lands_in_sql_and_gates_curated(live):
    alice = login(live, "alice")
    instance_id = first_task(live)
    token = csrf_of(alice, f"/task/{instance_id}")
    response = alice.post(f"/task/{instance_id}/judge", data={
        "csrf": token, "clarity": "3", "validity": "1", "difficulty": "15m-1h", "env_problem": "",
        "veto_shown": "1", "statement": "Parsing a file drops the section.", "notes": ""})
    assert response.status_code == 303 and response.headers["location"] == f"/task/{instance_id}?saved=4"
    rows = run_sql(live.catalog.catalog_dir, "SELECT field, value FROM judgments WHERE reviewer = 'alice' "
                   "AND subject = ? ORDER BY field", [instance_id]).to_pylist()
    assert rows == [{"field": "clarity", "value": "3"}, {"field": "difficulty", "value": "15m-1h"},
                    {"field": "statement", "value": "Parsing a file drops the section."},
                    {"field": "validity", "value": "1"}]
    curated = run_sql(live.catalog.catalog_dir, "SELECT instance_id FROM curated")["instance_id"].to_pylist()
    assert instance_id not in curated and len(curated) == len(live.catalog.keys("instances")) - 1
    again = alice.post(f"/task/{instance_id}/judge", data={"csrf": token, "clarity": "3", "veto_shown": "1"})
    assert again.headers["location"].endswith("saved=0")  # the same judgment again writes nothing


def test_posts_need_the_csrf_token_and_the_same_origin(live):
    alice = login(live, "alice")
    instance_id = first_task(live)
    token = csrf_of(alice, f"/task/{instance_id}")
    assert alice.post(f"/task/{instance_id}/judge", data={"clarity": "0"}).status_code == 403
    assert alice.post(f"/task/{instance_id}/judge", data={"csrf": "0" * 40, "clarity": "0"}).status_code == 403
    foreign = alice.post(f"/task/{instance_id}/judge", data={"csrf": token, "clarity": "0"},
                         headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    bob_token = csrf_of(login(live, "bob"), f"/task/{instance_id}")
    assert alice.post(f"/task/{instance_id}/judge", data={"csrf": bob_token, "clarity": "0"}).status_code == 403
    assert live.catalog.sql("SELECT count(*) AS n FROM annotations")["n"][0].as_py() == 0
    script = httpx.post(f"{live.url}/task/{instance_id}/judge", data={"clarity": "0"},
                        headers={"Authorization": f"Bearer {live.tokens['bob']}"})
    assert script.status_code == 303
    assert live.catalog.sql("SELECT reviewer, value FROM annotations").to_pylist() == [{"reviewer": "bob", "value": "0"}]


def test_values_outside_the_scales_are_refused(live):
    alice = login(live, "alice")
    instance_id = first_task(live)
    token = csrf_of(alice, f"/task/{instance_id}")
    assert alice.post(f"/task/{instance_id}/judge", data={"csrf": token, "clarity": "7"}).status_code == 400
    assert alice.post(f"/task/{instance_id}/judge", data={"csrf": token, "difficulty": "forever"}).status_code == 400
    assert alice.post("/task/no__such-1/judge", data={"csrf": token, "clarity": "0"}).status_code == 404
    assert live.catalog.sql("SELECT count(*) AS n FROM annotations")["n"][0].as_py() == 0


def test_login_never_redirects_off_site(live):
    client = httpx.Client(base_url=live.url, follow_redirects=False)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = client.post("/login", data={"token": live.tokens["alice"], "next": target})
        assert response.headers["location"] == "/queue"


def test_untrusted_text_is_escaped_and_scripts_are_fenced(live, task_by_id):
    live.catalog.upsert("instances", [xss_instance(next(iter(task_by_id.values())))])
    alice = login(live, "alice")
    response = alice.get(f"/task/{XSS_ID}")
    assert response.status_code == 200
    assert "<script>window" not in response.text and "<img src=x" not in response.text
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<script>window" not in alice.get("/queue").text


def test_two_reviewers_at_once_lose_nothing(live):
    ids = sorted(live.catalog.keys("instances"))
    clients = {name: login(live, name) for name in ("alice", "bob")}
    tokens = {name: csrf_of(client, f"/task/{ids[0]}") for name, client in clients.items()}
    statuses: list[int] = []
    start = threading.Barrier(2)

    def review(name: str) -> None:
        start.wait()
        for round_no in range(ROUNDS):
            for instance_id in ids:
                response = clients[name].post(f"/task/{instance_id}/judge", data={
                    "csrf": tokens[name], "clarity": str(round_no), "notes": f"{name} round {round_no}"})
                statuses.append(response.status_code)

    threads = [threading.Thread(target=review, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * (2 * ROUNDS * len(ids))
    counts = run_sql(live.catalog.catalog_dir, "SELECT reviewer, count(*) AS n FROM annotations GROUP BY 1 ORDER BY 1").to_pylist()
    assert counts == [{"reviewer": "alice", "n": 2 * ROUNDS * len(ids)}, {"reviewer": "bob", "n": 2 * ROUNDS * len(ids)}]
    agreement = clients["alice"].get("/agreement").text
    assert f"<td>clarity</td><td>alice</td><td>bob</td><td>{len(ids)}</td><td>1.0</td>" in agreement
    latest = run_sql(live.catalog.catalog_dir, "SELECT DISTINCT value FROM judgments WHERE field = 'notes'")
    assert sorted(latest["value"].to_pylist()) == [f"alice round {ROUNDS - 1}", f"bob round {ROUNDS - 1}"]
