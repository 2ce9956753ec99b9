"""The shared records: one way to build a reject."""

from datetime import datetime, timezone

from envmine.reasons import Reason, Stage
from envmine.records import DETAIL_LIMIT, Candidate, Reject, SourceKind


def _candidate() -> Candidate:
    return Candidate(instance_id="acme__calc-7", repo="acme/calc", source=SourceKind.git, repo_url="/r",
                     base_commit="a" * 40, head_commit="b" * 40, patch="p", test_patch="t",
                     problem_statement="s", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), language="go")


def test_a_reject_of_a_candidate_carries_its_id_repository_and_language():
    reject = Reject.of(Stage.build, Reason.clone_failed, _candidate(), "x" * (DETAIL_LIMIT + 5))
    assert (reject.stage, reject.reason, reject.subject, reject.repo, reject.language) == (
        Stage.build, Reason.clone_failed, "acme__calc-7", "acme/calc", "go")
    assert reject.detail == "x" * DETAIL_LIMIT and reject.key == "build:acme__calc-7"


def test_a_reject_of_a_named_subject_takes_its_repository_and_language_as_given():
    reject = Reject.of(Stage.discover, Reason.source_error, "pypi:attrs", "boom", repo="attrs")
    assert (reject.subject, reject.repo, reject.language, reject.detail) == ("pypi:attrs", "attrs", "", "boom")


def test_a_reject_detail_keeps_no_terminal_escapes():
    # A cargo error as a Docker build log carries it: colours, and an OSC 8 link ended by ST.
    log = ("\x1b[0m\x1b[91merror[E0658]\x1b[0m: `let` expressions in this position are unstable\n"
           "  \x1b[1m\x1b[94m-->\x1b[0m \x1b]8;;file:///src/lib.rs\x1b\\src/lib.rs\x1b]8;;\x1b\\:3:8\n"
           "\x1b]0;title\x07done\x1b[2K")
    reject = Reject.of(Stage.build, Reason.build_failed, _candidate(), log)
    assert reject.detail == ("error[E0658]: `let` expressions in this position are unstable\n"
                             "  --> src/lib.rs:3:8\ndone")
