"""parse_junit on JUnit XML captured from real pytest runs, plus other runners' shapes."""

from pathlib import Path

import pytest

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.junit import parse_junit

FIXTURES = Path(__file__).parents[1] / "fixtures" / "junit"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped

# What the captured pytest session (tests/validators/fixtures/junit/*.xml) reported.
EXPECTED = {
    "tests/test_broken_import.py": E,
    "tests/sub/test_deep.py::test_deep": P,
    "tests/sub/test_deep.py::TestInherits::test_from_mixin": P,
    "tests/test_basic.py::test_pass": P,
    "tests/test_basic.py::test_fail": F,
    "tests/test_basic.py::test_error_in_fixture": E,
    "tests/test_basic.py::test_fail_and_teardown_error": E,
    "tests/test_basic.py::test_pass_teardown_error": E,
    "tests/test_basic.py::test_skipped": S,
    "tests/test_basic.py::test_xfail": S,
    "tests/test_basic.py::test_xpass": P,
    "tests/test_basic.py::test_xpass_strict": F,
    "tests/test_basic.py::test_param[1]": P,
    "tests/test_basic.py::test_param[a.b]": F,
    "tests/test_basic.py::test_param[x::y]": P,
    "tests/test_basic.py::test_param[sp ace]": P,
    "tests/test_basic.py::test_param[[br]]": P,
    "tests/test_basic.py::test_param[\\xfcn\\xef]": P,
    "tests/test_basic.py::TestGroup::test_method": P,
    "tests/test_basic.py::TestGroup::TestInner::test_nested": P,
    "tests/test_basic.py::TestGroup::test_method_param[0]": P,
    "tests/test_basic.py::TestGroup::test_method_param[1]": F,
}


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.mark.parametrize("name", ["pytest_xunit1.xml", "pytest_xunit2.xml"])
def test_pytest_reports_give_node_ids(name):
    assert parse_junit(read(name)) == EXPECTED


def test_ids_equal_pytests_own_node_ids():
    collected = set(read("pytest_collect_only.txt").split("\n")) - {""}
    parsed = set(parse_junit(read("pytest_xunit2.xml"))) - {"tests/test_broken_import.py"}
    assert parsed == collected


def test_interrupted_collection_reports_only_the_module_error():
    assert parse_junit(read("pytest_collection_interrupted.xml")) == {"tests/test_broken_import.py": E}


def test_custom_suite_name_is_still_pytest():
    renamed = read("pytest_xunit2.xml").replace('<testsuite name="pytest"', '<testsuite name="mysuite"')
    assert parse_junit(renamed) == EXPECTED


def test_registry_maps_pytest_to_this_parser():
    assert get_parser("pytest") is parse_junit
    assert get_parser("surefire") is parse_junit


def test_same_ids_whatever_the_timings():
    text = read("pytest_xunit1.xml")
    retimed = text.replace('time="0.000"', 'time="9.999"').replace("2026-", "2031-")
    assert parse_junit(retimed) == parse_junit(text)


def test_memory_addresses_in_ids_are_blanked():
    xml = ('<testsuites><testsuite name="pytest"><testcase classname="tests.test_a" '
           'name="test_x[&lt;object object at 0x7f3a2b1c9d80&gt;]" time="0.1"/></testsuite></testsuites>')
    assert parse_junit(xml) == {"tests/test_a.py::test_x[<object object at 0x?>]": P}


@pytest.mark.parametrize("text", [
    "", "not xml at all", "<testsuites><testsuite name='pytest'>",  # truncated report
    "<html><body>500</body></html>",
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><testsuites/>',
])
def test_malformed_reports_raise_value_error(text):
    with pytest.raises(ValueError):
        parse_junit(text)


# Hand-written samples in the shapes other runners write (no Java/C++/PHP/Node toolchain on
# this machine to capture them from).
SUREFIRE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.acme.CalcTest" time="0.05" tests="4" errors="1" skipped="1" failures="1">
  <properties><property name="java.version" value="21"/></properties>
  <testcase name="adds" classname="com.acme.CalcTest" time="0.01"/>
  <testcase name="subtracts" classname="com.acme.CalcTest" time="0.01">
    <failure message="expected: 1 but was: 2" type="org.opentest4j.AssertionFailedError">trace</failure>
  </testcase>
  <testcase name="divides" classname="com.acme.CalcTest" time="0"><error type="java.lang.ArithmeticException"/></testcase>
  <testcase name="later" classname="com.acme.CalcTest" time="0"><skipped/></testcase>
  <testcase name="flaky" classname="com.acme.CalcTest" time="0"><flakyFailure message="once"/></testcase>
