"""Definitions and tests found in real-shaped sources of every supported language."""

from pathlib import Path

import pytest

from envmine.code import functions_in, known_languages, language_of, tests_in

SOURCES = Path(__file__).parent / "fixtures" / "sources"


def definitions(name: str) -> list[tuple[str, str, int, int]]:
    path = SOURCES / name
    symbols = functions_in(path.read_text(), language_of(name), name)
    return [(s.qualified, s.kind, s.start_line, s.end_line) for s in symbols]


def found_tests(name: str) -> list[str]:
    path = SOURCES / name
    return [s.qualified for s in tests_in(path.read_text(), language_of(name), name)]


def test_python():
    assert definitions("calc.py") == [
        ("Calc", "class", 4, 16),
        ("Calc.add", "method", 9, 10),
        ("Calc.sub", "method", 12, 16),  # starts at its decorator
        ("Calc.sub.inner", "function", 14, 15),
        ("fetch", "function", 19, 20),
        ("TestCalc", "class", 23, 28),
        ("TestCalc.test_add", "method", 24, 25),
        ("TestCalc.helper", "method", 27, 28),
        ("test_module_level", "function", 31, 32),
    ]
    assert found_tests("calc.py") == ["TestCalc.test_add", "test_module_level"]


def test_typescript_classes_arrow_functions_and_jest_blocks():
    assert definitions("math.test.ts") == [
        ("Calc", "class", 3, 7),
        ("Calc.add", "method", 5, 5),
        ("Calc.handler", "method", 6, 6),
        ("helper", "function", 9, 9),
        ("arrow", "function", 10, 10),
    ]
    assert found_tests("math.test.ts") == [
        "math > adds",
        "math > nested > add(%i, %i)",  # test.each keeps its title template
        "math > nested > template title",  # it.skip with a template string
        "top",
    ]


def test_javascript_mocha_blocks():
    assert definitions("calc.spec.js") == [("add", "function", 3, 3), ("sub", "function", 6, 6)]
    assert found_tests("calc.spec.js") == ["calc > adds", "calc > nested > deep"]


def test_go_methods_are_qualified_by_receiver():
    assert definitions("calc_test.go") == [
        ("Calc", "class", 5, 7),
        ("Calc.Add", "method", 9, 9),
        ("Stack.Push", "method", 11, 11),
        ("helper", "function", 13, 13),
        ("TestAdd", "function", 15, 17),
        ("Testify", "function", 19, 19),
        ("CalcSuite.TestSuiteMethod", "method", 21, 21),
        ("ExampleCalc_Add", "function", 23, 23),
    ]
    # `Testify` is not a test: go needs an upper-case letter after `Test`.
    assert found_tests("calc_test.go") == ["TestAdd", "CalcSuite.TestSuiteMethod", "ExampleCalc_Add"]


def test_rust_impls_modules_and_test_attributes():
    assert definitions("lib.rs") == [
        ("Calc", "class", 1, 1),
        ("Calc", "class", 3, 5),
        ("Calc.add", "method", 4, 4),
        ("Wrapper", "class", 7, 9),
        ("Wrapper.fmt", "method", 8, 8),
        ("Shape", "class", 11, 13),
        ("Shape.area", "method", 12, 12),
        ("tests", "class", 15, 31),
        ("tests.it_adds", "function", 19, 20),
        ("tests.async_test", "function", 23, 24),
        ("tests.param", "function", 26, 28),
        ("tests.helper", "function", 30, 30),
    ]
    assert found_tests("lib.rs") == ["tests.it_adds", "tests.async_test", "tests.param"]


def test_java_annotations_and_junit3_names():
    assert found_tests("CalcTest.java") == ["CalcTest.adds", "CalcTest.param", "CalcTest.testLegacy", "CalcTest.Inner.deep"]
    assert ("CalcTest.CalcTest", "method", 8, 8) in definitions("CalcTest.java")
    assert ("Shape.area", "method", 26, 26) in definitions("CalcTest.java")


def test_kotlin_backtick_names():
    assert definitions("CalcTest.kt") == [
        ("CalcTest", "class", 5, 16),
        ("CalcTest.adds numbers", "method", 6, 9),
        ("CalcTest.helper", "method", 11, 11),
        ("CalcTest.make", "method", 14, 14),
        ("Util", "class", 18, 20),
        ("Util.f", "method", 19, 19),
    ]
    assert found_tests("CalcTest.kt") == ["CalcTest.adds numbers"]


