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

from envmine.records import SourceKind
from envmine.settings import read_config

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
    settings: dict[str, Any] = Field(default_factory=dict)
    github: dict[str, Any] = Field(default_factory=dict)
    """The `[github]` section (envmine.miners.github settings)."""

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        try:
            return cls.model_validate(read_config(path))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc

    def with_sources(self, extra: list[SourceConfig], max_candidates: int | None) -> RunConfig:
        """This config with command-line sources added (replacing the file's when given)."""
        data = self.model_copy(deep=True)
        if extra:
            data.sources = extra
        if max_candidates is not None:
            data.run.max_candidates = max_candidates
        return data