</testsuite>"""

GTEST = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="1" disabled="1" errors="0" name="AllTests">
  <testsuite name="MathTest" tests="3" failures="1" disabled="1">
    <testcase name="Adds" status="run" result="completed" time="0" classname="MathTest"/>
    <testcase name="Fails" status="run" result="completed" time="0" classname="MathTest">
      <failure message="Expected equality" type=""/>
    </testcase>
    <testcase name="DISABLED_Off" status="notrun" result="suppressed" time="0" classname="MathTest"/>
  </testsuite>
</testsuites>"""

CTEST = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="Linux-c++" tests="3" failures="1" disabled="0" skipped="1" hostname="" time="0">
  <testcase name="unit_ok" classname="unit_ok" time="0.01" status="run"/>
  <testcase name="unit_bad" classname="unit_bad" time="0.01" status="fail"><failure message="Failed"/></testcase>
  <testcase name="unit_skip" classname="unit_skip" time="0" status="notrun"><skipped message="Disabled"/></testcase>
</testsuite>"""

PHPUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="Unit" tests="3">
    <testsuite name="CalcTest" file="/testbed/tests/CalcTest.php" tests="3">
      <testsuite name="CalcTest::testAdd" tests="2">
        <testcase name="testAdd with data set #0" class="CalcTest" classname="CalcTest" file="/testbed/tests/CalcTest.php" line="9"/>
        <testcase name="testAdd with data set #1" class="CalcTest" classname="CalcTest" file="/testbed/tests/CalcTest.php" line="9">
          <failure type="PHPUnit\\Framework\\ExpectationFailedException">bad</failure>
        </testcase>
      </testsuite>
      <testcase name="testMul" class="CalcTest" classname="CalcTest" file="/testbed/tests/CalcTest.php" line="20"/>
    </testsuite>
  </testsuite>
</testsuites>"""

VITEST = """<?xml version="1.0" encoding="UTF-8" ?>
<testsuites name="vitest tests" tests="2" failures="1" errors="0" time="0.3">
    <testsuite name="src/calc.test.ts" timestamp="2024-01-01T00:00:00.000Z" hostname="h" tests="2" failures="1" errors="0" skipped="0" time="0.01">
        <testcase classname="src/calc.test.ts" name="calc &gt; adds" time="0.001"></testcase>
        <testcase classname="src/calc.test.ts" name="calc &gt; subtracts" time="0.002">
            <failure message="expected 2 to be 1" type="AssertionError">trace</failure>
        </testcase>
    </testsuite>
</testsuites>"""


def test_surefire_shape():
    assert parse_junit(SUREFIRE) == {
        "com.acme.CalcTest::adds": P, "com.acme.CalcTest::subtracts": F,
        "com.acme.CalcTest::divides": E, "com.acme.CalcTest::later": S, "com.acme.CalcTest::flaky": P,
    }


def test_gtest_shape():
    assert parse_junit(GTEST) == {"MathTest::Adds": P, "MathTest::Fails": F, "MathTest::DISABLED_Off": S}


def test_ctest_shape():
    assert parse_junit(CTEST) == {"unit_ok::unit_ok": P, "unit_bad::unit_bad": F, "unit_skip::unit_skip": S}


def test_phpunit_nested_suites():
    assert parse_junit(PHPUNIT) == {
        "CalcTest::testAdd with data set #0": P, "CalcTest::testAdd with data set #1": F,
        "CalcTest::testMul": P,
    }


def test_vitest_shape():
    assert parse_junit(VITEST) == {"src/calc.test.ts::calc > adds": P, "src/calc.test.ts::calc > subtracts": F}


def test_case_without_classname_uses_its_suite_name():
    xml = '<testsuite name="suite-a"><testcase name="t1"/></testsuite>'
    assert parse_junit(xml) == {"suite-a::t1": P}
