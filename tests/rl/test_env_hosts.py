"""RL episodes over several Docker hosts (`[settings.docker] hosts`): an episode goes to the
least loaded host that holds its task image, spills to an idler one (the image moved there)
when the holder runs SPILL more sandboxes, and is graded on the host it ran on. Two real
engines on this machine (the default one and a second dockerd)."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack

import docker
import pytest

from envmine.builders import engine, hosts
from envmine.builders.sandbox import sandbox
from envmine.rl import policies
from envmine.rl.env import DockerEnvironment
from envmine.rl.formats import get_format
from envmine.rl.perturb import setup_for
from envmine.rl.scaffold import EpisodeLimits, run_episode
from envmine.settings import DockerHost, Settings
from envmine.testing.rl_task import validated_task

pytestmark = [pytest.mark.docker, pytest.mark.slow]
DEFAULT = DockerHost(url="unix:///var/run/docker.sock")


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    return validated_task(tmp_path_factory.mktemp("task"), Settings.load(home=tmp_path_factory.mktemp("home")))


def _created_sandboxes(client: docker.DockerClient, since: float) -> int:
    events = client.events(since=int(since), until=int(time.time()) + 1, decode=True,
                           filters={"type": "container", "event": "create", "label": "envmine.sandbox=1"})
    return sum(1 for _ in events)


def test_an_episode_spills_to_the_idle_host_with_its_image_and_is_graded_there(task, second_engine, tmp_path):
    settings = Settings.load(home=tmp_path / "home")
    settings.docker.hosts = [DEFAULT, second_engine.host]
    other = docker.DockerClient(base_url=second_engine.host.url, version="auto")
    try:
        other.images.remove(task.image, force=True)
    except docker.errors.ImageNotFound:
        pass
    hosts.start_run(settings)
    assert hosts.place_image(task.image, settings) == DEFAULT  # only the default engine holds it
    since = time.time()
    with ExitStack() as busy:  # the holder now runs SPILL sandboxes more than the second engine
        for _ in range(hosts.SPILL):
            busy.enter_context(sandbox(task.image, settings.validation.limits))
        env = DockerEnvironment(settings)
        traj = asyncio.run(run_episode(env, task, policies.gold(task), get_format("minimax_m2"),
                                       setup_for(task), EpisodeLimits(max_turns=8)))
    assert traj.reward == 1.0 and traj.resolved and traj.stop_reason == "submitted", traj.error
    assert env._host == second_engine.host
    assert other.images.get(task.image).id == engine.client().images.get(task.image).id  # moved, same image
    assert _created_sandboxes(other, since) == 2  # the episode's sandbox and its grading run
    assert other.containers.list(all=True, filters={"label": "envmine.sandbox=1"}) == []
    other.images.remove(task.image, force=True)
    with pytest.raises(Exception, match="no live Docker host holds"):
        hosts.place_image("envmine-test/absent:nowhere", settings)
