"""The `github` source: repositories discovered on GitHub (or GitHub Enterprise), merged PRs
that resolve issues and change code and tests, mined incrementally and politely."""

from envmine.miners.github.settings import GithubSettings

__all__ = ["GithubSettings"]
