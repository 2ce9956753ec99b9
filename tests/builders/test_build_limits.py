"""Build steps run the repository's code, so they are confined: one that writes without end is
killed at `[settings.docker] build_disk` (the build fails as `disk_full`, its step container
goes too), and none reaches a host service on any host address, while the registries answer.
Real builds on the real engine."""

from __future__ import annotations

import pytest

from envmine.builders import engine
from envmine.builders.build import failure_reason
from envmine.reasons import Reason

pytestmark = [pytest.mark.docker, pytest.mark.hostile]


def _os_image() -> str:
    tags = [t for image in engine.client().images.list("envmine/os") for t in image.tags]
    if not tags:
        pytest.skip("no envmine/os image (run `envmine setup`)")
    return tags[0]


def _build(dockerfile: str, disk: str, network: str = engine.BUILD_NETWORK):
    tag = "envmine-test/build-probe:latest"
    outcome = engine.build_image(tag, dockerfile, disk=disk, network=network)
    present = engine.image_exists(tag)
    engine.remove_image(tag)
    return outcome, present


def test_a_step_writing_3_gib_is_killed_and_named_disk_full():
    dockerfile = f"FROM {_os_image()}\nRUN dd if=/dev/zero of=/fill bs=1M count=3072 && echo WROTE-$((6*7))\n"
    outcome, present = _build(dockerfile, disk="512m")
    assert not outcome.ok and not present
    assert outcome.error.startswith(engine.DISK_LIMIT_ERROR), outcome.error
    assert "WROTE-42" not in outcome.log
    assert failure_reason("repo", outcome.error, outcome.log, "python") == Reason.disk_full
    assert outcome.duration_s < 60
    step = engine.STEP_CONTAINER.search(outcome.log).group(1)  # the killed step's container
    assert engine.client().containers.list(all=True, filters={"id": step}) == []


def test_a_step_under_the_limit_builds():
    """Control: the same step writing less than the limit builds (the watch kills only past it)."""
    dockerfile = f"FROM {_os_image()}\nRUN dd if=/dev/zero of=/fill bs=1M count=64 && echo WROTE-$((6*7))\n"
    outcome, present = _build(dockerfile, disk="512m")
    assert outcome.ok and present, outcome.error
    assert "WROTE-42" in outcome.log


def _connect_all(addresses: list[str], port: int) -> str:
    """A RUN step that connects to each address and to its own gateway (from /proc/net/route)."""
    targets = " ".join(addresses)
    return ('SHELL ["/bin/bash", "-c"]\n'
            "RUN h=$(awk '$2 == \"00000000\" {print $3; exit}' /proc/net/route);"
            " gw=$(printf '%d.%d.%d.%d' 0x${h:6:2} 0x${h:4:2} 0x${h:2:2} 0x${h:0:2});"
            f" for ip in {targets} $gw; do"
            f" timeout 3 bash -c \"echo > /dev/tcp/$ip/{port}\" && echo \"to $ip: $((1 + 1)) open\" || echo \"to $ip: shut\";"
            " done\n")


def test_docker_bridge_lets_a_build_reach_the_host(listener):
    """Control: on Docker's default bridge (what builds used before) a RUN step reaches a host
    listener through its gateway, so the next test's silence means something."""
    outcome, _ = _build(f"FROM {_os_image()}\n" + _connect_all([], listener.port), disk="1g", network="bridge")
    assert outcome.ok, outcome.error
    assert ": 2 open" in outcome.log and len(listener.peers) == 1


@pytest.mark.network
def test_a_build_step_reaches_no_host_address_but_reaches_the_registry(listener, host_addresses):
    dockerfile = f"FROM {_os_image()}\n" + _connect_all(host_addresses, listener.port)
    dockerfile += 'RUN timeout 10 bash -c "exec 3<>/dev/tcp/pypi.org/443" && echo "registry: $((6*7))"\n'
    outcome, _ = _build(dockerfile, disk="1g")
    assert outcome.ok, outcome.error
    shut = [line for line in outcome.log.splitlines() if line.endswith(": shut")]
    assert len(shut) == len(host_addresses) + 1 and ": 2 open" not in outcome.log, outcome.log[-3000:]
    assert listener.peers == []
    assert "registry: 42" in outcome.log
