"""Detection over real-shaped project files (fixtures/projects: files from public repositories)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envmine.builders.lang_env import wanted_files
from envmine.languages import load_language
from envmine.languages.hooks.python_env import (
    detect_python,
    parse_requirements_text,
    python_compatible,
    referenced_files,
)

PROJECTS = Path(__file__).parent / "fixtures" / "projects"


def project(name: str) -> dict[str, str]:
    root = PROJECTS / name
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


def test_requests_setup_py_with_variables_and_tests_require():
    env = detect_python(project("requests-2.18"))
    assert env.install_method == "setup.py"
    assert env.editable is True
    assert env.extras == ["test"]
    assert env.requirements == [
        "PySocks!=1.5.7,>=1.5.6", "certifi>=2017.4.17", "chardet<3.1.0,>=3.0.2", "idna<2.7,>=2.5",
        "pytest-cov", "pytest-httpbin==0.0.7", "pytest-mock", "pytest-xdist", "pytest>=2.8.0",
        "urllib3<1.23,>=1.21.1",
    ]
    assert env.requires_python == ">=2.6, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*"
    assert env.python_compatible is True
    assert env.classifier_max == "3.6"
    assert env.notes == ["classifiers stop at Python 3.6"]
    assert env.build_requires == ["setuptools>=64", "wheel"]


def test_flask_pyproject_prefers_tests_group_over_dev():
    env = detect_python(project("flask-3.1"))
    assert env.install_method == "pyproject"
    assert env.project_name == "Flask"
    assert env.extras == ["tests"]
    assert "ruff" not in env.requirements and "tox" not in env.requirements
    assert 'greenlet; python_version < "3.11"' in env.requirements
    assert {"asgiref", "blinker>=1.9.0", "pytest", "python-dotenv", "werkzeug>=3.1.0"} <= set(env.requirements)
    assert env.build_requires == ["flit_core<4"]
    assert env.pytest_config == "pyproject.toml"
    assert env.facts()["python_version"] == "3.13.5"


def test_flask_setup_cfg_with_setup_py_and_requirement_files():
    files = project("flask-2.0")
    assert wanted_files(load_language("python"), list(files)) == [
        "requirements/dev.txt", "requirements/docs.txt", "requirements/tests.txt",
        "requirements/typing.txt", "setup.cfg", "setup.py",
    ]
    env = detect_python(files)
    assert env.install_method == "setup.py"
    assert env.project_name == "Flask"
    assert env.requires_python == ">= 3.6"
    assert env.requirement_files == ["requirements/tests.txt"]  # tests beat dev (no sphinx)
    assert "sphinx==4.0.2" not in env.requirements
    assert {"Werkzeug>=2.0", "click>=7.1.2", "pytest==6.2.4", "blinker==1.4"} <= set(env.requirements)
    assert env.pytest_config == "setup.cfg"


def test_requires_python_excluding_debian_python_is_incompatible():
    files = {"pyproject.toml": '[project]\nname = "old"\nversion = "1"\nrequires-python = ">=3.7,<3.12"\n'}
    env = detect_python(files)
    assert env.python_compatible is False
    assert python_compatible(">=3.8", "3.13.5") is True
    assert python_compatible("!=3.13.*", "3.13.5") is False
    assert python_compatible("not a spec", "3.13.5") is True
    assert detect_python(files, suite="bookworm").python_compatible is True


def test_self_referencing_extras_expand_and_drop_the_project():
    files = {"pyproject.toml": """