def test_c_functions_and_structs():
    assert definitions("calc.c") == [
        ("point", "class", 3, 3),
        ("add", "function", 5, 5),
        ("name_of", "function", 7, 7),
        ("test_add", "function", 9, 9),
    ]
    assert found_tests("calc.c") == ["test_add"]


def test_cpp_namespaces_out_of_class_methods_and_gtest_macros():
    assert definitions("calc_test.cpp") == [
        ("calc", "class", 3, 11),
        ("calc.Calc", "class", 4, 8),
        ("calc.Calc.add", "method", 6, 6),
        ("calc.Calc.~Calc", "method", 7, 7),
        ("calc.Calc.sub", "method", 9, 9),
        ("calc.twice", "function", 10, 10),
        ("CalcTest.Adds", "function", 13, 13),
        ("Fixture.Works", "function", 14, 16),
        ("ParamTest.IsSmall", "function", 17, 17),
    ]
    assert found_tests("calc_test.cpp") == ["CalcTest.Adds", "Fixture.Works", "ParamTest.IsSmall"]


def test_ruby_rspec_and_minitest():
    assert definitions("cart_spec.rb") == [
        ("Shop", "class", 1, 11),
        ("Shop.Cart", "class", 2, 10),
        ("Shop.Cart.add", "method", 3, 5),
        ("Shop.Cart.build", "method", 7, 9),
        ("Shop.Order", "class", 13, 15),
        ("Shop.Order.total", "method", 14, 14),
        ("CartTest", "class", 35, 39),
        ("CartTest.test_add", "method", 36, 38),
    ]
    # `it { ... }` has no title to name it by and is left out.
    assert found_tests("cart_spec.rb") == [
        "Shop::Cart > adds items",
        "Shop::Cart > #total > when empty > is zero",
        "CartTest.test_add",
    ]


def test_php_names_attributes_and_docblocks():
    assert found_tests("CalcTest.php") == ["CalcTest.testAdds", "CalcTest.it_subtracts", "CalcTest.multiplies"]
    assert ("top_level", "function", 24, 24) in definitions("CalcTest.php")


def test_scala_funsuite_funspec_and_flatspec():
    assert definitions("CalcSuite.scala") == [
        ("CalcSuite", "class", 5, 21),
        ("CalcSuite.helper", "method", 6, 6),
        ("Calc", "class", 23, 25),
        ("Calc.add", "method", 24, 24),
    ]
    assert found_tests("CalcSuite.scala") == [
        "CalcSuite > adds",
        "CalcSuite > outer > inner works",
        "CalcSuite > Calc should add numbers",
        "CalcSuite > it should fail sometimes",
    ]


def test_tsx_uses_the_tsx_grammar():
    source = "export function App() {\n  return <div className='x'>hi</div>;\n}\n"
    assert [(s.qualified, s.end_line) for s in functions_in(source, "typescript", "src/App.tsx")] == [("App", 3)]


def test_every_language_parses():
    for language in known_languages():
        assert functions_in("", language) == []


def test_unknown_language_lists_the_known_ones():
    with pytest.raises(KeyError, match="known: c, cpp, go, java, javascript, kotlin, php, python"):
        functions_in("x", "cobol")


def test_language_of_paths():
    assert language_of("src/a.rs") == "rust"
    assert language_of("include/a.h") == "c"
    assert language_of("include/a.h", "cpp") == "cpp"
    assert language_of("web/a.js", "typescript") == "javascript"
    assert language_of("README.md", "python") is None


def test_call_style_suites_inside_nested_definitions():
    source = (
        "package x\n"
        "object Outer {\n"
        "  class InnerSpec extends AnyFunSpec {\n"
        '    describe("group") {\n'
        '      it("works") {}\n'
        "      def helper(): Int = 1\n"
        "    }\n"
        "  }\n"
        "}\n"
    )
    from envmine.code.symbols import walk

    assert [(s.qualified, s.kind, s.is_test) for s in walk(source, "scala")] == [
        ("Outer", "class", False),
        ("Outer.InnerSpec", "class", False),
        ("Outer.InnerSpec > group", "suite", False),
        ("Outer.InnerSpec > group > works", "test", True),
        ("Outer.InnerSpec > group > helper", "function", False),
    ]
