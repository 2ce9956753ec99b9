"""One calling convention for every source, so the flow can treat them alike.

Each adapter takes a `SourceConfig`, the settings, a candidate limit, the repository's stored
cursor and the run's `[github]` section, and returns a `MineResult`.
"""

from __future__ import annotations

from envmine.config import SourceConfig
from envmine.miners.github.settings import GithubSettings
from envmine.miners.history import MineResult
from envmine.settings import Settings


def mine(source: SourceConfig, settings: Settings, max_candidates: int | None,
         cursor: str | None = None, github: GithubSettings | None = None,
         on_batch=None) -> MineResult:
    """Mine `source`; registry and git sources resume from `cursor` where they support it."""
    if source.kind == "git":
        from envmine.miners.git_source import mine_git

        return mine_git(source.url, settings, max_candidates=max_candidates, language=source.language)
    if source.kind == "github":
        from envmine.miners.github.source import mine_github

        return mine_github(source.repo, settings, github or GithubSettings(), cursor, max_candidates,
                           on_batch=on_batch)
    from envmine.miners.registry import mine_package

    return mine_package(source.kind, source.name, settings, max_releases=source.max_releases,
                        max_candidates=max_candidates)
