"""Builds run hostile code: a repository's setup.py must not reach the host's loopback, and
how the dependency cutoff went is recorded. Real Docker builds of a real Python project."""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from envmine.builders import engine
from envmine.builders.build import build_env
from envmine.builders.plan import plan_env
from envmine.records import Candidate, EnvSpec
from envmine.settings import Settings

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "probe"
version = "0.1.0"

[project.optional-dependencies]
test = ["pytest>=7"]
"""
# The hostile part: the project's own setup.py, run by `pip install -e .` in the task layer.
SETUP_PY = """\
import socket
from setuptools import setup

try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    result = "reached"
except OSError as exc:
    result = f"blocked: {{exc}}"
with open("/opt/envmine/egress-probe.txt", "w") as out:
    out.write(result)
setup()
"""


class Listener:
    """A TCP listener on the host's loopback that counts who connects."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
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
    server = Listener()
    yield server
    server.close()


def _probe_repo(root: Path, port: int, git) -> tuple[Path, str]:
    repo = root / "probe"
    files = {"pyproject.toml": PYPROJECT, "setup.py": SETUP_PY.format(port=port),
             "probe/__init__.py": "def one():\n    return 1\n",
             "tests/test_probe.py": "from probe import one\n\ndef test_one():\n    assert one() == 1\n"}
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "probe")
    return repo, git(repo, "rev-parse", "HEAD")


def _git(repo: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def _candidate(repo: Path, sha: str, created: datetime, n: int) -> Candidate:
    return Candidate(instance_id=f"local__probe-{n}", repo="local/probe", source="git", repo_url=str(repo),
                     base_commit=sha, head_commit=sha, patch="", test_patch="", problem_statement="probe",
                     created_at=created, test_files=["tests/test_probe.py"])


def test_the_probe_reaches_the_listener_on_the_host_network(listener):
    """Control: the same connection from a build on the host network does reach it (the
    network mode builds had before), so the next test's "blocked" means something."""
    tag = "envmine-test/egress-control:latest"
    dockerfile = f"FROM envmine/os:{_os_tag()}\n"
    dockerfile += f'RUN timeout 5 bash -c "echo > /dev/tcp/127.0.0.1/{listener.port}" && echo REACHED || echo BLOCKED\n'
    outcome = engine.build_image(tag, dockerfile, network="host")
    engine.remove_image(tag)
    assert outcome.ok, outcome.error
    assert "REACHED" in outcome.log and len(listener.peers) == 1


def _os_tag() -> str:
    tags = [t for image in engine.client().images.list("envmine/os") for t in image.tags]
    if not tags:
        pytest.skip("no envmine/os image (run `envmine setup`)")
    return tags[0].split(":", 1)[1]


def test_setup_py_cannot_reach_the_host_loopback_and_the_cutoff_is_recorded(listener, tmp_path):
    repo, sha = _probe_repo(tmp_path, listener.port, _git)
    settings = Settings(home=tmp_path / "home")
    spec = plan_env(_candidate(repo, sha, datetime(2026, 1, 1, tzinfo=timezone.utc), 1), settings)
    assert isinstance(spec, EnvSpec), spec
    builds, reject = build_env(spec, settings)
    try:
        assert reject is None, reject
        probe = engine.read_image_file(spec.image, "/opt/envmine/egress-probe.txt")
        assert probe is not None and probe.decode().startswith("blocked"), probe  # setup.py ran, and failed to connect
        assert listener.peers == []
        repo_build = next(b for b in builds if b.layer == "repo")
        assert repo_build.dependency_resolution == "as_of"
        assert spec.toolchain["dependency_cutoff"] == "2026-02-01T00:00:00Z"
    finally:
        engine.remove_image(spec.image)


def test_a_cutoff_that_cannot_be_met_is_recorded_as_newest(tmp_path, listener):
    # Nothing satisfying setuptools>=64 and pytest>=7 was uploaded before 2012: pip falls back.
    repo, sha = _probe_repo(tmp_path, listener.port, _git)
    settings = Settings(home=tmp_path / "home")
    spec = plan_env(_candidate(repo, sha, datetime(2011, 6, 1, tzinfo=timezone.utc), 2), settings)
    assert isinstance(spec, EnvSpec), spec
    builds, reject = build_env(spec, settings)
    try:
        assert reject is None, reject
        repo_build = next(b for b in builds if b.layer == "repo")
        assert repo_build.dependency_resolution == "newest"
        assert listener.peers == []
    finally:
        engine.remove_image(spec.image)
