"""How each language marks a test, as data.

A definition is a test when its name matches `names`, or when it carries one of the
`annotations` (Java/Kotlin annotations, PHP attributes, Rust `#[...]` attributes, PHP
`@test` docblock tags). Call-style frameworks (jest, mocha, RSpec, ScalaTest, ...) declare
tests by calling `it("title", ...)`; `test_calls` are the callees that declare one test and
`suite_calls` the ones that group tests (`describe`). gtest-style `macros` are definitions whose
"name" is a macro and whose test id is built from its two arguments (`TEST(Suite, Name)` ->
`Suite.Name`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TestConvention:
    names: re.Pattern[str] | None = None
    annotations: frozenset[str] = frozenset()
    test_calls: frozenset[str] = frozenset()
    suite_calls: frozenset[str] = frozenset()
    macros: frozenset[str] = frozenset()


JS_TESTS = frozenset({"it", "test", "specify", "xit", "fit", "xtest"})
JS_SUITES = frozenset({"describe", "context", "suite", "xdescribe", "fdescribe"})
JUNIT = frozenset({"Test", "ParameterizedTest", "RepeatedTest", "TestFactory", "TestTemplate", "Property"})

CONVENTIONS: dict[str, TestConvention] = {
    # pytest `test_*` functions and methods, unittest `test*` methods.
    "python": TestConvention(names=re.compile(r"^test")),
    "javascript": TestConvention(test_calls=JS_TESTS, suite_calls=JS_SUITES),
    "typescript": TestConvention(test_calls=JS_TESTS, suite_calls=JS_SUITES),
    # `go test` runs TestXxx, ExampleXxx and FuzzXxx (benchmarks only with -bench).
    "go": TestConvention(names=re.compile(r"^(Test|Example|Fuzz)($|[^a-z])")),
    "rust": TestConvention(annotations=frozenset({"test", "rstest", "test_case", "quickcheck", "proptest"})),
    # JUnit 4/5 annotations, and JUnit 3 `testXxx` methods of TestCase subclasses.
    "java": TestConvention(names=re.compile(r"^test[A-Z0-9_]"), annotations=JUNIT),
    "kotlin": TestConvention(annotations=JUNIT),
    # Unity, CUnit, check and home-made C suites name tests `test_*`.
    "c": TestConvention(names=re.compile(r"^test_")),
    "cpp": TestConvention(macros=frozenset({"TEST", "TEST_F", "TEST_P", "TYPED_TEST", "TYPED_TEST_P"})),
    # minitest `test_*` methods and RSpec / minitest-spec blocks.
    "ruby": TestConvention(
        names=re.compile(r"^test_"),
        test_calls=frozenset({"it", "specify", "example", "scenario", "its", "test"}),
        suite_calls=frozenset({"describe", "context", "feature", "shared_examples", "shared_context"}),
    ),
    # PHPUnit `test*` methods, `#[Test]` attributes and `@test` docblocks.
    "php": TestConvention(names=re.compile(r"^test"), annotations=frozenset({"Test", "test"})),
    # ScalaTest FunSuite `test("x")`, FunSpec `describe`/`it`, FlatSpec `"x" should "y" in`, JUnit.
    "scala": TestConvention(
        annotations=JUNIT,
        test_calls=frozenset({"test", "it", "ignore", "they", "scenario", "property"}),
        suite_calls=frozenset({"describe", "Feature", "feature"}),
    ),
}


def convention(language: str) -> TestConvention:
    return CONVENTIONS.get(language, TestConvention())
