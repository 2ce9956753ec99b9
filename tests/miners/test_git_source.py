"""The git source on repositories built in tmp_path: candidates, rejects and their reasons."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from envmine.miners.git_source import Hooks, covered_by_merges, mine_git
from envmine.miners.history import list_commits

CODE_V1 = "def add(a, b):\n    return a - b\n"
CODE_V2 = "def add(a, b):\n    return a + b\n"
TEST_V2 = "from widgets.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


def _base(git_repo):
    return git_repo.commit("Initial import", {
        "pyproject.toml": "[project]\nname = 'widgets'\n",
        "widgets/__init__.py": "",
        "widgets/calc.py": CODE_V1,
        "README.md": "widgets\n",
    })


def _by_reason(result):
    return {r.subject.rsplit("-", 1)[1]: r.reason for r in result.rejects}


def test_bug_fix_commit_with_test_is_an_exact_candidate(git_repo, settings):
    root = _base(git_repo)
    fix = git_repo.commit(
        "Fix add() subtracting instead of adding\n\nadd(1, 2) returned -1. Fixes #7.\n\n"
        "Signed-off-by: Ada <ada@example.org>",
        {"widgets/calc.py": CODE_V2, "tests/test_calc.py": TEST_V2},
    )
    result = mine_git(str(git_repo.path), settings)

    assert result.repo.repo == "acme/widgets"
    assert result.repo.source == "git"
    assert result.repo.language == "python"
    assert result.repo.default_branch == "main"
    assert result.repo.cursor == fix
    assert len(result.candidates) == 1
    cand = result.candidates[0]
    assert cand.instance_id == f"acme__widgets-{fix[:10]}"
    assert cand.base_commit == root
    assert cand.head_commit == fix
    assert cand.repo_url == str(git_repo.path)
    assert cand.problem_statement == (
        "Fix add() subtracting instead of adding\n\nadd(1, 2) returned -1. Fixes #7."
    )
    assert cand.issue_numbers == [7]
    assert cand.pr_number is None
    assert cand.patch_files == ["widgets/calc.py"]
    assert cand.test_files == ["tests/test_calc.py"]
    assert cand.patch.startswith("diff --git a/widgets/calc.py b/widgets/calc.py\nindex ")
    assert "-    return a - b\n+    return a + b\n" in cand.patch
    assert "new file mode 100644" in cand.test_patch
    assert "+    assert add(1, 2) == 3\n" in cand.test_patch
    # --full-index: 40-hex blob ids, so `git apply` can replay binary hunks and 3-way merges
    index_line = cand.patch.split("\n")[1]
    assert len(index_line.split()[1].split("..")[0]) == 40
    assert _by_reason(result) == {root[:10]: "root_commit"}


def test_created_at_is_the_author_date(git_repo, settings):
    _base(git_repo)
    git_repo.commit("Fix add", {"widgets/calc.py": CODE_V2, "tests/test_calc.py": TEST_V2})
    when = git_repo.clock
    cand = mine_git(str(git_repo.path), settings).candidates[0]
    assert cand.created_at == datetime.fromtimestamp(when, tz=timezone.utc)


def test_docs_only_and_code_only_and_test_only_commits_are_rejected(git_repo, settings):
    _base(git_repo)
    docs = git_repo.commit("Document add", {"README.md": "widgets: add numbers\n"})
    code = git_repo.commit("Fix add", {"widgets/calc.py": CODE_V2})
    test = git_repo.commit("Test add", {"tests/test_calc.py": TEST_V2})
    docs_and_test = git_repo.commit(
        "Docs and tests", {"README.md": "more\n", "tests/test_more.py": "def test_x():\n    pass\n"}
    )
    result = mine_git(str(git_repo.path), settings)
    reasons = _by_reason(result)
    assert result.candidates == []
    assert reasons[docs[:10]] == "no_test_change"
    assert reasons[code[:10]] == "no_test_change"
    assert reasons[test[:10]] == "no_code_change"
    assert reasons[docs_and_test[:10]] == "no_code_change"
    assert all(r.stage == "mine" and r.repo == "acme/widgets" for r in result.rejects)


def test_pr_merge_is_one_candidate_and_its_branch_commits_are_duplicates(git_repo, settings):
    root = _base(git_repo)
    git_repo.git("checkout", "-q", "-b", "fix-add")
    first = git_repo.commit("Use + in add", {"widgets/calc.py": CODE_V2})
    second = git_repo.commit("Add a test for add\n\nCloses #12", {"tests/test_calc.py": TEST_V2})
    git_repo.git("checkout", "-q", "main")
    other = git_repo.commit("Tweak readme", {"README.md": "widgets!\n"})
    git_repo.git("merge", "--no-ff", "-q", "fix-add", "-m",
                 "Merge pull request #42 from ada/fix-add\n\nFix add() for positive numbers")
    merge = git_repo.git("rev-parse", "HEAD")

    result = mine_git(str(git_repo.path), settings)
    assert [c.head_commit for c in result.candidates] == [merge]
    cand = result.candidates[0]
    assert cand.pr_number == 42
    assert cand.base_commit == other
    assert cand.problem_statement == "Fix add() for positive numbers"
    assert cand.hints_text == "Use + in add\n\nAdd a test for add\n\nCloses #12"
    assert cand.issue_numbers == [12]
    assert cand.patch_files == ["widgets/calc.py"]
    assert cand.test_files == ["tests/test_calc.py"]
    reasons = _by_reason(result)
    assert reasons == {first[:10]: "duplicate", second[:10]: "duplicate",
                       other[:10]: "no_test_change", root[:10]: "root_commit"}


def test_merge_without_pr_is_rejected_but_its_branch_is_mined(git_repo, settings):
    _base(git_repo)
    git_repo.git("checkout", "-q", "-b", "topic")
    fix = git_repo.commit("Fix add", {"widgets/calc.py": CODE_V2, "tests/test_calc.py": TEST_V2})
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("Tweak readme", {"README.md": "x\n"})
    git_repo.git("merge", "--no-ff", "-q", "topic", "-m", "Merge branch 'topic'")
    merge = git_repo.git("rev-parse", "HEAD")
    result = mine_git(str(git_repo.path), settings)
    assert [c.head_commit for c in result.candidates] == [fix]
    assert _by_reason(result)[merge[:10]] == "merge_commit"


def test_squash_merged_pr_number_and_empty_statement(git_repo, settings):
    _base(git_repo)
    squash = git_repo.commit("Fix add (#9)", {"widgets/calc.py": CODE_V2, "tests/test_calc.py": TEST_V2})
    result = mine_git(str(git_repo.path), settings,
                      hooks=Hooks(statement=lambda commit: ""))
    assert result.candidates == []
    assert _by_reason(result)[squash[:10]] == "empty_problem_statement"
    result = mine_git(str(git_repo.path), settings)
    assert result.candidates[0].pr_number == 9


def test_issue_hook_text_becomes_the_statement(git_repo, settings):
    _base(git_repo)
    git_repo.commit("Fix add\n\nfixes #3", {"widgets/calc.py": CODE_V2, "tests/test_calc.py": TEST_V2})
    issues = {3: "add() is wrong\n\nadd(1, 2) gives -1"}
    cand = mine_git(str(git_repo.path), settings, hooks=Hooks(issue_text=issues.get)).candidates[0]
    assert cand.problem_statement == "add() is wrong\n\nadd(1, 2) gives -1"
    assert cand.hints_text == "Fix add\n\nfixes #3"


def test_binary_gold_patch_and_too_large_patch(git_repo, settings):
    _base(git_repo)
    binary = git_repo.commit("Add logo", {
        "widgets/logo.png": bytes(range(256)) * 4, "widgets/calc.py": CODE_V2,
        "tests/test_calc.py": TEST_V2,
    })
    big = git_repo.commit("Big change", {
        "widgets/big.py": "".join(f"x{i} = {i}\n" for i in range(50)),
        "tests/test_big.py": "def test_big():\n    pass\n",
    })
    settings.validation.max_patch_lines = 40
    reasons = _by_reason(mine_git(str(git_repo.path), settings))
    assert reasons[binary[:10]] == "binary_patch"
    assert reasons[big[:10]] == "patch_too_large"


def test_binary_test_file_stays_in_the_test_patch(git_repo, settings):
    _base(git_repo)
    git_repo.commit("Fix add, with a data file", {
        "widgets/calc.py": CODE_V2, "tests/test_calc.py": TEST_V2,
        "tests/data/blob.bin": bytes(range(256)),
    })
    cand = mine_git(str(git_repo.path), settings).candidates[0]
    assert cand.test_files == ["tests/data/blob.bin", "tests/test_calc.py"]
    assert "GIT binary patch" in cand.test_patch


def test_max_candidates_and_rerun_is_idempotent(git_repo, settings):
    _base(git_repo)
    git_repo.commit("Fix add", {"widgets/calc.py": CODE_V2, "tests/test_calc.py": TEST_V2})
    git_repo.commit("Fix more", {"widgets/calc.py": CODE_V1 + "# x\n", "tests/test_calc.py": TEST_V2 + "# y\n"})
    first = mine_git(str(git_repo.path), settings, max_candidates=1)
    assert len(first.candidates) == 1
    again = mine_git(str(git_repo.path), settings)
    assert [c.instance_id for c in again.candidates][0] == first.candidates[0].instance_id
    assert len(again.candidates) == 2


def test_new_commits_are_seen_on_the_next_run(git_repo, settings):
    _base(git_repo)
    assert mine_git(str(git_repo.path), settings).candidates == []
    fix = git_repo.commit("Fix add", {"widgets/calc.py": CODE_V2, "tests/test_calc.py": TEST_V2})
    assert [c.head_commit for c in mine_git(str(git_repo.path), settings).candidates] == [fix]


def test_covered_by_merges_on_a_real_history(git_repo):
    _base(git_repo)
    git_repo.git("checkout", "-q", "-b", "b")
    a = git_repo.commit("a", {"a.py": "a\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.git("merge", "--no-ff", "-q", "b", "-m", "Merge pull request #1 from x/b")
    merge = git_repo.git("rev-parse", "HEAD")
    assert covered_by_merges(list_commits(git_repo.path)) == {a: merge}


def test_unknown_language_is_a_clear_error(git_repo, settings):
    _base(git_repo)
    with pytest.raises(KeyError, match="unknown language 'cobol'"):
        mine_git(str(git_repo.path), settings, language="cobol")


def test_empty_repository_mines_nothing(git_repo, settings):
    result = mine_git(str(git_repo.path), settings)
    assert result.candidates == [] and result.rejects == []
    assert result.repo.cursor is None


def test_since_cursor_mines_only_new_commits(git_repo, settings):
    _base(git_repo)
    old = git_repo.commit("Fix add", {"widgets/calc.py": CODE_V2, "tests/test_calc.py": TEST_V2})
    first = mine_git(str(git_repo.path), settings)
    assert first.repo.cursor == old
    assert mine_git(str(git_repo.path), settings, since=old).candidates == []
    assert mine_git(str(git_repo.path), settings, since=old).repo.cursor == old
    new = git_repo.commit("Fix more", {"widgets/calc.py": CODE_V1, "tests/test_calc.py": TEST_V2 + "#\n"})
    again = mine_git(str(git_repo.path), settings, since=first.repo.cursor)
    assert [c.head_commit for c in again.candidates] == [new]
    assert again.rejects == []
    # an unknown cursor (history rewritten) walks everything
    assert len(mine_git(str(git_repo.path), settings, since="0" * 40).candidates) == 2
