"""The shared clone cache: bare mirrors, idempotent fetches, clear errors."""

from __future__ import annotations

import subprocess

import pytest

from envmine.miners.clone import CloneError, clone_path, ensure_clone, owner_and_name, redact


def _git(path, *args):
    return subprocess.run(["git", "--git-dir", str(path), *args], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_mirror_is_cloned_once_and_fetched_again(git_repo, tmp_path):
    first = git_repo.commit("one", {"a.py": "1\n"})
    cache = tmp_path / "cache"
    mirror = ensure_clone(str(git_repo.path), cache)
    assert mirror == clone_path(str(git_repo.path), cache)
    assert mirror.parent == cache / "repos"
    assert mirror.name.startswith("acme__widgets-") and mirror.name.endswith(".git")
    assert _git(mirror, "rev-parse", "--is-bare-repository") == "true"
    assert _git(mirror, "rev-parse", "main") == first

    second = git_repo.commit("two", {"a.py": "2\n"})
    git_repo.git("tag", "v2")
    assert ensure_clone(str(git_repo.path), cache) == mirror
    assert _git(mirror, "rev-parse", "main") == second
    assert _git(mirror, "rev-parse", "v2^{commit}") == second


def test_a_mirror_that_holds_the_needed_commit_is_not_fetched(git_repo, tmp_path):
    first = git_repo.commit("one", {"a.py": "1\n"})
    cache, source = tmp_path / "cache", f"file://{git_repo.path}"
    mirror = ensure_clone(source, cache)
    second = git_repo.commit("two", {"a.py": "2\n"})
    git_repo.path.rename(tmp_path / "away")  # any fetch now fails
    assert ensure_clone(source, cache, needs=first) == mirror  # held: not fetched
    assert _git(mirror, "rev-parse", "main") == first
    with pytest.raises(CloneError, match="failed"):  # not held: fetched, and the fetch fails
        ensure_clone(source, cache, needs=second)
    (tmp_path / "away").rename(git_repo.path)
    assert ensure_clone(source, cache, needs=second) == mirror
    assert _git(mirror, "rev-parse", "main") == second


def test_partial_clone_of_a_file_url(git_repo, tmp_path):
    sha = git_repo.commit("one", {"a.py": "1\n"})
    mirror = ensure_clone(f"file://{git_repo.path}", tmp_path / "cache", partial=True)
    assert _git(mirror, "rev-parse", "HEAD") == sha
    assert _git(mirror, "config", "remote.origin.promisor") == "true"
    assert _git(mirror, "show", f"{sha}:a.py") == "1"


def test_missing_path_and_bad_url_raise_clone_error(tmp_path):
    with pytest.raises(CloneError, match="no such repository"):
        ensure_clone(str(tmp_path / "nope"), tmp_path / "cache")
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    with pytest.raises(CloneError, match="git clone of .* failed"):
        ensure_clone(str(not_a_repo), tmp_path / "cache")
    # a failed clone leaves nothing behind that a later call would mistake for a mirror
    assert not clone_path(str(not_a_repo), tmp_path / "cache").exists()


def test_errors_never_show_credentials(tmp_path):
    with pytest.raises(CloneError) as err:
        ensure_clone("http://user:s3cret@127.0.0.1:9/acme/widgets.git", tmp_path / "cache",
                     timeout_s=30)
    assert "s3cret" not in str(err.value)
    assert "127.0.0.1:9/acme/widgets.git" in str(err.value)


def test_names_from_urls_and_paths(tmp_path):
    assert owner_and_name("https://github.com/pallets/click.git") == ("pallets", "click")
    assert owner_and_name("git@github.com:psf/requests.git") == ("psf", "requests")
    assert owner_and_name(str(tmp_path / "my org" / "my repo")) == ("my-org", "my-repo")
    assert redact("https://tok:x-oauth@github.com/a/b") == "https://github.com/a/b"
    # same owner/name on two hosts: two mirrors
    a = clone_path("https://github.com/a/b", tmp_path)
    b = clone_path("https://gitlab.com/a/b", tmp_path)
    assert a != b and a.name.startswith("a__b-") and b.name.startswith("a__b-")
