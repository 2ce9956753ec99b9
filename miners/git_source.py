"""Mine a git history: commits and pull-request merges that change both code and tests.

`mine_history` is the shared walk: the git source, the registry release histories and the
GitHub source all call it, and differ only in the `Hooks` they pass (issue texts, problem
statements, instance ids).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from envmine.languages import LanguageSpec, load_language
from envmine.reasons import Reason, Stage
from envmine.records import Candidate, Reject, Repo, SourceKind
from envmine.settings import Settings
from envmine.git import tree_files
from envmine.miners.clone import ensure_clone, normalise_source, owner_and_name, redact, sanitise
from envmine.miners.history import (
    Commit,
    GitError,
    MineResult,
    changed_paths,
    clean_message,
    closed_issues,
    default_branch,
    detect_language,
    full_diff,
    list_commits,
    pr_number,
    run_git,
)
from envmine.miners.patches import drop_files, has_code_change, split_patch


@dataclass
class Hooks:
    """What a source adds to the shared history walk; every hook is optional."""

    issue_text: Callable[[int], str | None] | None = None
    """Text (title and body) of an issue the commit closes; the GitHub source fills this.
    When it returns text, that text is the problem statement and the message the hint."""
    statement: Callable[[Commit], str | None] | None = None
    """The problem statement for a commit, replacing the message-based one (registries use
    the changelog section); "" rejects the commit as `empty_problem_statement`."""
    trivial_line: Callable[[Commit, str], bool] | None = None
    """Changed lines that are not a code change (a release's version bump)."""
    instance_suffix: Callable[[Commit], str] | None = None
    """The part of the instance id after `owner__name-`; default: the commit's sha[:10]."""
    provenance: Callable[[Commit], dict[str, str]] | None = None
    extra_test_patterns: list[str] = field(default_factory=list)
    drop_from_patch: list[str] = field(default_factory=list)
    """Regexes of paths left out of the gold patch (registries drop docs and CI files)."""


def mine_git(
    url_or_path: str,
    settings: Settings,
    max_candidates: int | None = None,
    language: str | None = None,
    *,
    hooks: Hooks | None = None,
    partial: bool = False,
    since: str | None = None,
) -> MineResult:
    """Clone (or fetch) a repository into the cache and mine its history, newest first.

    `since` (a previous run's `repo.cursor`) limits the walk to commits not reachable from it.
    """
    git_dir = ensure_clone(url_or_path, settings.cache_dir, partial=partial)
    owner, name = owner_and_name(url_or_path)
    repo = Repo(
        repo=f"{owner}/{name}",
        source=SourceKind.git,
        url=redact(normalise_source(url_or_path)),
        default_branch=default_branch(git_dir),
    )
    return mine_history(git_dir, repo, settings, max_candidates, language, hooks, since)


def mine_history(
    git_dir: Path,
    repo: Repo,
    settings: Settings,
    max_candidates: int | None = None,
    language: str | None = None,
    hooks: Hooks | None = None,
    since: str | None = None,
) -> MineResult:
    """Walk every commit reachable from HEAD of `git_dir` (and not from `since`), newest first.

    A commit (or a pull-request merge, diffed against its first parent) becomes a candidate
    when it changes tests and non-test source files; everything else gets a `Reject` with
    its reason. Commits that a PR merge brought in are covered by it (`duplicate`).
    `repo.language` and `repo.cursor` (the newest commit) are filled in. An unknown `since`
    (e.g. after a force push) walks the whole history.
    """
    hooks = hooks or Hooks()
    commits = _commits_since(git_dir, since)
    files = tree_files(git_dir) if commits else []
    repo.language = language or repo.language or detect_language(files)
    repo.cursor = commits[0].sha if commits else since
    result = MineResult(repo=repo)
    spec = load_language(repo.language)
    covered = covered_by_merges(commits)
    branches: dict[str, list[Commit]] = {}
    for commit in commits:
        if commit.sha in covered:
            branches.setdefault(covered[commit.sha], []).append(commit)
    for commit in commits:
        if max_candidates is not None and len(result.candidates) >= max_candidates:
            break
        branch = branches.get(commit.sha, [])
        outcome = _consider(git_dir, repo, spec, settings, hooks, commit, covered, branch)
        (result.candidates if isinstance(outcome, Candidate) else result.rejects).append(outcome)
    return result


def _commits_since(git_dir: Path, since: str | None) -> list[Commit]:
    if since:
        try:
            run_git(git_dir, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}")
        except GitError:
            return list_commits(git_dir)
        return list_commits(git_dir, f"{since}..HEAD")
    return list_commits(git_dir)


def covered_by_merges(commits: list[Commit]) -> dict[str, str]:
    """`{sha: merge sha}` for commits a pull-request merge brought onto the first-parent line.

    Walks each PR merge's other parents back to the first-parent line; the oldest merge that
    reaches a commit claims it.
    """
    if not commits:
        return {}
    by_sha = {c.sha: c for c in commits}
    mainline, sha = set(), commits[0].sha
    while sha in by_sha:
        mainline.add(sha)
        parents = by_sha[sha].parents
        sha = parents[0] if parents else ""
    covered: dict[str, str] = {}
    for merge in reversed(commits):
        if not merge.is_merge or pr_number(merge) is None or merge.sha in covered:
            continue
        stack = list(merge.parents[1:])
        while stack:
            sha = stack.pop()
            if sha in mainline or sha in covered or sha not in by_sha:
                continue
            covered[sha] = merge.sha
            stack.extend(by_sha[sha].parents)
    return covered


def _consider(
    git_dir: Path, repo: Repo, spec: LanguageSpec, settings: Settings, hooks: Hooks,
    commit: Commit, covered: dict[str, str], branch: list[Commit],
) -> Candidate | Reject:
    owner, name = repo.repo.split("/", 1)
    suffix = hooks.instance_suffix(commit) if hooks.instance_suffix else commit.sha[:10]
    instance_id = f"{sanitise(owner)}__{sanitise(name)}-{suffix}"

    def reject(reason: Reason, detail: str) -> Reject:
        return Reject.of(Stage.mine, reason, instance_id, f"{commit.sha[:10]}: {detail}", repo=repo.repo,
                         language=repo.language or "")

    if commit.sha in covered:
        return reject(Reason.duplicate, f"covered by pull request merge {covered[commit.sha][:10]}")
    if not commit.parents:
        return reject(Reason.root_commit, "root commit has no parent to diff against")
    if commit.is_merge and pr_number(commit) is None:
        return reject(Reason.merge_commit, f"merge without a pull request: {commit.subject[:80]}")
    base = commit.parents[0]
    paths = changed_paths(git_dir, base, commit.sha)
    tests = [p for p in paths if _is_test(p, spec, hooks)]
    code = [p for p in paths if p not in tests and PurePosixPath(p).suffix in spec.extensions]
    if not tests:
        return reject(Reason.no_test_change, f"{len(paths)} files changed, none is a test")
    if not code:
        return reject(Reason.no_code_change, f"{len(tests)} test files changed, no {spec.name} source")
    split = split_patch(full_diff(git_dir, base, commit.sha), spec, hooks.extra_test_patterns)
    if hooks.drop_from_patch:
        split.patch, dropped = drop_files(split.patch, hooks.drop_from_patch)
        split.patch_files = [p for p in split.patch_files if p not in dropped]
    trivial = (lambda line: hooks.trivial_line(commit, line)) if hooks.trivial_line else None
    if not has_code_change(split.patch, spec, trivial):
        return reject(Reason.no_code_change, "source changes are blank or version lines only")
    binary = [p for p in split.binary_files if p in split.patch_files]
    if binary:
        return reject(Reason.binary_patch, f"gold patch changes binary files: {binary[:5]}")
    lines = split.patch.count("\n")
    if lines > settings.validation.max_patch_lines:
        return reject(Reason.patch_too_large, f"gold patch has {lines} lines "
                      f"(limit {settings.validation.max_patch_lines})")
    statement, hints, issues = describe(commit, branch, hooks)
    if not statement.strip():
        return reject(Reason.empty_problem_statement, "no message, changelog or issue text")
    return Candidate(
        instance_id=instance_id, repo=repo.repo, source=repo.source, repo_url=repo.url,
        base_commit=base, head_commit=commit.sha, patch=split.patch,
        test_patch=split.test_patch, problem_statement=statement, hints_text=hints,
        created_at=commit.authored_at, language=spec.name, pr_number=pr_number(commit),
        issue_numbers=issues, patch_files=split.patch_files, test_files=split.test_files,
        provenance={"source": str(repo.source), "commit": commit.sha, "subject": commit.subject,
                    **(hooks.provenance(commit) if hooks.provenance else {})},
    )


def _is_test(path: str, spec: LanguageSpec, hooks: Hooks) -> bool:
    return spec.is_test_file(path) or any(re.search(p, path) for p in hooks.extra_test_patterns)


def describe(commit: Commit, branch: list[Commit], hooks: Hooks) -> tuple[str, str, list[int]]:
    """`(problem_statement, hints_text, issue_numbers)` for a commit or a PR merge.

    A PR merge's statement is the PR title/body GitHub writes into the merge message (after
    the `Merge pull request #N from ...` line); the merged branch's commit messages follow
    as hints, or stand in for the statement when the merge message has no body.
    """
    branch_text = "\n\n".join(
        clean_message(c.message) for c in reversed(branch) if not c.is_merge and clean_message(c.message)
    )
    if commit.is_merge:
        own = clean_message(commit.message.split("\n", 1)[1] if "\n" in commit.message else "")
        statement, hints = (own, branch_text) if own else (branch_text, "")
    else:
        statement, hints = clean_message(commit.message), ""
    issues = closed_issues(f"{commit.message}\n{branch_text}")
    if hooks.statement is not None:
        override = hooks.statement(commit)
        if override is not None:
            return override.strip(), statement, issues
    if hooks.issue_text is not None:
        texts = [t for t in (hooks.issue_text(n) for n in issues) if t and t.strip()]
        if texts:
            return "\n\n".join(t.strip() for t in texts), "\n\n".join(filter(None, [statement, hints])), issues
    return statement, hints, issues
