"""Find a release's changelog and cut out the section about one version.

Pure functions over paths and text. Handles the common shapes: Markdown headings
(`## 1.2.3`, `## [1.2.3](url) - date`, `## Version 1.2.3`), reStructuredText titles
(`1.2.3 (date)` over a `-----` underline) and bare version lines.
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

_NAMES = ("changelog", "changes", "history", "news", "releases", "release-notes", "versions")
_SUFFIXES = ("", ".md", ".rst", ".txt", ".markdown")
_FOLDERS = ("", "docs/", "doc/")
_UNDERLINE = re.compile(r"^([=\-~^*+#`'\"])\1{2,}\s*$")
_BULLET = re.compile(r"^\s*([-*+•]|\d+\.)\s")
# A heading's text, once the decoration is gone, must start with the version.
_LEAD = re.compile(r"^(?:#+\s*)?\[?\s*(?:version|release|rel\.?|v(?=\d))?\s*\[?", re.I)
_VERSION = re.compile(r"v?(\d+(?:\.\d+)+(?:[-.+]?[A-Za-z0-9]+)*)")


def find_changelog(paths: list[str]) -> str | None:
    """The changelog among `paths` (relative posix paths): root files first, then docs/."""
    lowered = {p.lower(): p for p in paths}
    for folder in _FOLDERS:
        for name in _NAMES:
            for suffix in _SUFFIXES:
                hit = lowered.get(f"{folder}{name}{suffix}")
                if hit is not None:
                    return hit
    return None


def _same_version(token: str, version: str) -> bool:
    if token == version or token.lstrip("v") == version.lstrip("v"):
        return True
    try:
        return Version(token) == Version(version)
    except InvalidVersion:
        return False


def heading_version(lines: list[str], index: int) -> str | None:
    """The version a line announces, if the line is a version heading; else None."""
    line = lines[index].rstrip()
    if not line.strip() or len(line) > 120 or _BULLET.match(line) or line.startswith((" ", "\t")):
        return None
    underlined = index + 1 < len(lines) and _UNDERLINE.match(lines[index + 1]) is not None
    if not (line.startswith("#") or underlined or len(line) <= 60):
        return None
    text = _LEAD.sub("", line, count=1).strip()
    match = _VERSION.match(text)
    if match is None:
        return None
    rest = text[match.end():]
    # A bare (not Markdown, not underlined) line must hold little besides the version.
    if not line.startswith("#") and not underlined and re.search(r"[a-z]{3,}\s+[a-z]{3,}", rest):
        return None
    return match.group(1)


def changelog_section(text: str, version: str) -> str | None:
    """The notes under `version`'s heading, up to the next version heading; None if absent."""
    lines = text.splitlines()
    start = None
    for i in range(len(lines)):
        found = heading_version(lines, i)
        if found is None:
            continue
        if start is not None:
            return _tidy(lines[start:i]) or None
        if _same_version(found, version):
            start = i + 1
    return (_tidy(lines[start:]) or None) if start is not None else None


def _tidy(lines: list[str]) -> str:
    if lines and _UNDERLINE.match(lines[0]):
        lines = lines[1:]
    # Drop the next heading's overline / a trailing underline belonging to the next title.
    while lines and (not lines[-1].strip() or _UNDERLINE.match(lines[-1])):
        lines = lines[:-1]
    return "\n".join(lines).strip("\n").strip()
