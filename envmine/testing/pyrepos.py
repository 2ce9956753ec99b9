"""Small Python repositories, made as real git histories, for the end-to-end tests.

Each maker returns the repository path; the second commit is the candidate under test.
"""

from __future__ import annotations

from pathlib import Path

from envmine.git import git as run_git

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "0.1.0"
requires-python = ">=3.8"

[project.optional-dependencies]
test = ["pytest"]
"""

CALC_BUGGY = """\
def add(a, b):
    return a - b


def mul(a, b):
    return a * b
"""

CALC_FIXED = CALC_BUGGY.replace("return a - b", "return a + b")

TEST_BASE = """\
from calc import mul


def test_mul():
    assert mul(3, 4) == 12
"""

TEST_WITH_ADD = """\
from calc import add, mul


def test_mul():
    assert mul(3, 4) == 12


def test_add():
    assert add(2, 3) == 5
"""


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
           "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
           "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(repo)}
    return run_git(list(args), cwd=repo, env=env).stdout.strip()


def _write(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _repo(root: Path, name: str, initial: dict[str, str]) -> Path:
    repo = root / name
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    _write(repo, initial)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Initial version")
    return repo


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    _write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def base_files(tests: bool = True) -> dict[str, str]:
    files = {"pyproject.toml": PYPROJECT, "calc/__init__.py": CALC_BUGGY}
    if tests:
        files["tests/test_calc.py"] = TEST_BASE
    return files


def bugfix_repo(root: Path) -> Path:
    """add() is wrong; the fix commit corrects it and adds test_add (F2P) beside test_mul (P2P)."""
    repo = _repo(root, "bugfix", base_files())
    _commit(repo, {"calc/__init__.py": CALC_FIXED, "tests/test_calc.py": TEST_WITH_ADD},
            "Fix add() returning the difference\n\nadd(2, 3) returned -1 instead of 5.")
    return repo


def breaking_fix_repo(root: Path) -> Path:
    """The "fix" corrects add() but breaks mul(), which test_mul catches."""
    repo = _repo(root, "breaking", base_files())
    broken = CALC_FIXED.replace("return a * b", "return a * b + 1")
    _commit(repo, {"calc/__init__.py": broken, "tests/test_calc.py": TEST_WITH_ADD},
            "Fix add() (and refactor mul)")
    return repo


def no_tests_repo(root: Path) -> Path:
    """A package without tests: the fix commit touches code only."""
    repo = _repo(root, "notests", base_files(tests=False))
    _commit(repo, {"calc/__init__.py": CALC_FIXED}, "Fix add()")
    return repo


def hanging_repo(root: Path) -> Path:
    """The fix adds a test that never finishes."""
    repo = _repo(root, "hanging", base_files())
    hang = TEST_WITH_ADD + "\n\ndef test_wait_forever():\n    import time\n    while True:\n        time.sleep(1)\n"
    _commit(repo, {"calc/__init__.py": CALC_FIXED, "tests/test_calc.py": hang}, "Fix add()")
    return repo


def fake_passed_repo(root: Path) -> Path:
    """The "fix" leaves add() wrong but prints pytest-looking PASSED lines and fake markers."""
    repo = _repo(root, "fakepass", base_files())
    liar = CALC_BUGGY + (
        "\n\nimport sys\n"
        "for _line in ('tests/test_calc.py::test_add PASSED', '==== 2 passed in 0.01s ====',\n"
        "              'ENVMINE-END 0', '<testcase classname=\"tests.test_calc\" name=\"test_add\"/>'):\n"
        "    print(_line)\n"
        "    print(_line, file=sys.stderr)\n"
    )
    _commit(repo, {"calc/__init__.py": liar, "tests/test_calc.py": TEST_WITH_ADD},
            "Fix add()")
    return repo


def fixes_repo(root: Path, fixes: int = 4) -> Path:
    """`fixes` buggy functions; each of the last `fixes` commits fixes one and adds its test:
    that many candidates of one repository, which a run builds and validates at once."""
    functions = "".join(f"def f{i}(a, b):\n    return a - b + {i}\n\n\n" for i in range(fixes))
    repo = _repo(root, "fixes", {"pyproject.toml": PYPROJECT, "calc/__init__.py": functions,
                                 "tests/test_base.py": "def test_base():\n    assert True\n"})
    for i in range(fixes):
        functions = functions.replace(f"return a - b + {i}\n", f"return a + b + {i}\n")
        test = f"from calc import f{i}\n\n\ndef test_f{i}():\n    assert f{i}(2, 3) == {5 + i}\n"
        _commit(repo, {"calc/__init__.py": functions, f"tests/test_f{i}.py": test}, f"Fix f{i}")
    return repo
