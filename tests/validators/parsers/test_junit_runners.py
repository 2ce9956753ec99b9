"""Real JUnit XML from Surefire, ctest, googletest, PHPUnit, ScalaTest and vitest, through the
parsers the registry gives those runners."""

from pathlib import Path

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser

FIXTURES = Path(__file__).parent / "fixtures"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped


def parse(runner: str, *files: str) -> dict[str, Status]:
    results: dict[str, Status] = {}
    for name in files:
        results.update(get_parser(runner)((FIXTURES / name).read_text()))
    return results


def test_surefire_junit5_with_nested_class_and_parameters():
    results = parse("surefire", "surefire/TEST-com.example.CalcTest.xml",
                    "surefire/TEST-com.example.CalcTest-Inner.xml")
    assert results == {
        "com.example.CalcTest::adds": P,
        "com.example.CalcTest::fails": F,
        "com.example.CalcTest::errors": E,
        "com.example.CalcTest::skipped": S,
        "com.example.CalcTest::named": P,
        "com.example.CalcTest::param(int, int, int)[1]": P,
        "com.example.CalcTest::param(int, int, int)[2]": F,
        "com.example.CalcTest$Inner::innerPasses": P,
    }


def test_surefire_outer_file_left_empty_by_nested_class():
    assert parse("surefire", "surefire/TEST-com.example.CalcTest.xml") == {}


def test_googletest_xml():
    assert parse("googletest", "googletest/report.xml") == {
        "CalcTest::Adds": P,
        "CalcTest::Fails": F,
        "CalcTest::Throws": F,  # gtest reports an uncaught exception as a failure
        "CalcTest::DISABLED_Off": S,  # status="notrun", no <skipped> element
        "CalcTest::Skips": S,
        "Fixture::Works": P,
        "Small/ParamTest::IsSmall/0": P,
        "Small/ParamTest::IsSmall/1": P,
        "Small/ParamTest::IsSmall/2": F,
    }


def test_ctest_junit_ids_are_test_names():
    assert parse("ctest", "ctest/report.xml") == {
        "CalcTest.Adds": P,
        "CalcTest.Fails": F,
        "CalcTest.Throws": F,
        "CalcTest.Off": S,  # status="disabled"
        "CalcTest.Skips": S,
        "Fixture.Works": P,
        "Small/ParamTest.IsSmall/1": P,
        "Small/ParamTest.IsSmall/2": P,
        "Small/ParamTest.IsSmall/5": F,
        "plain_pass": P,
        "plain_fail": F,
        "plain_skip": S,  # SKIP_RETURN_CODE
    }


def test_phpunit_junit_with_data_provider():
    assert parse("phpunit", "phpunit/report.xml") == {
        "App.Tests.CalcTest::testAdds": P,
        "App.Tests.CalcTest::testFails": F,
        "App.Tests.CalcTest::testErrors": E,
        "App.Tests.CalcTest::testSkipped": S,
        "App.Tests.CalcTest::testIncomplete": S,
        "App.Tests.CalcTest::testRisky": E,  # PHPUnit 9 reports a risky test as an error
        'App.Tests.CalcTest::testProvider with data set "one and one"': P,
        'App.Tests.CalcTest::testProvider with data set "bad sum"': F,
        "App.Tests.CalcTest::testProvider with data set #0": P,
    }


def test_scalatest_junitxml():
    results = parse("scalatest", "scalatest/TEST-example.CalcSuite.xml",
                    "scalatest/TEST-example.CalcFlatSpec.xml")
    assert results == {
        "example.CalcSuite::adds": P,
        "example.CalcSuite::fails": F,
        "example.CalcSuite::errors": F,  # scalatest writes thrown exceptions as <failure>
        "example.CalcSuite::is ignored": S,
        "example.CalcSuite::is canceled": S,
        "example.CalcSuite::add(1, 1) == 2": P,
        "example.CalcSuite::add(1, 1) == 3": F,
        "example.CalcFlatSpec::Calc should add numbers": P,
        "example.CalcFlatSpec::Calc should fail sometimes": F,
    }


def test_every_registered_runner_resolves():
    from envmine.validators.parsers import PARSERS

    for runner in sorted(PARSERS):
        assert callable(get_parser(runner))
