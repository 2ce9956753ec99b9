"""The run config: which sources to mine and how much, read from TOML and the command line.

```toml
[run]
max_candidates = 20          # per source

[[sources]]
kind = "pypi"                # git | pypi | npm | crates | gomod | github
name = "iniconfig"
max_releases = 8

[[sources]]
kind = "git"
url = "/path/to/repo"        # or a clonable URL

[settings.docker]
concurrency = 2
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from envmine.config_check import validate_config
from envmine.miners.github.settings import GithubSettings
from envmine.records import SourceKind
from envmine.settings import Settings, read_config

DEFAULT_CONFIG = Path(__file__).parent / "default.toml"


class SourceConfig(BaseModel):
    """One source to mine."""

    model_config = ConfigDict(extra="forbid")

    kind: SourceKind
    url: str | None = None
    """git: a local path or a clonable URL."""
    name: str | None = None
    """Registry sources: the package (PyPI, npm, crates.io) or module path (Go)."""
    repo: str | None = None
    """github: `owner/name`."""
    max_releases: int = 8
    """Registry sources: how many consecutive releases to lay out as history."""
    max_candidates: int | None = None
    language: str | None = None
    """Override language detection."""

    @model_validator(mode="after")
    def _has_target(self) -> SourceConfig:
        needed = {"git": "url", "github": "repo"}.get(self.kind, "name")
        if getattr(self, needed) in (None, ""):
            raise ValueError(f"source of kind {self.kind!r} needs `{needed}`")
        return self

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.url or self.name or self.repo}"


class RunSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_candidates: int | None = 20
    """Per source; None = no limit."""


class RunConfig(BaseModel):
    """A parsed run config (the TOML file plus command-line additions)."""

    model_config = ConfigDict(extra="forbid")

    run: RunSettings = Field(default_factory=RunSettings)
    sources: list[SourceConfig] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)
    """The `[settings]` tables (envmine.settings); resolve the home with `settings.at_home()`."""
    github: GithubSettings = Field(default_factory=GithubSettings)
    """The `[github]` table (envmine.miners.github settings)."""

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        """The TOML run config at `path`; a problem in it is a `ConfigError` naming every key."""
        return validate_config(cls, read_config(path), where=str(path))

    def flow_parameters(self) -> dict[str, Any]:
        """This config as the flow's JSON parameter: only what was given (so `[github]
        languages` still tells a search from the defaults), tokens included."""
        return self.model_dump(mode="json", exclude_unset=True, context={"reveal_secrets": True})

    def with_sources(self, extra: list[SourceConfig], max_candidates: int | None) -> RunConfig:
        """This config with command-line sources added (replacing the file's when given)."""
        data = self.model_copy(deep=True)
        if extra:
            data.sources = extra
        if max_candidates is not None:
            data.run = data.run.model_copy(update={"max_candidates": max_candidates})
        return data
