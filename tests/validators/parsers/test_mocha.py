from pathlib import Path

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.mocha import parse_mocha_json

FIXTURES = Path(__file__).parent / "fixtures" / "mocha"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped
FILE = "test/calc.spec.js > "


def test_mocha_report():
    assert parse_mocha_json((FIXTURES / "report.json").read_text()) == {
        FILE + "calc > adds": P,
        FILE + "calc > fails": F,
        FILE + "calc > is skipped": S,
        FILE + "calc > is pending without body": S,
        FILE + "calc > slow async": P,
        FILE + "calc nested > deep pass": P,
        FILE + "calc nested > add(1, 1) = 2": P,
        FILE + "calc nested > add(1, 1) = 3": F,
        # the failing `before` hook makes the test it names an error
        FILE + "calc hooks > never runs due to hook": E,
    }


def test_json_printed_on_stdout_after_console_output():
    text = 'log line\n{"stats": {}, "passes": [{"title": "a", "fullTitle": "s a", "file": "/testbed/t.js"}]}'
    assert parse_mocha_json(text) == {"t.js > s > a": P}


def test_stdout_report_among_output_with_braces_before_and_after():
    # mocha 8 on stdout: a test printed an object before the report, the process a line after
    text = ('{"note": "printed by a test"}\nserver {port: 1}\n{\n  "stats": {},\n  "passes": [{"title": "a", '
            '"fullTitle": "s a", "file": "/testbed/t.js"}],\n  "failures": []\n}\nclosing {handles}\n')
    assert parse_mocha_json(text) == {"t.js > s > a": P}


def test_registry_name():
    assert get_parser("mocha") is parse_mocha_json
