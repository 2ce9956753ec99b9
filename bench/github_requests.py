"""Benchmark: GitHub API requests per candidate and per repository, and wall time to mine N
repositories, against the local fake GitHub with realistic latency and payload shapes.

    .venv/bin/python bench/github_requests.py --repos 50 --latency 0.08

Each repository gets a seeded, GitHub-like mix of closed issues and PRs: most PRs merged, some
linking issues through GitHub's closing references, some only by a keyword in the body or a
commit message, some changing code only, tests only or both, a few with diffs too large to
render. Prints one JSON object of figures (first run, then an incremental rerun).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envmine.miners.github.client import GithubClient, etag_file
from envmine.miners.github.settings import GithubSettings
from envmine.miners.github.source import mine_github
from envmine.settings import Settings
from envmine.testing.fake_github import FakeGitHub, FakeRepo
from envmine.testing.github_world import gql_issue, gql_pr, rest_item, rest_repo

TOKEN = "ghp_benchBENCHbenchBENCHbench0123456789"


def stamp(minute: int) -> str:
    day, rest = divmod(minute, 24 * 60)
    return f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T{rest // 60:02d}:{rest % 60:02d}:00Z"


def diff_for(files: list[str]) -> str:
    return "".join(
        f"diff --git a/{f} b/{f}\nindex 1111111..2222222 100644\n--- a/{f}\n+++ b/{f}\n@@ -1,3 +1,4 @@\n"
        f" a\n-b\n+c\n+d\n e\n" for f in files
    )


def make_repo(index: int, items: int, rng: random.Random) -> FakeRepo:
    name = f"org{index}/proj{index}"
    repo = FakeRepo(name, rest_repo(name, f"https://github.com/{name}.git", stars=200 + index, repo_id=index,
                                    pushed_at="2026-11-20T10:00:00Z"))
    for n in range(1, items + 1):
        minute = n * 90 + rng.randint(0, 30)
        if rng.random() < 0.35:  # a closed issue (its PR, if any, comes later)
            repo.issues[n] = gql_issue(name, n, f"Bug {n}", f"Steps to reproduce {n}.", stamp(minute),
                                       [(f"comment {k}", stamp(minute + k)) for k in range(rng.randint(0, 4))])
            repo.items.append(rest_item(name, n, f"Bug {n}", "body", stamp(minute), stamp(minute + 45)))
            continue
        merged = rng.random() < 0.8
        issues = [i for i in repo.issues if i < n]
        link = rng.random()
        target = rng.choice(issues) if issues else None
        closing = [repo.issues[target]] if target and link < 0.45 else []
        body = f"Fixes #{target}" if target and 0.45 <= link < 0.6 else "Some change."
        message = f"fix: thing\n\nCloses #{target}" if target and 0.6 <= link < 0.65 else "fix: thing"
        kind = rng.random()
        files = (["src/pkg/mod.py", "tests/test_mod.py"] if kind < 0.55 else
                 ["src/pkg/mod.py"] if kind < 0.8 else ["tests/test_mod.py"] if kind < 0.9 else ["docs/index.md"])
        repo.items.append(rest_item(name, n, f"PR {n}", body, stamp(minute), stamp(minute + 60),
                                    merged_at=stamp(minute + 50) if merged else None, labels=["bug"]))
        repo.prs[n] = gql_pr(name, n, f"PR {n}", body, created=stamp(minute), merged=stamp(minute + 50) if merged else None,
                             updated=stamp(minute + 60), base="a" * 40, head=f"{n:040d}", files=files,
                             commits=[(f"{n:040d}", message, stamp(minute + 10))], closing=closing, labels=["bug"])
        repo.diffs[n] = None if rng.random() < 0.03 else diff_for(files)
    return repo


def run(fake: FakeGitHub, names: list[str], gh: GithubSettings, settings: Settings, cursors: dict,
        workers: int) -> dict:
    """Mine every repository once (`workers` at a time, one client each, ETags kept on disk)."""
    fake.log.clear()
    quota = fake.remaining[TOKEN]
    started = time.monotonic()

    def one(name: str) -> tuple[int, int, int]:
        client = GithubClient(gh, etag_file(settings.cache_dir, gh.base_url, name))
        try:
            result = mine_github(name, settings, gh, cursor=cursors.get(name), client=client)
        finally:
            client.close()
        cursors[name] = result.repo.cursor
        return len(result.candidates), len(result.rejects), client.requests_made

    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = list(pool.map(one, names))
    wall = time.monotonic() - started
    found, rejected, counted = (sum(c[i] for c in counts) for i in range(3))
    requests = len(fake.log)
    return {
        "repos": len(names), "candidates": found, "rejects": rejected, "requests": requests,
        "quota_used": quota - fake.remaining[TOKEN], "not_modified_304": sum(c.status == 304 for c in fake.log),
        "requests_per_candidate": round(requests / found, 2) if found else None,
        "requests_per_repo": round(requests / len(names), 2), "wall_s": round(wall, 2),
        "client_counted": counted, "by_kind": by_kind(fake),
    }


def by_kind(fake: FakeGitHub) -> dict[str, int]:
    """Requests by what they fetched: repository, listing page, GraphQL batch, diff."""
    kinds = {"repository": 0, "listing": 0, "graphql": 0, "diff": 0}
    for call in fake.log:
        kind = ("graphql" if call.path == "/graphql" else "listing" if call.path.endswith("/issues")
                else "diff" if "/pulls/" in call.path else "repository")
        kinds[kind] += 1
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--items", type=int, default=120, help="closed issues + PRs per repository")
    parser.add_argument("--latency", type=float, default=0.08, help="seconds added to every response")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1, help="repositories mined at once")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    rng = random.Random(args.seed)
    fake = FakeGitHub(tokens={TOKEN: 1_000_000}, latency=args.latency)
    repos = [make_repo(i, args.items, rng) for i in range(args.repos)]
    for repo in repos:
        fake.add_repo(repo)
    base = fake.start()
    home = Path(tempfile.mkdtemp(prefix="envmine-bench-"))
    settings = Settings(home=home)
    gh = GithubSettings(base_url=base, tokens=[TOKEN], active_within_days=0, clone=False, request_budget=10**6,
                        seconds_between_requests=0)
    cursors: dict[str, str | None] = {}
    names = [r.full_name for r in repos]
    figures = {"latency_s": args.latency, "items_per_repo": args.items, "workers": args.workers}
    for label in ("first_run", "rerun_after_first", "rerun_nothing_new"):
        figures[label] = run(fake, names, gh, settings, cursors, args.workers)
    fake.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
