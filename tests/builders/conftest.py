"""Shared fixtures for the build stage: a tiny Python repository with three commits."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from envmine.records import Candidate

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "tinypkg"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["six>=1.16"]

[project.optional-dependencies]
test = ["pytest>=7"]
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def make_tiny_repo(root: Path) -> tuple[Path, list[str]]:
    """A git repository of `tinypkg` with three commits; returns (path, [sha1, sha2, sha3])."""
    repo = root / "tinypkg"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    shas = [
        _commit(repo, {"pyproject.toml": PYPROJECT,
                       "tinypkg/__init__.py": "def add(a, b):\n    return a - b\n",
                       "tests/test_add.py": "from tinypkg import add\n\ndef test_one():\n    assert add(1, 0) == 1\n"},
                "first"),
        _commit(repo, {"tinypkg/__init__.py": "def add(a, b):\n    return a + b\n",
                       "tests/test_add.py": "from tinypkg import add\n\ndef test_two():\n    assert add(1, 1) == 2\n"},
                "fix add"),
        _commit(repo, {"tinypkg/__init__.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
                       "tests/test_mul.py": "from tinypkg import mul\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"},
                "SECRET future commit: add mul"),
    ]
    _git(repo, "tag", "v-future")
    return repo, shas


def candidate_for(repo: Path, base: str, head: str, n: int) -> Candidate:
    return Candidate(
        instance_id=f"local__tinypkg-{n}", repo="local/tinypkg", source="git", repo_url=str(repo),
        base_commit=base, head_commit=head, patch="", test_patch="", problem_statement="fix it",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), test_files=["tests/test_add.py", "tests/conftest.py"],
    )


@pytest.fixture
def tiny_repo(tmp_path: Path) -> tuple[Path, list[str]]:
    return make_tiny_repo(tmp_path / "src")


@pytest.fixture
def make_repo():
    """`make_tiny_repo` as a fixture (test modules here are not a package)."""
    return make_tiny_repo


@pytest.fixture
def make_candidate():
    return candidate_for


@pytest.fixture
def pyproject_text() -> str:
    return PYPROJECT


@pytest.fixture(scope="session")
def docker_engine():
    """Skip cleanly when no Docker engine answers."""
    from envmine.builders import engine

    try:
        engine.client()
    except engine.EngineError as exc:
        pytest.skip(str(exc))
    return engine


@pytest.fixture(scope="session")
def tiny_envs(docker_engine, tmp_path_factory):
    """Two tasks of one repository, planned and built once per session.

    Yields `(settings, shas, [(spec, builds), (spec, builds)])`. Shared layers (base,
    toolchain, repo) stay for reuse; this session's task images are removed afterwards.
    """
    from envmine.builders.build import build_env
    from envmine.builders.plan import plan_env
    from envmine.records import EnvSpec
    from envmine.settings import Settings

    root = tmp_path_factory.mktemp("builders")
    settings = Settings(home=root / "home")
    repo, shas = make_tiny_repo(root / "src")
    built = []
    for n in (0, 1):
        spec = plan_env(candidate_for(repo, shas[n], shas[n + 1], n), settings)
        assert isinstance(spec, EnvSpec), spec
        builds, reject = build_env(spec, settings)
        assert reject is None, reject
        built.append((spec, builds))
    yield settings, shas, built
    for spec, _ in built:
        docker_engine.remove_image(spec.image)


class Listener:
    """A TCP listener on all the host's addresses (0.0.0.0) that counts who connects."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.peers: list[tuple] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer)
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener():
    """A host service a build must not reach (see `Listener`)."""
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def host_addresses() -> list[str]:
    """Every IPv4 address of this host: loopback, eth0's, each bridge's gateway (docker0, ...)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], check=True, capture_output=True, text=True).stdout
    return [line.split()[3].split("/")[0] for line in out.splitlines()]
