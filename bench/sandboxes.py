"""Sandboxes started and finished per 10 s: envmine's sandbox interface against a raw
`docker run --rm` loop of the same image and command, with and without a warm pool, on one
Docker engine and on two; and a tiny pipeline's run time on one engine and on two.

    .venv/bin/python bench/sandboxes.py [--seconds 10] [--workers 4] [--rounds 2] [--pipeline] [--one-engine] [--cpu N]

Every mode runs `--workers` loops at once for `--seconds` and counts the sandboxes that
finished inside the window (a sandbox: start from the image, run the command, remove), in
rounds that alternate the modes, so that a busy moment on this shared machine lands on all of
them alike. The image is envmine's base layer, the command `true`:
- `raw docker run`: `docker run --rm --network none IMAGE true`, the CLI, one process a run;
- `envmine`: `sandbox(IMAGE, Limits())` then `exec("true")` (limits, labels, no network,
  non-root user, the container removed afterwards) through the Docker backend;
- `envmine + warm pool`: rl.env.WarmPool holding `--workers` started sandboxes; each loop takes
  one, runs the command, removes it, while the pool starts its replacement in the background
  (its starts count against the same engine);
- `... 2 engines`: the same loops spread half and half over the default engine and a second
  dockerd started for the run (envmine/testing/second_engine.py; needs root).
`--pipeline`: the real flow over a tiny input (one small git repository whose last 4 commits
are 4 candidates, validated at once, one `after` run each) with no hosts configured (the
default: one engine) and with two hosts, each in a fresh home (image layers already built stay
cached on the engines, as they would for a rerun).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from envmine.builders import engine, hosts
from envmine.builders.sandbox import sandbox
from envmine.settings import DockerHost, Limits

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="envmine-bench-prefect-"))  # not ~/.prefect
DEFAULT = DockerHost(url="unix:///var/run/docker.sock")
COMMAND = "true"


def image_tag() -> str:
    """envmine's base layer (bash, coreutils, the sandbox user), built if missing."""
    from envmine.builders.base import base_layer, ensure_base_image, read_ca_bundle
    from envmine.settings import Settings

    settings = Settings()
    ensure_base_image(settings)
    layer = base_layer(settings, read_ca_bundle(settings))
    if not engine.image_exists(layer.tag):
        outcome = engine.build_image(layer.tag, layer.dockerfile, layer.context_files)
        if not outcome.ok:
            raise SystemExit(f"could not build {layer.tag}: {outcome.error}")
    return layer.tag


