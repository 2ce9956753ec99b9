"""What a task's patches touch: the functions and classes the gold patch changes, and the
tests the test patch adds or changes (tree-sitter).

Read from the clone cache at the task's base commit; a file the grammar cannot parse, or a
language without a grammar, leaves the list empty rather than failing the task.
"""

from __future__ import annotations

import logging

from envmine.builders.checkout import read_files
from envmine.code import changed_symbols, test_functions_in_diff
from envmine.code.diffs import apply, hunks
from envmine.miners.clone import CloneError, ensure_clone
from envmine.miners.patches import file_diffs
from envmine.records import Candidate
from envmine.settings import Settings

log = logging.getLogger(__name__)


def modified_functions(candidate: Candidate, settings: Settings) -> list[str]:
    """`path::Class.method` of every definition the gold patch changes, adds or removes."""
    try:
        mirror = ensure_clone(candidate.repo_url, settings.cache_dir, needs=candidate.base_commit)
    except CloneError as exc:
        log.warning("%s: no clone to read symbols from: %s", candidate.instance_id, exc)
        return []
    paths = sorted({fd.old_path for fd in file_diffs(candidate.patch) if fd.old_path})
    before = read_files(mirror, candidate.base_commit, paths)
    try:
        return changed_symbols(candidate.patch, before, candidate.language)
    except (KeyError, ValueError) as exc:
        log.warning("%s: symbols not mapped: %s", candidate.instance_id, exc)
        return []


def changed_tests(candidate: Candidate, settings: Settings) -> list[str]:
    """`path::Class.test` of every test the test patch adds or changes (the files rebuilt from
    the base commit and the patch, so any source's candidate works)."""
    try:
        mirror = ensure_clone(candidate.repo_url, settings.cache_dir, needs=candidate.base_commit)
    except CloneError as exc:
        log.warning("%s: no clone to read tests from: %s", candidate.instance_id, exc)
        return []
    changed = [fd for fd in file_diffs(candidate.test_patch) if fd.old_path and not fd.binary]
    before = read_files(mirror, candidate.base_commit, sorted({fd.old_path for fd in changed}))
    try:
        after = {fd.path: apply(before[fd.old_path], hunks(fd.text)) for fd in changed if fd.old_path in before}
        return test_functions_in_diff(candidate.test_patch, after, candidate.language)
    except (KeyError, ValueError) as exc:
        log.warning("%s: tests not mapped: %s", candidate.instance_id, exc)
        return []
