"""`envmine review` from the command line: reviewer tokens, and --assess-only with a judge model
behind a local OpenAI-compatible server configured in [settings.review]."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from envmine.cli import app
from envmine.records import Episode, EpisodeStep
from envmine.review.auth import Reviewers
from envmine.warehouse.catalog import Catalog, run_sql


def test_add_reviewer_prints_a_token_that_logs_in(tmp_path):
    result = CliRunner().invoke(app, ["review", "--home", str(tmp_path), "--add-reviewer", "dana"])
    assert result.exit_code == 0, result.output
    token = re.search(r"token \(shown once\): (\S+)", result.output).group(1)
    assert Reviewers(tmp_path / "review").who(token) == "dana"
    assert token not in (tmp_path / "review" / "reviewers.json").read_text()
    bad = CliRunner().invoke(app, ["review", "--home", str(tmp_path), "--add-reviewer", "judge:gpt"])
    assert bad.exit_code != 0


def test_assess_only_writes_codes_statements_and_the_judges_answers(tmp_path, real_tasks, httpserver):
    from werkzeug.wrappers import Response

    answer = {"read_before_edit": "yes", "reproduced": "no", "ran_tests": "no", "minimal_diff": "yes", "no_tampering": "yes"}
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
        lambda request: Response(json.dumps({"choices": [{"message": {"content": json.dumps(answer)}}]}),
                                 content_type="application/json"))
    instance = real_tasks["instances"][0]
    with Catalog.open(tmp_path / "catalog") as catalog:
        catalog.commit(dict(real_tasks))
        catalog.commit({"episodes": [Episode(run_id="run", instance_id=instance.instance_id, attempt=0, diff=instance.patch)],
                        "episode_steps": [EpisodeStep(run_id="run", instance_id=instance.instance_id, attempt=0, step=0,
                                                      role="assistant", tool_calls=['view({"path": "x"})'])]})
    config = tmp_path / "review.toml"
    config.write_text(f'[settings.review]\njudge_endpoint = "{httpserver.url_for("/v1")}"\njudge_model = "tiny"\n')
    result = CliRunner().invoke(app, ["review", "--assess-only", "--config", str(config), "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"assessed {len(real_tasks['instances'])} instances" in result.output and "1 episodes judged" in result.output
    rows = run_sql(tmp_path / "catalog", "SELECT reviewer, field, value FROM judgments ORDER BY field").to_pylist()
    assert rows[0] == {"reviewer": "judge:tiny", "field": "rubric:minimal_diff", "value": "yes"} and len(rows) == 5
    again = CliRunner().invoke(app, ["review", "--assess-only", "--config", str(config), "--home", str(tmp_path)])
    assert "0 episodes judged" in again.output
