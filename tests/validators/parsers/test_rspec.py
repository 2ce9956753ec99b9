from pathlib import Path

from envmine.records import TestStatus as Status
from envmine.validators.parsers import get_parser
from envmine.validators.parsers.rspec import parse_rspec_json

FIXTURES = Path(__file__).parent / "fixtures" / "rspec"
P, F, E, S = Status.passed, Status.failed, Status.error, Status.skipped
SPEC = "spec/calc_spec.rb::"


def test_rspec_report():
    assert parse_rspec_json((FIXTURES / "report.json").read_text()) == {
        SPEC + "Calc adds": P,
        SPEC + "Calc fails": F,
        SPEC + "Calc errors": E,  # an ArgumentError, not a failed expectation
        SPEC + "Calc is pending": S,
        SPEC + "Calc is skipped": S,
        SPEC + "Calc is expected to be a kind of Calc": P,
        SPEC + "Calc#add with negatives adds -1 and -1": P,
        SPEC + "Calc#add with negatives adds -1 and 1": P,
    }


def test_registry_name():
    assert get_parser("rspec") is parse_rspec_json


def test_spec_file_that_failed_to_load():
    # RSpec aborts the whole run: no examples, one error naming the file.
    assert parse_rspec_json((FIXTURES / "load_error.json").read_text()) == {"spec2/broken_spec.rb": E}
