"""Local stand-ins for the multi-machine catalog: a throwaway PostgreSQL cluster (Debian's
`postgresql` binaries) for the metadata and an S3-compatible server (moto's server mode, from
PyPI: `pip install 'moto[server]'`) for the Parquet data.

    python -m envmine.warehouse.local_services /tmp/lake

starts both, creates the bucket, prints the `[settings.catalog]` table and the environment
to use, and keeps them running until interrupted (Ctrl-C stops and removes them).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

PG_BIN = "/usr/lib/postgresql/*/bin"
PG_USER = "envmine"
BUCKET = "envmine-lake"
# moto accepts any key pair; these are what the printed environment sets.
S3_KEYS = {"AWS_ACCESS_KEY_ID": "envmine-local", "AWS_SECRET_ACCESS_KEY": "envmine-local-secret"}


class ServiceError(RuntimeError):
    """A local service did not start."""


@dataclass
class LocalLake:
    metadata: str
    """libpq URL of the metadata database (no password: the cluster trusts local users)."""
    endpoint_url: str
    data: str
    """`s3://bucket/prefix` for the Parquet files."""

    def settings(self) -> dict[str, str]:
        return {"metadata": self.metadata, "data": self.data, "endpoint_url": self.endpoint_url}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"{PG_BIN}/{name}"))
    if not found:
        raise ServiceError("PostgreSQL is not installed: apt-get install -y postgresql")
    return found[-1]


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its binaries as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def postgres() -> Iterator[str]:
    """A fresh cluster in a new temporary folder (one the `postgres` user can reach) on a free
    port; yields its URL, stops it and removes the folder on exit."""
    root = Path(tempfile.mkdtemp(prefix="envmine-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "pgdata", free_port()
    subprocess.run(_as_postgres([pg_bin("initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
                                 "-E", "UTF8"]), check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on"
    subprocess.run(_as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l",
                                 str(root / "postgres.log"), "-w", "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """A new, empty database `name` in the cluster at `url` (PostgreSQL's `createdb`); its URL."""
    base = urlsplit(url)
    subprocess.run([pg_bin("createdb"), "-h", base.hostname, "-p", str(base.port), "-U", base.username, name],
                   check=True, capture_output=True)
    return urlunsplit(base._replace(path=f"/{name}"))


@contextmanager
def s3_server(log: Path) -> Iterator[str]:
    """moto's S3-compatible server on a free port with the bucket created; yields its URL."""
    import boto3

    port = free_port()
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_port(port, server)
        boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"the S3 server exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise ServiceError(f"the S3 server did not listen on port {port} within {timeout_s:.0f} s")


@contextmanager
def local_lake(root: Path, prefix: str = "lake") -> Iterator[LocalLake]:
    """PostgreSQL and the S3 server together, the S3 keys in this process's environment."""
    root.mkdir(parents=True, exist_ok=True)
    with postgres() as metadata, s3_server(root / "s3.log") as endpoint:
        os.environ.update(S3_KEYS)
        yield LocalLake(metadata=create_database(metadata, "envmine"), endpoint_url=endpoint,
                        data=f"s3://{BUCKET}/{prefix}")


def main(folder: str | None = None) -> None:
    root = Path(folder or tempfile.mkdtemp(prefix="envmine-lake-"))
    with local_lake(root) as lake:
        print("[settings.catalog]")
        for key, value in lake.settings().items():
            print(f'{key} = "{value}"')
        print("\n# environment of every process that opens the catalog:")
        for key, value in S3_KEYS.items():
            print(f"export {key}={value}")
        print("\n# running; Ctrl-C stops both", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main(*sys.argv[1:2])