[project]
name = "my-pkg"
version = "1"
dependencies = ["attrs>=22"]
[project.optional-dependencies]
tests = ["hypothesis", "pytest>=7"]
docs = ["sphinx"]
dev = ["My_Pkg[tests,docs]", "pre-commit"]
"""}
    env = detect_python(files)
    assert env.extras == ["tests"]
    assert env.requirements == ["attrs>=22", "hypothesis", "pytest>=7"]
    files["pyproject.toml"] = files["pyproject.toml"].replace("tests = ", "other = ")
    env = detect_python(files)
    assert env.extras == ["dev"]
    assert env.requirements == ["attrs>=22", "pre-commit", "pytest", "sphinx"]


def test_requirements_only_repository_is_not_editable():
    files = {"requirements.txt": "numpy>=1.20  # arrays\n-e .\n--index-url https://pypi.org/simple\n",
             "requirements-test.txt": "-r requirements.txt\npytest-mock\n"}
    env = detect_python(files)
    assert env.install_method == "requirements"
    assert env.editable is False
    assert env.requirement_files == ["requirements-test.txt", "requirements.txt"]
    assert env.requirements == ["numpy>=1.20", "pytest", "pytest-mock"]


def test_nothing_installable():
    env = detect_python({"pytest.ini": "[pytest]\n", "README.md": "hi"})
    assert env.install_method is None
    assert env.pytest_config == "pytest.ini"


def test_tox_and_nox_hints_used_when_no_test_extras():
    files = {
        "setup.py": "from setuptools import setup\nsetup(name='x', install_requires=['requests'])\n",
        "tox.ini": "[tox]\nenvlist = py3\n\n[testenv]\ndeps =\n    pytest-timeout\n    -rrequirements.txt\n"
                   "    {py3}: mock\ncommands = pytest\n",
        "noxfile.py": "import nox\n@nox.session\ndef tests(session):\n    session.install('-e', '.', 'freezegun')\n",
    }
    env = detect_python(files)
    assert env.requirements == ["freezegun", "pytest", "pytest-timeout", "requests"]


def test_dynamic_setup_py_is_marked():
    setup_py = "from setuptools import setup\nsetup(name='x', install_requires=read_reqs())\n"
    assert detect_python({"setup.py": setup_py}).dynamic_dependencies is True


def test_poetry_project_converts_constraints_and_skips_path_dependencies():
    env = detect_python(project("langchain-mongodb-0.1.4"))
    assert (env.install_method, env.editable, env.dynamic_dependencies) == ("pyproject", True, False)
    assert env.project_name == "langchain-mongodb"
    assert env.requires_python == ">=3.8.1,<4.0" and env.python_compatible
    assert env.extras == ["test"]
    assert env.build_requires == ["poetry-core>=1.0.0"]
    assert env.requirements == [
        "freezegun<2,>=1.2.2", "langchain-core<0.3,>=0.1.46", "numpy<2,>=1", "pymongo<5.0,>=4.6.1",
        "pytest-asyncio<0.22,>=0.21.1", "pytest-mock<4,>=3.10.0", "pytest-watcher<0.4,>=0.3.4",
        "pytest<8,>=7.3.0", "syrupy<5,>=4.0.2",
    ]


def test_poetry_git_dependency_is_unreachable():
    pyproject = '[tool.poetry]\nname = "n"\n[tool.poetry.dependencies]\npython = "^3.8"\n' \
                '[tool.poetry.group.test.dependencies]\npytest = "^7.3.0"\n' \
                'langchain-core = { git = "https://github.com/langchain-ai/langchain.git", subdirectory = "libs/core" }\n'
    env = detect_python({"pyproject.toml": pyproject})
    assert env.unreachable == ["langchain-core @ https://github.com/langchain-ai/langchain.git"]
    assert env.requires_python == ">=3.8,<4"


def test_setuptools_dynamic_dependencies_file_is_read():
    pyproject = '[project]\nname = "d"\nversion = "1"\ndynamic = ["dependencies"]\n' \
                '[tool.setuptools.dynamic]\ndependencies = {file = ["deps/base.in"]}\n'
    files = {"pyproject.toml": pyproject}
    assert referenced_files(files) == ["deps/base.in"]
    files["deps/base.in"] = "click\n"
    env = detect_python(files)
    assert env.requirements == ["click", "pytest"]
    assert env.dynamic_dependencies is False


def test_setup_cfg_lists_and_github_urls():
    cfg = "[metadata]\nname = c\n[options]\ninstall_requires = six, attrs>=1\n" \
          "[options.extras_require]\ntesting =\n    pytest\n    lib @ git+https://github.com/o/lib.git\n"
    env = detect_python({"setup.cfg": cfg})
    assert env.install_method == "setup.cfg" and env.editable is False
    assert env.requirements == ["attrs>=1", "lib @ git+https://github.com/o/lib.git", "pytest", "six"]
    assert env.unreachable == ["lib @ git+https://github.com/o/lib.git"]


@pytest.mark.parametrize("text, reqs, includes", [
    ("a==1\n# c\n\n-r other.txt\n--requirement=more.txt\nb ; python_version<'3'\n",
     ["a==1", "b ; python_version<'3'"], ["other.txt", "more.txt"]),
    ("-c constraints.txt\n.\n-e .[test]\n", [], []),
])
def test_parse_requirements_text(text, reqs, includes):
    assert parse_requirements_text(text) == (reqs, includes)


def test_setup_py_string_and_tuple_values():
    setup_py = (
        "from setuptools import setup\n"
        "TESTS = ('pytest', 'hypothesis')\n"
        "setup(name='s', install_requires='six\\nattrs', extras_require={'testing': TESTS},\n"
        "      classifiers=('Programming Language :: Python :: 3.14',))\n"
    )
    env = detect_python({"setup.py": setup_py})
    assert env.extras == ["testing"]
    assert env.requirements == ["attrs", "hypothesis", "pytest", "six"]
    assert env.classifier_max == "3.14" and env.notes == []


def test_every_file_the_python_hook_reads_is_read_however_many_requirement_files_a_tree_has():
    paths = [f"requirements/py{n:03d}.txt" for n in range(100)] + ["setup.py", "setup.cfg", "src/m.py"]
    wanted = wanted_files(load_language("python"), paths)
    assert len(wanted) == 102 and wanted[-2:] == ["setup.cfg", "setup.py"]
