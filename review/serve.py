"""`envmine review`: assess the catalog (quality codes, statements), then serve the app."""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from pathlib import Path

from envmine.review import auth, store
from envmine.settings import Settings
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.views import curation_sql


def review_dir(settings: Settings) -> Path:
    """Where reviewers, the signing key and an edited rubric live (`<home>/review`)."""
    path = settings.home / "review"
    path.mkdir(parents=True, exist_ok=True)
    return path


def first_reviewer_name() -> str:
    name = re.sub(r"[^a-z0-9_-]", "", getpass.getuser().lower())[:32]
    return name if auth.NAME.match(name) else "reviewer"


def add_reviewer(settings: Settings, name: str) -> str:
    return auth.Reviewers(review_dir(settings)).add(name)


def assess_all(catalog: Catalog, settings: Settings) -> dict[str, int]:
    """Quality codes and statements for every instance; with a judge configured, the judge's
    rubric answers for every episode it has not judged yet."""
    counts = store.assess(catalog, settings.review.statement_endpoint, settings.review.statement_model)
    if settings.review.judge_endpoint:
        from envmine.review.fields import load_rubric
        from envmine.rl.rubric_reward import JudgeConfig

        judge = JudgeConfig(endpoint=settings.review.judge_endpoint, model=settings.review.judge_model)
        counts["judged"] = store.judge_episodes(catalog, judge, load_rubric(review_dir(settings)))
    return counts


def serve(settings: Settings, host: str, port: int, say: Callable[[str], None] = print, assess: bool = True) -> None:
    """Open the catalog for writing, assess it, make a first reviewer if there is none, serve."""
    import uvicorn

    from envmine.review.app import create_app

    folder = review_dir(settings)
    reviewers = auth.Reviewers(folder)
    if not reviewers.names():
        name = first_reviewer_name()
        say(f"first reviewer {name!r}; token (shown once): {reviewers.add(name)}")
    with Catalog.open(settings.catalog_dir) as catalog:
        for statement in curation_sql(settings.review.curated):
            catalog.sql(statement)
        if assess:
            counts = assess_all(catalog, settings)
            say(f"assessed {counts['instances']} instances: {counts['codes']} quality codes, "
                f"{counts['statements']} statements")
        say(f"review app on http://{host}:{port}/  (reviewers: {', '.join(reviewers.names())})")
        uvicorn.run(create_app(catalog, folder), host=host, port=port, log_level="warning")
