"""Settings: where the catalog lives, how sandboxes are limited, which CA bundle images trust.

Every table is a pydantic model that refuses unknown keys (envmine.config_check names the valid
ones). The one setting read from the environment is the home: `--home` > the config's
`[settings] home` > `ENVMINE_HOME` > `~/.envmine`; everything else comes from the TOML config or
the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from envmine.config_check import validate_config

DEFAULT_HOME = Path("~/.envmine").expanduser()
SYSTEM_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # Alpine, macOS
)


def home_dir(explicit: str | Path | None = None) -> Path:
    """The envmine home: `--home`, else `ENVMINE_HOME`, else `~/.envmine`."""
    raw = explicit or os.environ.get("ENVMINE_HOME") or DEFAULT_HOME
    path = Path(raw).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def system_ca_bundle() -> Path | None:
    """The host's system CA bundle, which holds a TLS-intercepting proxy's CA if there is one."""
    for candidate in SYSTEM_CA_BUNDLES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None

SIZE = r"^[0-9]+[bkmgBKMG]?$"
"""A byte count in Docker's syntax (`512m`, `10g`)."""


class Limits(BaseModel):
    """Resource limits for one sandbox (a test run or an agent episode)."""

    model_config = ConfigDict(extra="forbid")

    cpus: float = 1.0
    """CPU quota, in cores."""
    memory: str = "2g"
    """Memory limit, Docker syntax."""
    pids: int = 512
    """Process limit: stops fork bombs."""
    timeout_s: int = 600
    """Wall-clock limit for one test run."""
    disk: str = "1g"
    """Size of the writable tmpfs mounts (/tmp)."""
    writable_disk: str = Field(default="2g", pattern=SIZE)
    """Bytes the sandbox may write to its container filesystem outside /tmp (/testbed, home
    folders, the test log: the engine's writable layer); past it the sandbox is killed and the
    run is named `disk_full`. Any one file stops a byte past the larger of this and `disk`
    (a hard RLIMIT_FSIZE), whatever the watch's timing."""


class DockerHost(BaseModel):
    """One Docker engine that builds and sandboxes may go to. In TOML a plain URL string is
    short for `{url = "..."}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    """`unix:///var/run/docker.sock`, or `tcp://10.0.0.5:2376` for a remote engine."""
    tls_verify: bool = False
    """Verify a tcp engine's certificate (against `ca_cert`, else the system CAs)."""
    ca_cert: str | None = None
    """CA file that signed the tcp engine's certificate (implies `tls_verify`). The TLS files are
    read when the host is first used (a missing one is an EngineError naming the host)."""
    client_cert: str | None = None
    """Client certificate file for a tcp engine that requires one (`--tlsverify` engines)."""
    client_key: str | None = None
    """The client certificate's key file."""

    @model_validator(mode="before")
    @classmethod
    def _from_url(cls, data: Any) -> Any:
        return {"url": data} if isinstance(data, str) else data

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("unix:///", "tcp://")):
            raise ValueError(f"Docker host {value!r}: use unix:///path/to/socket or tcp://host:port")
        return value

    @model_validator(mode="after")
    def _tls_complete(self) -> DockerHost:
        if bool(self.client_cert) != bool(self.client_key):
            raise ValueError(f"Docker host {self.url}: client_cert and client_key go together")
        if (self.ca_cert or self.client_cert or self.tls_verify) and not self.url.startswith("tcp://"):
            raise ValueError(f"Docker host {self.url}: TLS settings apply to tcp:// hosts only")
        return self

    @property
    def name(self) -> str:
        """The host as reports name it: its URL."""
        return self.url


class DockerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hosts: list[DockerHost] = Field(default_factory=list)
    """Docker engines that share the builds and sandboxes, by load and with image affinity (a
    repository's tasks go where its heavy layers are); a host that stops answering hands its
    candidates to the others. Empty: the engine in DOCKER_HOST (or the default socket)."""
    registry: str | None = None
    """`host:port` of an image registry every host can push to and pull from: images move
    between hosts through it. Unset: streamed `docker save | docker load` from host to host."""

    base_suite: str = "trixie"
    """Debian suite of the locally built base image."""
    base_image: str | None = None
    """Use this registry image as the base instead of building one with debootstrap."""
    debian_mirror: str = "http://deb.debian.org/debian"
    ca_bundle: str | None = None
    """Extra CA bundle installed into every image; default: the host's system bundle."""
    build_timeout_s: int = 1800
    build_disk: str = Field(default="10g", pattern=SIZE)
    """Bytes one build step (a RUN: dependency installs, the repository's setup.py) may write;
    past it the step is killed and the build fails with `disk_full`."""
    concurrency: int = 2
    """How many Docker builds or sandboxes the flow runs at once."""
    sandbox_user: str = "envmine"
    """Non-root user that tests and agents run as."""

    def resolved_ca_bundle(self) -> Path | None:
        if self.ca_bundle:
            path = Path(self.ca_bundle).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"configured CA bundle not found: {path}")
            return path
        return system_ca_bundle()


class ValidationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: Limits = Field(default_factory=Limits)
    before_runs: int = Field(default=1, ge=1)
    """How many times the `before` state (test patch only) runs; a test that passes in some of
    them and not in others is flaky."""
    after_runs: int = Field(default=2, ge=1)
    """How many times the `after` state runs; a test that passes in some of them and not in
    others is flaky. Flaky tests are left out of FAIL_TO_PASS and PASS_TO_PASS (recorded in the
    instance's `flaky_tests`); the candidate is rejected `flaky` only when no stable
    FAIL_TO_PASS test remains."""
    max_patch_lines: int = 2000
    compile_failure_counts_as_fail: bool = True
    """SWE-bench-java's policy for compiled languages (specs with `compiled = true`): when the
    `before` run ended by itself (end marker, no timeout) with a non-zero exit code and no test
    results, the test patch did not compile (it uses an API the fix adds). Every test that
    passes in all `after` runs is then FAIL_TO_PASS, PASS_TO_PASS is empty, and the instance's
    provenance says `before: compile_failure`. The `after` runs stay as strict as ever. False
    rejects such candidates as `suite_did_not_run`, as for every other language."""


class CuratedSettings(BaseModel):
    """Which validated instances the `curated` view keeps, by the experts' judgments."""

    model_config = ConfigDict(extra="forbid")

    max_clarity: float = 1.0
    """Drop instances whose mean problem-clarity score is above this (SWE-bench Verified's
    0-3 scale, 0 = well specified; Verified drops 2 and 3)."""
    max_validity: float = 1.0
    """Drop instances whose mean test-validity score is above this (0 = the tests check
    exactly what the problem asks)."""
    min_reviewers: int = 0
    """Keep only instances at least this many reviewers judged (0: unreviewed ones stay)."""
    exclude_codes: list[str] = Field(default_factory=list)
    """Automatic quality codes that drop an instance by themselves (e.g. `statement_leaks_fix`)."""


class ReviewSettings(BaseModel):
    """The review app and the curated set it gates."""

    model_config = ConfigDict(extra="forbid")

    curated: CuratedSettings = Field(default_factory=CuratedSettings)
    statement_endpoint: str | None = None
    """OpenAI-compatible base URL that writes issue-style statements (none: template only)."""
    statement_model: str = ""
    judge_endpoint: str | None = None
    """OpenAI-compatible base URL of a judge model that answers the trajectory rubric for
    every recorded episode (its answers are annotations by `judge:<model>`)."""
    judge_model: str = ""


