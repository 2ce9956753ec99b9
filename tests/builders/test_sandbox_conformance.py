"""The sandbox interface's conformance suite (builders/sandbox.py): what every backend must do,
run against each backend there is. Today: the Docker engine at the default socket, and a second
Docker engine started by the session (envmine/testing/second_engine.py) reached as a configured host. A
new backend (Kubernetes pods, ...) adds itself to BACKENDS and must pass all of it."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from base_images import base_tags  # noqa: F401 (a fixture)

from envmine.builders import engine, hosts
from envmine.builders.sandbox import Backend, EngineError, sandbox
from envmine.settings import Limits

pytestmark = pytest.mark.docker
BACKENDS = ["docker", "docker-second-host"]
USER = "envmine"


@pytest.fixture(params=BACKENDS)
def backend(request, base_tags) -> Backend:
    if request.param == "docker":
        return engine.DockerBackend()
    second = request.getfixturevalue("second_engine")
    with engine.on_host(second.host):
        present = engine.image_exists(base_tags[-1])
    if not present:
        hosts.move_images(base_tags, None, second.host)
    return engine.DockerBackend(second.host)


@pytest.fixture
def image(base_tags) -> str:
    return base_tags[-1]


def test_exec_returns_exit_codes_and_output_and_runs_as_the_sandbox_user(backend, image):
    with sandbox(image, Limits(), user=USER, backend=backend) as box:
        result = box.exec("echo out; echo err >&2; id -un; pwd; echo $GREETING; exit 3",
                          workdir="/tmp", env={"GREETING": "hello"})
        assert (result.exit_code, result.timed_out) == (3, False)
        words = result.output.split()  # stdout and stderr both (stderr may land anywhere)
        assert "err" in words and [w for w in words if w != "err"] == ["out", USER, "/tmp", "hello"]
        assert box.exec("id -u", user="root", workdir="/").output.strip() == "0"


def test_exec_past_its_timeout_is_killed_and_says_so(backend, image):
    with sandbox(image, Limits(), user=USER, backend=backend) as box:
        result = box.exec("echo started; sleep 60; echo never", timeout_s=2, workdir="/")
    assert result.timed_out and result.exit_code == 124
    assert "started" in result.output and "never" not in result.output
    assert result.duration_s < 15


def test_files_round_trip_text_and_binary_and_missing_files_are_none(backend, image):
    binary = bytes(range(256)) * 1000
    with sandbox(image, Limits(), user=USER, backend=backend) as box:
        box.write_file("/root/note.txt", "héllo\n")
        box.write_file("/root/blob.bin", binary, mode=0o600)
        assert box.read_file("/root/note.txt") == "héllo\n".encode()
        assert box.read_file("/root/blob.bin") == binary
        listing = box.exec("stat -c '%a %U' /root/blob.bin", user="root", workdir="/").output.split()
        assert listing == ["600", "root"]
        assert box.exec("cat /root/blob.bin", workdir="/").exit_code != 0  # root-only to the sandbox user
        assert box.read_file("/root/missing") is None
        assert box.read_file("/root") is None  # a folder is not a file
        assert box.exec("cmp /root/blob.bin /root/blob.bin", user="root", workdir="/").exit_code == 0


def test_memory_limit_kills_what_exceeds_it(backend, image):
    with sandbox(image, Limits(memory="64m"), user=USER, backend=backend) as box:
        result = box.exec("head -c 300m /dev/zero | tail > /dev/null", workdir="/")
        assert result.exit_code == 137
        assert box.exec("echo alive", workdir="/").output.strip() == "alive"  # the sandbox survives


def test_writing_past_the_writable_disk_is_disk_full_and_a_neighbour_is_left_alone(backend, image):
    """Three sandboxes at once: the one that writes 4 GiB under a 256 MiB writable disk is
    stopped and says `disk_full`, its file no larger than the limit and a byte, whether the
    sandbox was killed before the command ended or after; the two that write 8 MiB carry on and
    say nothing."""
    limits = Limits(writable_disk="256m", disk="64m")  # one file may reach the larger of the two
    with sandbox(image, limits, user=USER, backend=backend) as flood, \
            sandbox(image, limits, user=USER, backend=backend) as calm, \
            sandbox(image, limits, user=USER, backend=backend) as other:
        small = "dd if=/dev/zero of=/home/envmine/small bs=1M count=8 status=none && sleep 2 && echo kept"
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda job: job[0].exec(job[1], timeout_s=120, workdir="/"), [
                (flood, "dd if=/dev/zero of=/home/envmine/big bs=1M count=4096 status=none; "
                        "echo wrote $(stat -c %s /home/envmine/big)"),
                (calm, small), (other, small)]))
        flooded, *kept = results
        assert flooded.limit == "disk_full"
        assert all(int(n) <= (256 << 20) + 1 for n in re.findall(r"wrote (\d+)", flooded.output)), flooded.output
        assert [(r.limit, r.exit_code, r.output.strip()) for r in kept] == [("", 0, "kept")] * 2
        assert calm.exec("echo still here", workdir="/").output.strip() == "still here"
        assert flood.exec("echo never", workdir="/").limit == "disk_full"  # stays stopped


def test_pids_limit_stops_a_fork_bomb(backend, image):
    # xargs forks until the limit refuses; the count afterwards uses shell builtins only (a
    # refused fork would make bash retry for half a minute)
    bomb = ("seq 200 | xargs -P 200 -I{} sleep 30 2>/dev/null & "
            "while [ $SECONDS -lt 2 ]; do :; done; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n")
    with sandbox(image, Limits(pids=32), user=USER, backend=backend) as box:
        result = box.exec(bomb, timeout_s=60, workdir="/")
    assert 20 <= int(result.output.split()[-1]) <= 32, result.output
    assert result.duration_s < 20


def test_no_network_unless_asked(backend, image):
    with sandbox(image, Limits(), user=USER, backend=backend) as box:
        assert box.exec("ls /sys/class/net", workdir="/").output.split() == ["lo"]
    with sandbox(image, Limits(), user=USER, network=True, backend=backend) as box:
        assert "eth0" in box.exec("ls /sys/class/net", workdir="/").output.split()


def test_a_sandbox_is_removed_when_its_block_raises(backend, image):
    with pytest.raises(ValueError), sandbox(image, Limits(), user=USER, backend=backend) as box:
        assert box.exec("true", workdir="/").exit_code == 0
        raise ValueError("the caller failed")
    with pytest.raises(EngineError):
        box.exec("true", workdir="/")
    box.close()  # idempotent


def test_a_missing_image_is_an_engine_error(backend):
    with pytest.raises(EngineError), sandbox(f"envmine-test/missing:{uuid.uuid4().hex[:8]}", Limits(),
                                             backend=backend):
        pass


def test_remove_run_removes_that_runs_sandboxes_only(backend, image):
    ours, theirs = f"conformance-{uuid.uuid4().hex[:8]}", f"conformance-{uuid.uuid4().hex[:8]}"
    engine.set_run_id(theirs)
    other = backend.start(image, Limits(), USER)
    engine.set_run_id(ours)
    try:
        box = backend.start(image, Limits(), USER)
        assert len(backend.remove_run(ours)) == 1
        with pytest.raises(EngineError):
            box.exec("true", workdir="/")
        assert other.exec("echo still", workdir="/").output.strip() == "still"
    finally:
        engine.set_run_id("")
        other.close()
