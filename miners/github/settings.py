"""Settings of the `github` source: the `[github]` table of a run's TOML config."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, SecretStr, SerializationInfo, field_serializer, model_validator

PERMISSIVE_LICENSES = [
    "mit", "apache-2.0", "bsd-2-clause", "bsd-3-clause", "isc", "0bsd", "unlicense", "zlib",
    "python-2.0", "bsl-1.0", "cc0-1.0",
]


class GithubSettings(BaseModel):
    """Where GitHub is, how to authenticate, which repositories to mine and how politely."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://api.github.com"
    """REST root; GitHub Enterprise Server: `https://HOST/api/v3` (GraphQL is derived from it)."""
    token_env: str = "GITHUB_TOKEN"
    """Environment variable holding one token, or several separated by commas (rotated)."""
    tokens: list[SecretStr] = Field(default_factory=list)
    """Tokens given directly (tests, programmatic use); they win over `token_env`."""
    app_id: int | None = None
    """GitHub App id; with `private_key_env` and `installation_id` the source uses the App."""
    private_key_env: str = "GITHUB_APP_PRIVATE_KEY"
    """Environment variable holding the App's PEM private key."""
    installation_id: int | None = None

    repos: list[str] = Field(default_factory=list)
    """Explicit `owner/name` list; when empty, repositories are discovered by search."""
    query: str = ""
    """Extra search qualifiers appended to the generated repository search query."""
    languages: list[str] = Field(default_factory=lambda: ["python"])
    """envmine language names to search for (and to accept)."""
    min_stars: int = 100
    licenses: list[str] = Field(default_factory=lambda: list(PERMISSIVE_LICENSES))
    """Allowed licence keys (SPDX, lower case); `["*"]` accepts any licence."""
    max_size_kb: int = 500_000
    """Repositories larger than this (GitHub's `size`, in KB) are skipped as `too_large`."""
    active_within_days: int = 365
    """Skip repositories with no push in this many days (`inactive`); 0 disables."""
    max_repos: int = 50
    """How many repositories one discovery returns."""
    max_candidates_per_repo: int | None = None

    per_page: int = 100
    pr_batch: int = 25
    """Pull requests fetched per GraphQL query."""
    request_budget: int = 5000
    """Most API requests one run (one client) may send; past it the run stops cleanly."""
    max_wait_s: float = 60.0
    """Longest single wait for a rate limit; a longer one raises `RateLimited` (retry later)."""
    retries: int = 3
    """Retries of 5xx and retryable rate-limit responses inside one call."""
    timeout_s: int = 30
    seconds_between_requests: float = 0.1
    """Spacing between one client's requests (GitHub asks integrators not to burst)."""
    min_remaining: int = 20
    """Rotate to another token when the current one has fewer requests left than this."""
    etag_cache: bool = True
    """Send conditional requests (If-None-Match) for listings, and keep the ETags on disk."""
    clone: bool = True
    """Fetch each mined repository into the shared clone cache (partial clone)."""

    @field_serializer("tokens", when_used="json")
    def _tokens_json(self, tokens: list[SecretStr], info: SerializationInfo) -> list[str]:
        """Masked in JSON, unless the dump is the flow's own parameters (`reveal_secrets`)."""
        reveal = bool((info.context or {}).get("reveal_secrets"))
        return [t.get_secret_value() if reveal else str(t) for t in tokens]

    @model_validator(mode="after")
    def _app_complete(self) -> GithubSettings:
        if (self.app_id is None) != (self.installation_id is None):
            raise ValueError("a GitHub App needs both app_id and installation_id")
        return self

    def resolved_tokens(self) -> list[str]:
        """The tokens to rotate through: `tokens`, else the comma-separated `token_env`."""
        if self.tokens:
            return [t.get_secret_value() if isinstance(t, SecretStr) else str(t) for t in self.tokens]
        raw = os.environ.get(self.token_env, "")
        return [t.strip() for t in raw.split(",") if t.strip()]

    def private_key(self) -> str:
        key = os.environ.get(self.private_key_env, "")
        if not key:
            raise ValueError(f"GitHub App private key not set: ${self.private_key_env} is empty")
        return key
