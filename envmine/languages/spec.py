"""The schema of a language spec and its lazy, validated registry."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

SPEC_DIR = Path(__file__).parent


class LanguageSpec(BaseModel):
    """What envmine knows about one language; see python.toml for a commented example."""

    model_config = ConfigDict(extra="forbid")

    name: str
    extensions: list[str]
    """Source file extensions, used for detection by file share and by tree-sitter."""
    detect_files: list[str] = Field(default_factory=list)
    """Manifests whose presence at the repository root marks this language."""
    runner: str
    """Default result parser (see validators.parsers)."""
    test_patterns: list[str]
    """Regular expressions over posix paths; a match makes the file a test file."""
    toolchain_packages: list[str] = Field(default_factory=list)

    @field_validator("test_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            re.compile(pattern)
        return patterns

    def is_test_file(self, path: str) -> bool:
        return any(re.search(p, path) for p in self.test_patterns)


def known_languages() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.toml"))


@cache
def load_language(name: str) -> LanguageSpec:
    """Load and validate `<name>.toml`; an unknown name's error lists the valid ones."""
    path = SPEC_DIR / f"{name}.toml"
    if not path.is_file():
        raise KeyError(f"unknown language {name!r}; known: {', '.join(known_languages())}")
    try:
        return LanguageSpec.model_validate(tomllib.loads(path.read_text()))
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ValueError(f"invalid language spec {path.name}: {exc}") from exc