def count_in_window(one: Callable[[int], None], workers: int, seconds: float) -> int:
    """How many `one(worker)` calls finish within `seconds`, `workers` loops at once."""
    done, lock = [0], threading.Lock()
    end = time.monotonic() + seconds

    def loop(worker: int) -> None:
        while time.monotonic() < end:
            one(worker)
            if time.monotonic() <= end:
                with lock:
                    done[0] += 1

    threads = [threading.Thread(target=loop, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0]


def raw(image: str, urls: list[str]) -> Callable[[int], None]:
    def one(worker: int) -> None:
        url = urls[worker % len(urls)]
        subprocess.run(["docker", "-H", url, "run", "--rm", "--network", "none", image, COMMAND],
                       check=True, capture_output=True)
    return one


def envmine(image: str, targets: list[DockerHost]) -> Callable[[int], None]:
    backends = [engine.DockerBackend(host) for host in targets]

    def one(worker: int) -> None:
        with sandbox(image, Limits(), backend=backends[worker % len(backends)]) as box:
            assert box.exec(COMMAND, workdir="/").exit_code == 0
    return one


def warm(image: str, workers: int, seconds: float) -> int:
    """The warm-pool mode (asyncio, as the RL environment runs it)."""
    from envmine.rl.env import WarmPool

    async def run() -> int:
        pool = WarmPool(Limits(), size=workers)
        pool.fill(image)
        await pool.settle()  # the pool starts full, as after a warm-up
        done, end = 0, time.monotonic() + seconds

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < end:
                held = await pool.acquire(image)
                try:
                    await asyncio.to_thread(held.box.exec, COMMAND, 60, None, "/")
                finally:
                    await asyncio.to_thread(held.remove)
                if time.monotonic() <= end:
                    done += 1
        try:
            await asyncio.gather(*[loop() for _ in range(workers)])
        finally:
            await pool.close()
        return done

    return asyncio.run(run())


def throughput(image: str, workers: int, seconds: float, rounds: int, second: DockerHost | None) -> dict:
    modes: dict[str, Callable[[], int]] = {
        "raw docker run": lambda: count_in_window(raw(image, [DEFAULT.url]), workers, seconds),
        "envmine": lambda: count_in_window(envmine(image, [DEFAULT]), workers, seconds),
        "envmine + warm pool": lambda: warm(image, workers, seconds),
    }
    if second is not None:
        modes["raw docker run, 2 engines"] = lambda: count_in_window(raw(image, [DEFAULT.url, second.url]),
                                                                     workers, seconds)
        modes["envmine, 2 engines"] = lambda: count_in_window(envmine(image, [DEFAULT, second]), workers, seconds)
    counts: dict[str, list[int]] = {name: [] for name in modes}
    for _ in range(rounds):
        for name, measure in modes.items():
            counts[name].append(measure())
    return {name: sum(c) / len(c) * 10 / seconds for name, c in counts.items()}


def machine_busy_s() -> float:
    """CPU-seconds every process on this machine has used since boot (/proc/stat)."""
    fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def cpu_per_sandbox(image: str, count: int, rounds: int) -> dict[str, float]:
    """Milliseconds of the machine's CPU per sandbox, one at a time (engine, containerd, runc,
    the CLI or this process: everything), for the raw loop, envmine's sandbox, envmine's
    sandbox without its exec (start and remove only), and with only the disk question each exec
    ends with (`DiskWatch.check`) in its place, alternating over `rounds`."""
    backend = engine.DockerBackend()

    def no_exec(_: int) -> None:
        with sandbox(image, Limits(), backend=backend):
            pass

    def disk_question(_: int) -> None:
        with sandbox(image, Limits(), backend=backend) as box:
            assert not box.disk.check()
    modes = {"raw docker run": raw(image, [DEFAULT.url]), "envmine": envmine(image, [DEFAULT]),
             "envmine without its exec": no_exec, "envmine, its disk question instead of the exec": disk_question}
    spent: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(rounds):
        for name, one in modes.items():
            one(0)  # warm
            before = machine_busy_s()
            for _ in range(count):
                one(0)
            spent[name].append((machine_busy_s() - before) / count * 1000)
    return {name: round(sum(v) / len(v), 1) for name, v in spent.items()}


FIXES = 4


def pipeline_time(urls: list[str]) -> dict:
    """The flow over `pyrepos.fixes_repo` in a fresh home, with `urls` as the Docker hosts."""
    from envmine.testing import pyrepos

    from envmine.config import RunConfig, SourceConfig
    from envmine.flows.pipeline import run_pipeline

    work = Path(tempfile.mkdtemp(prefix="envmine-bench-sandboxes-"))
    repo = pyrepos.fixes_repo(work, FIXES)
    config = RunConfig(sources=[SourceConfig(kind="git", url=str(repo), max_candidates=FIXES)],
                       settings={"docker": {"hosts": urls, "concurrency": FIXES},
                                 "validation": {"after_runs": 1, "limits": {"timeout_s": 60}}})
    start = time.monotonic()
    counts = run_pipeline(config, home=str(work / "home"))
    return {"seconds": round(time.monotonic() - start, 1), "validated": counts["validated"],
            "candidates": counts["candidates"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="0: no throughput figures")
    parser.add_argument("--pipeline", action="store_true")
    parser.add_argument("--one-engine", action="store_true", help="skip the second dockerd")
    parser.add_argument("--cpu", type=int, default=0, metavar="N",
                        help="also the machine's CPU per sandbox, N sandboxes a mode and round, one at a time")
    args = parser.parse_args()
    image = image_tag()
    second = None
    if not args.one_engine:
        from envmine.testing.second_engine import SecondEngine

        second = SecondEngine()
        second.start()
    try:
        if second is not None:
            with engine.on_host(second.host):
                present = engine.image_exists(image)
            if not present:
                hosts.move_images([image], DEFAULT, second.host)
        report = {}
        if args.rounds:
            rates = throughput(image, args.workers, args.seconds, args.rounds, second.host if second else None)
            report = {"per_10s": {k: round(v, 1) for k, v in rates.items()},
                      "envmine_vs_raw": round(rates["envmine"] / rates["raw docker run"], 2),
                      "warm_vs_raw": round(rates["envmine + warm pool"] / rates["raw docker run"], 2)}
            print(json.dumps(report, indent=2), flush=True)
        if args.cpu:
            report["cpu_ms_per_sandbox"] = cpu_per_sandbox(image, args.cpu, max(args.rounds, 1))
            print(json.dumps(report, indent=2), flush=True)
        if args.pipeline:
            report["pipeline_1_host"] = pipeline_time([])  # the default: no hosts configured
            if second is not None:
                report["pipeline_2_hosts"] = pipeline_time([DEFAULT.url, second.host.url])
    finally:
        if second is not None:
            second.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
