"""A second Docker engine on this machine, for the multi-host tests: its own `dockerd` with its
own data root, exec root, pid file, socket and bridge, beside the default engine (which it
never touches: another socket, another bridge, other folders).

Needs root and Debian's docker.io (as the default engine does). The bridge `envmine-br2`
(172.31.7.1/24) is made once and left for the next session; the engine manages its own
iptables rules for it, as a second engine on any Docker host does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import docker

from envmine.settings import DockerHost

SOCKET = "/run/envmine-dockerd2.sock"
BRIDGE, BRIDGE_CIDR = "envmine-br2", "172.31.7.1/24"
START_S = 60


class SecondEngine:
    """A `dockerd` this test session started; `kill` is a crash, `stop` a clean shutdown."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="envmine-dockerd2-"))
        self.host = DockerHost(url=f"unix://{SOCKET}")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        _ensure_bridge()
        args = ["dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
                "--pidfile", str(self.root / "dockerd.pid"), "-H", self.host.url, "--bridge", BRIDGE]
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115 - the engine writes it while it runs
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"second dockerd exited: {self.log_tail()}")
            try:
                docker.DockerClient(base_url=self.host.url, version="auto", timeout=5).ping()
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        raise RuntimeError(f"second dockerd did not answer in {START_S}s: {self.log_tail()}")

    def ensure_up(self) -> None:
        """Start it again when an earlier test crashed it (`kill`), its containers removed, so
        each test finds a live engine that runs nothing."""
        if self.proc and self.proc.poll() is None:
            return
        self.start()
        for container in docker.DockerClient(base_url=self.host.url, version="auto", timeout=60).containers.list(all=True):
            container.remove(force=True)

    def kill(self) -> None:
        """SIGKILL the engine, as a crashed host: its socket stops answering at once."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Remove its containers and shut it down cleanly (restarting it after a `kill`), then
        remove its folders."""
        if not self.proc or self.proc.poll() is not None:
            self.start()  # a killed engine recovers its containers' state on restart
        engine = docker.DockerClient(base_url=self.host.url, version="auto", timeout=60)
        for container in engine.containers.list(all=True):
            container.remove(force=True)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        for pid in _processes_under(self.root):  # shims a killed engine's containerd left behind
            os.kill(pid, signal.SIGKILL)
        for folder in ("exec", "data"):  # the engine mounts its own roots
            subprocess.run(["umount", "-R", "-l", str(self.root / folder)], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self) -> str:
        try:
            return (self.root / "dockerd.log").read_text()[-2000:]
        except OSError:
            return ""


def _processes_under(root: Path) -> list[int]:
    """Processes whose command line names `root` (this engine's containerd and shims)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(root) in cmdline.read_bytes().decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except (OSError, ValueError):
            continue
    return [pid for pid in found if pid != os.getpid()]


def _ensure_bridge() -> None:
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode == 0:
        return
    for cmd in (["ip", "link", "add", BRIDGE, "type", "bridge"], ["ip", "addr", "add", BRIDGE_CIDR, "dev", BRIDGE],
                ["ip", "link", "set", BRIDGE, "up"]):
        subprocess.run(cmd, check=True, capture_output=True)


def why_not() -> str:
    """Why no second engine can run here ("" when one can)."""
    if os.geteuid() != 0:
        return "starting a second dockerd needs root"
    missing = [tool for tool in ("dockerd", "ip") if shutil.which(tool) is None]
    return f"missing {', '.join(missing)}" if missing else ""
