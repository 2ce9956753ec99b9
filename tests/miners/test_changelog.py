"""Changelog discovery and per-version sections, on real changelogs shipped in sdists."""

from __future__ import annotations

from pathlib import Path

import pytest

from envmine.miners.changelog import changelog_section, find_changelog, heading_version

FIXTURES = Path(__file__).parent / "fixtures"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_markdown_towncrier_section_with_subheadings():
    section = changelog_section(read("attrs-CHANGELOG.md"), "26.1.0")
    assert section.startswith("### Backwards-incompatible Changes\n\n- Field aliases are now resolved")
    assert section.endswith("[#1529](https://github.com/python-attrs/attrs/issues/1529)")
    assert "25.4.0" not in section


def test_markdown_version_word_heading():
    section = changelog_section(read("click-CHANGES.md"), "8.4.2")
    assert section.startswith("Released ")
    assert section.endswith("box. {issue}`2331` {issue}`1884` {issue}`3125` {pr}`3582`")


def test_markdown_heading_with_date():
    assert changelog_section(read("idna-HISTORY.md"), "3.18") == (
        "- When decoding a domain, add a `display` argument that will pass\n"
        "  through invalid labels rather than raising an exception."
    )


def test_rst_underlined_titles_keep_their_subsections():
    section = changelog_section(read("python-dateutil-NEWS"), "4.0.0")
    assert section.startswith("``dateutil`` 4.0 requires Python 3.11 or later")
    assert "Deprecations\n------------" in section
    assert section.endswith("gh pr #1636, #1644, #1645, #1646, #1648, #1649, #1650.")
    assert "Version 3.0.0" not in section


def test_rst_bare_versions():
    assert changelog_section(read("six-CHANGES"), "1.16.0") == (
        "- Pull request #343, issue #341, pull request #349: Port _SixMetaPathImporter to\n"
        "  Python 3.10."
    )
    assert changelog_section(read("iniconfig-CHANGELOG"), "2.3.1").startswith(
        "* fix quadratic parse time for values with many continuation lines (#78, regarding #77)"
    )
    assert changelog_section(read("packaging-CHANGELOG.rst"), "26.4").startswith("Removals:\n\n* Drop")


def test_unknown_version_and_prefix_versions_do_not_match():
    text = read("six-CHANGES")
    assert changelog_section(text, "9.9.9") is None
    assert changelog_section(read("iniconfig-CHANGELOG"), "2.3.10") is None
    # "2.3" names "2.3.0" by PEP 440
    assert changelog_section(read("iniconfig-CHANGELOG"), "2.3") == changelog_section(
        read("iniconfig-CHANGELOG"), "2.3.0"
    )


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["## [26.1.0](https://x/26.1.0) - 2026-03-19"], "26.1.0"),
        (["## Version 8.5.1"], "8.5.1"),
        (["v2.0.0-rc.1 (2024-01-01)", "------------------------"], "2.0.0-rc.1"),
        (["- Update to Unicode 18.0.0."], None),
        (["3.0 is the last release that supports Python 2"], None),
        (["version of Python older than 3.11.** The next"], None),
        (["    1.2.3"], None),
    ],
)
def test_heading_version(lines, expected):
    assert heading_version(lines, 0) == expected


def test_find_changelog_prefers_the_root():
    paths = ["docs/changelog.rst", "src/pkg/__init__.py", "CHANGES.rst", "README.md"]
    assert find_changelog(paths) == "CHANGES.rst"
    assert find_changelog(["docs/versions.rst", "setup.py"]) == "docs/versions.rst"
    assert find_changelog(["HISTORY.md"]) == "HISTORY.md"
    assert find_changelog(["src/changes.py"]) is None
