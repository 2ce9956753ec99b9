"""Environment step latency against a raw `docker exec` of the same command.

    python bench/rl_step_latency.py [--image IMAGE] [--n 30]

Starts one sandbox through the RL environment, then times (a) `DockerEnvironment.step` of a
bash tool call, (b) the Docker SDK's exec of the same command line, (c) the `docker exec`
CLI. Default image: the RL tests' task image (built if missing).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time

from envmine.records import TaskInstance
from envmine.rl.env import DockerEnvironment
from envmine.rl.types import ToolCall
from envmine.settings import Settings

COMMAND = "ls -la /testbed && cat /testbed/calc/ops.py | wc -l"


def _default_image() -> str:
    from envmine.testing.rl_task import build_task_image

    return build_task_image()


def _instance(image: str) -> TaskInstance:
    return TaskInstance(instance_id="bench", repo="bench/bench", base_commit="0", patch="", test_patch="",
                        problem_statement="", created_at="2024-01-01T00:00:00Z", FAIL_TO_PASS=[],
                        PASS_TO_PASS=[], language="python", image=image, eval_script="", source="git",
                        runner="pytest", test_command="true")


def _ms(samples: list[float]) -> str:
    p90 = sorted(samples)[int(len(samples) * 0.9)]
    return f"median {statistics.median(samples) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms"


async def main(image: str, n: int) -> None:
    env = DockerEnvironment(Settings.load())
    await env.reset(_instance(image))
    try:
        box = env._held.box
        cid = box.container.id
        step, sdk, cli = [], [], []
        for _ in range(n):
            t = time.perf_counter()
            await env.step(ToolCall("bash", {"command": COMMAND}))
            step.append(time.perf_counter() - t)
            t = time.perf_counter()
            box.container.exec_run(["bash", "-lc", COMMAND], user="envmine", workdir="/testbed")
            sdk.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run(["docker", "exec", "-u", "envmine", "-w", "/testbed", cid, "bash", "-lc", COMMAND],
                           capture_output=True, check=True)
            cli.append(time.perf_counter() - t)
    finally:
        await env.close()
    print(f"env.step (bash tool):  {_ms(step)}")
    print(f"raw SDK exec_run:      {_ms(sdk)}")
    print(f"raw `docker exec` CLI: {_ms(cli)}")
    print(f"ratio step / docker exec CLI: {statistics.median(step) / statistics.median(cli):.2f}")
    print(f"ratio step / SDK exec:        {statistics.median(step) / statistics.median(sdk):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="")
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.image or _default_image(), args.n))
