"""Builds run hostile code: a repository's setup.py must not reach the host's loopback, and
how the dependency cutoff went is recorded. Real Docker builds of a real Python project."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from envmine.builders import engine
from envmine.builders.build import build_env
from envmine.builders.plan import plan_env
from envmine.reasons import Reason
from envmine.records import BuildStatus, Candidate, EnvSpec
from envmine.settings import DockerSettings, Settings

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
# The hostile part: the project's own setup.py, run by `pip install -e .` in the task layer. It
# tries every address of the host (a listener on 0.0.0.0 answers on each) and its own gateway.
SETUP_PY = """\
import socket
from setuptools import setup

def gateway():
    for line in open("/proc/net/route").read().splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            return socket.inet_ntoa(bytes.fromhex(fields[2])[::-1])
    return "no-gateway"

results = []
for host in [*{hosts}, gateway()]:
    try:
        socket.create_connection((host, {port}), timeout=3).close()
        results.append(f"{{host}} reached")
    except OSError as exc:
        results.append(f"{{host}} blocked: {{exc}}")
with open("/opt/envmine/egress-probe.txt", "w") as out:
    out.write("\\n".join(results))
setup()
"""
# A setup.py that fills the disk while the image builds.
SETUP_FILL = """\
from setuptools import setup

with open("/testbed/fill.bin", "wb") as out:
    for _ in range(3 * 1024):
        out.write(b"0" * (1 << 20))
setup()
"""


def _probe_repo(root: Path, port: int, git, setup_py: str = SETUP_PY, hosts: list[str] = ()) -> tuple[Path, str]:
    repo = root / "probe"
    files = {"pyproject.toml": PYPROJECT, "setup.py": setup_py.format(port=port, hosts=list(hosts)),
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


def test_setup_py_cannot_reach_the_host_loopback_and_the_cutoff_is_recorded(listener, tmp_path, host_addresses):
    repo, sha = _probe_repo(tmp_path, listener.port, _git, hosts=host_addresses)
    settings = Settings(home=tmp_path / "home")
    spec = plan_env(_candidate(repo, sha, datetime(2026, 1, 1, tzinfo=timezone.utc), 1), settings)
    assert isinstance(spec, EnvSpec), spec
    builds, reject = build_env(spec, settings)
    try:
        assert reject is None, reject
        probe = engine.read_image_file(spec.image, "/opt/envmine/egress-probe.txt")
        assert probe is not None, "setup.py did not run"
        lines = probe.decode().splitlines()
        tried = [line.split()[0] for line in lines]
        assert {"127.0.0.1", "172.17.0.1"} <= set(tried) and len(tried) == len(host_addresses) + 1, lines
        assert "no-gateway" not in tried
        assert all(" blocked: " in line for line in lines), lines  # and it failed to connect to any
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


def test_a_setup_py_writing_3_gib_stops_the_build_as_disk_full(tmp_path, listener):
    repo, sha = _probe_repo(tmp_path, listener.port, _git, SETUP_FILL)
    settings = Settings(home=tmp_path / "home", docker=DockerSettings(build_disk="1g"))
    spec = plan_env(_candidate(repo, sha, datetime(2026, 1, 1, tzinfo=timezone.utc), 3), settings)
    assert isinstance(spec, EnvSpec), spec
    builds, reject = build_env(spec, settings)
    try:
        assert reject is not None and reject.reason == Reason.disk_full, reject
        assert builds[-1].status == BuildStatus.failed and builds[-1].reason == Reason.disk_full
        assert engine.DISK_LIMIT_ERROR in builds[-1].log
        assert not engine.image_exists(spec.image)
    finally:
        engine.remove_image(spec.image)
