"""Maps the top-level stage folders onto subpackages of one distribution.

The folders show the pipeline (miners/, builders/, ...), but `validators`, `rl`, `flows` and
`builders` are taken on PyPI, so they install as `envmine.miners`, `envmine.builders`, ...
"""

from pathlib import Path

from setuptools import setup

STAGES = ("miners", "builders", "validators", "warehouse", "rl", "flows", "review")
ROOT = Path(__file__).parent


def _packages() -> tuple[list[str], dict[str, str]]:
    packages, package_dir = [], {"envmine": "envmine"}
    for top in ("envmine", *STAGES):
        prefix = "envmine" if top == "envmine" else f"envmine.{top}"
        if top != "envmine":
            package_dir[prefix] = top
        for init in sorted((ROOT / top).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT / top).parts
            packages.append(".".join((prefix, *rel)))
    return packages, package_dir


packages, package_dir = _packages()
setup(packages=packages, package_dir=package_dir)