class CatalogSettings(BaseModel):
    """Where the catalog keeps its metadata and its Parquet data, and how the flow batches its
    writes. The default (both unset) is the embedded catalog: SQLite metadata and Parquet files
    in the home's `catalog/` folder. Credentials never go here: PostgreSQL reads `PGPASSWORD`
    (or `~/.pgpass`), the object store `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
    `AWS_SESSION_TOKEN` from the environment."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    metadata: str | None = None
    """PostgreSQL metadata database shared by several writers, as a libpq URL
    (`postgresql://envmine@db.internal:5432/envmine`, no password); unset: SQLite in the home."""
    data: str | None = None
    """Where the Parquet files go: `s3://bucket/prefix` on any S3-compatible store; unset: the
    catalog folder's `data/`."""
    endpoint_url: str | None = None
    """The object store's endpoint (`http://127.0.0.1:9000`); unset: AWS S3."""
    region: str = "us-east-1"
    batch_outcomes: int = Field(default=256, ge=1)
    """The flow writes its outcomes to the lake in batches of this many (each one is durable
    in the local spool as soon as the flow has it)."""
    batch_seconds: float = Field(default=2.0, gt=0)
    """... or when the oldest spooled outcome is this old, whichever comes first."""
    compact_every_s: float = Field(default=900.0, gt=0)
    """During a run, fold inlined rows and small files into Parquet at most this often (and
    always once after the run)."""

    @field_validator("metadata")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value is None:
            return value
        url = urlsplit(value)
        if url.scheme not in ("postgresql", "postgres"):
            raise ValueError("catalog metadata must be a postgresql:// URL")
        if url.password is not None or "password=" in (url.query or "").lower():
            raise ValueError("catalog metadata URL must not hold a password: set PGPASSWORD or use ~/.pgpass")
        return value

    @field_validator("data")
    @classmethod
    def _object_store(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("s3://") and len(value) > len("s3://")):
            raise ValueError("catalog data must be an s3://bucket/prefix URL")
        return value


class ExecutorSettings(BaseModel):
    """Where the flow's build-and-validate tasks run: threads of the run's own process, or the
    workers of a Ray or Dask cluster. The catalog is always written by the run's process."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "ray", "dask"] = "local"
    """`local`: a thread pool (as many threads as `docker.concurrency`); `ray`: Prefect's
    RayTaskRunner (`prefect-ray`); `dask`: Prefect's DaskTaskRunner (`prefect-dask`). Ray and
    Dask need `pip install 'envmine[distributed]'`."""
    address: str | None = None
    """The cluster to join: Ray's head (`127.0.0.1:6379`, or `ray://host:10001` for Ray
    Client), Dask's scheduler (`tcp://127.0.0.1:8786`). Unset: a throwaway cluster on this
    machine, started for the run and stopped after it."""
    connect_timeout_s: float = Field(default=10.0, gt=0)
    """How long to wait for the cluster's address to answer before the run gives up."""


class Settings(BaseModel):
    """Everything a run needs besides its sources."""

    # Errors name the key and the problem, never the value (a catalog URL may hold a password).
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    home: Path = Field(default_factory=home_dir)
    docker: DockerSettings = Field(default_factory=DockerSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)

    @property
    def catalog_dir(self) -> Path:
        return self.home / "catalog"

    @property
    def cache_dir(self) -> Path:
        """Clones, downloaded releases and build contexts shared by all runs."""
        return self.home / "cache"

    @classmethod
    def load(cls, config: dict[str, Any] | None = None, home: str | Path | None = None) -> Settings:
        """Settings from a parsed TOML config's `[settings]` table, with `home` resolved."""
        data = dict((config or {}).get("settings", {}))
        if home:
            data["home"] = home
        return validate_config(cls, data, prefix="settings").at_home()

    def at_home(self, home: str | Path | None = None) -> Settings:
        """These settings with the home resolved: `home`, else the config's, else `ENVMINE_HOME`,
        else `~/.envmine`."""
        given = self.home if "home" in self.model_fields_set else None
        return self.model_copy(update={"home": home_dir(home or given)})


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse a TOML run config; a missing or malformed file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
