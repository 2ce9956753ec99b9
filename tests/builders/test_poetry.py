"""Poetry constraints and tables as PEP 508 requirements."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement

from envmine.languages.hooks.poetry import poetry_constraint, poetry_groups, poetry_requirements


@pytest.mark.parametrize("constraint, specifier", [
    ("^1.2.3", ">=1.2.3,<2"), ("^0.2.3", ">=0.2.3,<0.3"), ("^0.0.3", ">=0.0.3,<0.0.4"), ("^2", ">=2,<3"),
    ("~1.2.3", ">=1.2.3,<1.3"), ("~1", ">=1,<2"), ("*", ""), ("1.2.3", "==1.2.3"),
    (">=1.0,<2.0", ">=1.0,<2.0"), (">= 1.0", ">=1.0"), ("~=1.4", "~=1.4"),
])
def test_poetry_constraint(constraint, specifier):
    assert poetry_constraint(constraint) == specifier


def test_poetry_requirements_markers_extras_and_skips():
    table = {
        "python": "^3.8",
        "requests": "^2.28",
        "black": {"version": "^23", "optional": True},
        "numpy": [{"version": "^1.24", "python": ">=3.9"}, {"version": "^1.21", "python": "<3.9"}],
        "uvicorn": {"version": "^0.20", "extras": ["standard"]},
        "local": {"path": "../local", "develop": True},
        "x": {"version": "*", "markers": 'sys_platform == "linux"'},
    }
    reqs, unreachable = poetry_requirements(table)
    assert reqs == ["requests>=2.28,<3", 'numpy>=1.24,<2; python_version >= "3.9"',
                    'numpy>=1.21,<2; python_version < "3.9"', "uvicorn[standard]>=0.20,<0.21",
                    'x; sys_platform == "linux"']
    assert unreachable == []
    assert all(Requirement(r) for r in reqs)


def test_poetry_groups_include_old_dev_dependencies():
    poetry = {"group": {"test": {"dependencies": {"pytest": "*"}}}, "dev-dependencies": {"mock": "*"}}
    assert poetry_groups(poetry) == {"test": {"pytest": "*"}, "dev": {"mock": "*"}}
