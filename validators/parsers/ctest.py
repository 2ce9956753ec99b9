"""ctest JUnit reports (`ctest --output-junit <file>`) -> test statuses.

ctest writes each test's name as both `classname` and `name`, so the JUnit parser's
`classname::name` would read `CalcTest.Adds::CalcTest.Adds`; the id here is the ctest test
name once (`CalcTest.Adds`, `plain_pass`). Tests discovered by `gtest_discover_tests` name
value-parametrised cases by value (`Small/ParamTest.IsSmall/5`), googletest's own XML by index.
"""

from __future__ import annotations

from envmine.records import TestStatus

from .junit import parse_junit


def collapse(test_id: str) -> str:
    """`X::X` -> `X`; any other id unchanged."""
    half = (len(test_id) - 2) // 2
    if test_id[half:half + 2] == "::" and test_id[:half] == test_id[half + 2:]:
        return test_id[:half]
    return test_id


def parse_ctest(text: str) -> dict[str, TestStatus]:
    """Statuses from a ctest JUnit report, keyed by ctest test name."""
    return {collapse(test_id): status for test_id, status in parse_junit(text).items()}
