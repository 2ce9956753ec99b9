"""JUnit XML reports -> {test id: status}.

One parser for every runner that writes JUnit XML: pytest (`--junitxml`), Maven Surefire,
ctest (`--output-junit`), googletest (`--gtest_output=xml`), PHPUnit (`--log-junit`), vitest
(`--reporter=junit`), scalatest. Test cases are found at any depth of `<testsuites>` /
`<testsuite>` nesting.

Ids:
- pytest reports (a `<testsuite name="pytest">` or `<testsuites name="pytest tests">`) get
  pytest node ids,
  `tests/test_x.py::TestC::test_y[param]`. pytest writes `classname` as the node id's path with
  `/` turned into `.` and `.py` dropped, plus the class names; the `file` attribute (written
  with `junit_family=xunit1`) gives the path back exactly, else it is rebuilt from `classname`
  (trailing capitalised parts are classes, the rest is the module path).
- every other report: `classname::name` (just `name` when no class name is given).

The same test has the same id in every run: timings are ignored, and memory addresses that a
parametrised id may embed (`<object at 0x7f...>`) are blanked.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from envmine.records import TestStatus
from envmine.validators.parsers.common import merge

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_FORBIDDEN = ("<!DOCTYPE", "<!ENTITY")
_SKIP_STATES = {"notrun", "disabled", "skipped", "suppressed"}


def parse_junit(text: str) -> dict[str, TestStatus]:
    """Parse one JUnit XML report; raise ValueError when it is not a readable JUnit report.

    A test reported more than once (pytest writes a second entry for a teardown error) keeps
    its worst status: ERROR > FAILED > PASSED > SKIPPED.
    """
    root = _parse_xml(text)
    pytest_shape = _is_pytest(root)
    results: dict[str, TestStatus] = {}
    for suite, case in _cases(root):
        merge(results, _pytest_id(case) if pytest_shape else _generic_id(case, suite), _status(case))
    return results


def _parse_xml(text: str) -> ET.Element:
    head = text[:4096]
    if any(marker in head for marker in _FORBIDDEN):
        # Reports come from code under test: no DTDs, so no entity-expansion tricks.
        raise ValueError("JUnit report declares a DTD or entities; refusing to parse it")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"not valid JUnit XML: {exc}") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise ValueError(f"not a JUnit report: root element is <{root.tag}>")
    return root


def _is_pytest(root: ET.Element) -> bool:
    """pytest names its suite `pytest` (unless `junit_suite_name` says otherwise) and, since
    pytest 8, the root `pytest tests`."""
    if root.get("name") == "pytest tests":
        return True
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    return any(suite.get("name") == "pytest" for suite in suites)


def _cases(root: ET.Element) -> list[tuple[ET.Element, ET.Element]]:
    """(enclosing testsuite, testcase) pairs at any nesting depth, in document order."""
    pairs: list[tuple[ET.Element, ET.Element]] = []

    def walk(node: ET.Element, suite: ET.Element) -> None:
        for child in node:
            if child.tag == "testcase":
                pairs.append((suite, child))
            elif child.tag in ("testsuite", "testsuites"):
                walk(child, child)

    walk(root, root)
    return pairs


def _status(case: ET.Element) -> TestStatus:
    tags = {child.tag for child in case}
    if "error" in tags:
        return TestStatus.error
    if "failure" in tags or case.get("status") == "fail":
        return TestStatus.failed
    if "skipped" in tags or case.get("status") in _SKIP_STATES or case.get("result") == "suppressed":
        return TestStatus.skipped
    return TestStatus.passed


def _clean(text: str) -> str:
    return _ADDRESS.sub("0x?", " ".join(text.split()) if "\n" in text else text.strip())


def _generic_id(case: ET.Element, suite: ET.Element) -> str:
    name = _clean(case.get("name") or "")
    group = _clean(case.get("classname") or case.get("class") or "")
    if not group and suite.tag == "testsuite":
        group = _clean(suite.get("name") or "")
    return f"{group}::{name}" if group else name


def _pytest_id(case: ET.Element) -> str:
    name = _clean(case.get("name") or "")
    classname = (case.get("classname") or "").strip()
    file = (case.get("file") or "").strip()
    if not classname:
        # A collection error: the "name" is the module's dotted path.
        return file or _dotted_to_path(name.split("."))
    parts = classname.split(".")
    module_parts = _file_module(file, parts) or _module_prefix(parts)
    path = file if file and _path_parts(file) == parts[: len(module_parts)] else _dotted_to_path(module_parts)
    classes = parts[len(module_parts):]
    return "::".join([path, *classes, name])


def _path_parts(file: str) -> list[str]:
    return re.sub(r"\.py$", "", file).split("/")


def _file_module(file: str, parts: list[str]) -> list[str] | None:
    """The module parts of `parts` when the `file` attribute names that module."""
    if not file:
        return None
    module = _path_parts(file)
    return module if parts[: len(module)] == module else None


def _module_prefix(parts: list[str]) -> list[str]:
    """Leading parts that name the module: drop trailing capitalised (class) parts, keep one."""
    end = len(parts)
    while end > 1 and parts[end - 1][:1].isupper():
        end -= 1
    return parts[:end]


def _dotted_to_path(parts: list[str]) -> str:
    return "/".join(parts) + ".py"
