"""Disk that each further task of a repository adds over the shared repository image.

Reads a catalog (e.g. after `envmine run`), and for every repository with several validated or
built tasks reports each task layer's size over its repository-environment layer, measured
from the engine (`image size(task) - image size(repo layer)`), and whether the heavy layers are
shared. Aim (issue 2): under 10 MB per further task.

    python bench/task_disk.py --home ~/.envmine
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from envmine.builders.engine import image_exists, image_size
from envmine.settings import home_dir
from envmine.warehouse.catalog import run_sql

QUERY = """
SELECT c.repo, b.instance_id, b.layer, b.image
FROM builds b JOIN candidates c USING (instance_id)
WHERE b.layer IN ('repo', 'task') AND b.status != 'failed'
ORDER BY c.repo, b.instance_id
"""


def measure(home) -> dict[str, list[tuple[str, int, str]]]:
    rows = run_sql(home_dir(home) / "catalog", QUERY).to_pylist()
    layers: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for row in rows:
        layers[(row["repo"], row["instance_id"])][row["layer"]] = row["image"]
    per_repo: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for (repo, instance), images in sorted(layers.items()):
        task, env = images.get("task"), images.get("repo")
        if not (task and env and image_exists(task) and image_exists(env)):
            continue
        per_repo[repo].append((instance, image_size(task) - image_size(env), env))
    return per_repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=None)
    args = parser.parse_args()
    per_repo = measure(args.home)
    print(f"{'repository':32} {'tasks':>5} {'repo images':>11} {'task layer MB (median / max)':>30}")
    for repo, tasks in per_repo.items():
        sizes = [added / 1e6 for _, added, _ in tasks]
        envs = len({env for *_, env in tasks})
        print(f"{repo:32} {len(tasks):>5} {envs:>11} {statistics.median(sizes):>14.2f} / {max(sizes):.2f}")
    every = [added / 1e6 for tasks in per_repo.values() for _, added, _ in tasks]
    if every:
        print(f"all tasks: median {statistics.median(every):.2f} MB, max {max(every):.2f} MB (aim < 10 MB)")


if __name__ == "__main__":
    main()
