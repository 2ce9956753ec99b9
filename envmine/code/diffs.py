"""What a diff touches: the definitions a gold patch changes and the tests a test patch adds.

Both work per file over `git diff` text. A hunk's removed lines are looked up in the file
before the change and its added lines in the file after it (rebuilt by applying the hunks to
the before text, or taken as given), and each line maps to the innermost symbol around it.
Lines outside every definition (imports, module constants) map to nothing. Files no grammar
knows (docs, data, build files) and binary files are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envmine.miners.patches import FileDiff, file_diffs

from .grammars import language_of
from .symbols import Symbol, functions_in, tests_in

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Hunk:
    old_start: int
    new_start: int
    old_count: int = 1
    lines: list[str] = field(default_factory=list)
    """Body lines with their ` `, `-` or `+` mark."""


@dataclass
class Touched:
    removed: set[int] = field(default_factory=set)
    """Old-file line numbers the diff removes."""
    added: set[int] = field(default_factory=set)
    """New-file line numbers the diff adds."""


def hunks(file_diff_text: str) -> list[Hunk]:
    """The hunks of one file's diff chunk, each read for as many lines as its header counts."""
    result: list[Hunk] = []
    old_left = new_left = 0
    for line in file_diff_text.split("\n"):
        if old_left > 0 or new_left > 0:
            if line.startswith("\\"):
                continue  # "\ No newline at end of file"
            mark = line[:1] if line[:1] in ("-", "+") else " "
            old_left -= mark != "+"
            new_left -= mark != "-"
            result[-1].lines.append(line if mark != " " else " " + line[1:])
            continue
        match = HUNK.match(line)
        if match:
            old_left, new_left = int(match[2] or 1), int(match[4] or 1)
            result.append(Hunk(int(match[1]), int(match[3]), old_count=old_left))
    return result


def touched(file_hunks: list[Hunk]) -> Touched:
    """Old and new line numbers a file's hunks change; blank lines do not count."""
    result = Touched()
    for hunk in file_hunks:
        old, new = hunk.old_start, hunk.new_start
        for line in hunk.lines:
            mark, blank = line[:1], not line[1:].strip()
            if mark == "-" and not blank:
                result.removed.add(old)
            elif mark == "+" and not blank:
                result.added.add(new)
            old += mark != "+"
            new += mark != "-"
    return result


def reverse(file_hunks: list[Hunk]) -> list[Hunk]:
    """The hunks that undo `file_hunks` (to rebuild the old file from the new one)."""
    flip = {"+": "-", "-": "+", " ": " "}
    return [
        Hunk(h.new_start, h.old_start, old_count=sum(l[:1] != "-" for l in h.lines),
             lines=[flip[l[:1]] + l[1:] for l in h.lines])
        for h in file_hunks
    ]


def apply(before: str, file_hunks: list[Hunk]) -> str:
    """`before` with the hunks applied at their stated positions (no fuzz)."""
    old_lines = before.split("\n")
    out: list[str] = []
    cursor = 0
    for hunk in file_hunks:
        # `-5,0` inserts after line 5; `-5,3` starts at line 5.
        start = hunk.old_start if hunk.old_count == 0 else hunk.old_start - 1
        out.extend(old_lines[cursor:start])
        cursor = start
        for line in hunk.lines:
            if line[:1] == "+":
                out.append(line[1:])
            elif line[:1] == " ":
                out.append(old_lines[cursor] if cursor < len(old_lines) else line[1:])
                cursor += 1
            else:
                cursor += 1
    out.extend(old_lines[cursor:])
    return "\n".join(out)


def added_text(file_hunks: list[Hunk]) -> str:
    """A new file's content, from its one all-`+` hunk."""
    return "\n".join(l[1:] for h in file_hunks for l in h.lines if l[:1] == "+")


def innermost(symbols: list[Symbol], line: int) -> Symbol | None:
    """The smallest symbol whose lines contain `line`."""
    around = [s for s in symbols if s.start_line <= line <= s.end_line]
    return min(around, key=lambda s: (s.end_line - s.start_line, -s.start_line), default=None)


def _hits(symbols: list[Symbol], lines: set[int]) -> set[str]:
    return {s.qualified for s in (innermost(symbols, line) for line in lines) if s is not None}


def _code_files(diff: str, language: str | None) -> list[tuple[FileDiff, str, list[Hunk]]]:
    files = []
    for fd in file_diffs(diff):
        lang = language_of(fd.path, language) if not fd.binary else None
        if lang:
            files.append((fd, lang, hunks(fd.text)))
    return files


def changed_symbols(diff: str, files_before: dict[str, str], language: str | None = None) -> list[str]:
    """`path::Class.method` of every definition the diff changes, adds or removes.

    `files_before` holds the text of each changed file before the diff, by its old path
    (new files need no entry). `language` picks the grammar for ambiguous extensions (`.h`).
    """
    result: set[str] = set()
    for fd, lang, file_hunks in _code_files(diff, language):
        if fd.old_path and fd.old_path not in files_before:
            raise KeyError(f"files_before lacks {fd.old_path!r}, changed by the diff")
        before = files_before[fd.old_path] if fd.old_path else ""
        after = "" if fd.path == fd.old_path and _deleted(fd) else apply(before, file_hunks)
        lines = touched(file_hunks)
        names = _hits(functions_in(before, lang, fd.old_path), lines.removed)
        names |= _hits(functions_in(after, lang, fd.path), lines.added)
        result.update(f"{fd.path}::{name}" for name in names)
    return sorted(result)


def _deleted(fd: FileDiff) -> bool:
    return "\ndeleted file mode " in fd.text.split("@@", 1)[0]


def test_functions_in_diff(test_patch: str, files_after: dict[str, str], language: str | None = None) -> list[str]:
    """`path::qualified test name` of every test the test patch adds or changes.

    `files_after` holds each changed file's text after the patch; a new file missing from it
    is rebuilt from the patch. Tests in deleted files are not listed (they cannot run).
    """
    result: set[str] = set()
    for fd, lang, file_hunks in _code_files(test_patch, language):
        if _deleted(fd):
            continue
        after = files_after.get(fd.path)
        if after is None:
            if fd.old_path:
                raise KeyError(f"files_after lacks {fd.path!r}, changed by the test patch")
            after = added_text(file_hunks)
        lines = touched(file_hunks)
        before = apply(after, reverse(file_hunks)) if fd.old_path else ""
        tests_after = tests_in(after, lang, fd.path)
        names = _hits(tests_after, lines.added)
        # A test that only lost lines is found in the old text, and kept if it still exists.
        names |= _hits(tests_in(before, lang, fd.old_path), lines.removed) & {t.qualified for t in tests_after}
        result.update(f"{fd.path}::{name}" for name in names)
    return sorted(result)


# Not a pytest test, though its name starts with "test" and test modules import it.
test_functions_in_diff.__test__ = False  # type: ignore[attr-defined]
