"""Split a commit's diff into the gold patch (code) and the test patch (tests).

Pure functions over diff text. Which paths are tests is the language spec's knowledge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from envmine.languages import LanguageSpec

_FILE_START = re.compile(r"^diff --git ", re.MULTILINE)
_HEADER = re.compile(r"^diff --git (?P<a>\"(?:[^\"\\]|\\.)*\"|\S+) (?P<b>\"(?:[^\"\\]|\\.)*\"|\S+)$")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


@dataclass(frozen=True)
class FileDiff:
    """One file's part of a `git diff`, byte for byte."""

    path: str
    """The file's path after the change (its old path when the change deletes it)."""
    text: str
    binary: bool
    old_path: str = ""
    """The path before the change ("" for a new file)."""


@dataclass
class SplitPatch:
    """A diff split into the gold patch (code) and the test patch."""

    patch: str = ""
    test_patch: str = ""
    patch_files: list[str] = field(default_factory=list)
    test_files: list[str] = field(default_factory=list)
    binary_files: list[str] = field(default_factory=list)
    """Files with binary hunks, in either patch."""


def unquote_path(raw: str) -> str:
    """A path as git prints it (possibly C-quoted, with octal escapes for raw bytes)."""
    if not (raw.startswith('"') and raw.endswith('"')):
        return raw
    out = bytearray()
    body, i = raw[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567" and re.fullmatch(r"[0-7]{3}", body[i + 1 : i + 4]):
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out += _ESCAPES.get(nxt, nxt).encode()
            i += 2
            continue
        out += ch.encode()
        i += 1
    return out.decode("utf-8", "replace")


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in ("a/", "b/") else path


def _paths(chunk: str) -> tuple[str, str]:
    """`(old, new)` paths of one file's chunk; "" where the file does not exist on that side."""
    old = new = None
    for line in chunk.split("\n")[1:]:
        if line.startswith(("@@", "GIT binary patch", "Binary files ")):
            break
        for prefix, side in (("--- ", "old"), ("+++ ", "new"), ("rename from ", "old"),
                             ("rename to ", "new"), ("copy from ", "old"), ("copy to ", "new")):
            if line.startswith(prefix):
                value = unquote_path(line[len(prefix):].rstrip("\t"))
                value = "" if value == "/dev/null" else (
                    _strip_prefix(value) if prefix in ("--- ", "+++ ") else value)
                if side == "old":
                    old = value
                else:
                    new = value
    header = _HEADER.match(chunk.split("\n", 1)[0])
    head_a = _strip_prefix(unquote_path(header["a"])) if header else ""
    head_b = _strip_prefix(unquote_path(header["b"])) if header else head_a
    if "\nnew file mode " in chunk.split("@@", 1)[0]:
        old = ""
    if "\ndeleted file mode " in chunk.split("@@", 1)[0]:
        new = ""
    return (head_a if old is None else old), (head_b if new is None else new)


def file_diffs(diff: str) -> list[FileDiff]:
    """Cut a `git diff` into one chunk per file, keeping each chunk byte for byte."""
    starts = [m.start() for m in _FILE_START.finditer(diff)]
    result = []
    for start, end in zip(starts, [*starts[1:], len(diff)]):
        chunk = diff[start:end]
        old, new = _paths(chunk)
        binary = "\nGIT binary patch\n" in chunk or re.search(r"^Binary files ", chunk, re.M) is not None
        result.append(FileDiff(path=new or old, text=chunk, binary=binary, old_path=old))
    return result


def changed_lines(text: str) -> list[str]:
    """The added and removed lines of a diff (without their +/- marks and file headers)."""
    lines, in_hunk = [], False
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            in_hunk = False
        elif line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line[:1] in ("+", "-"):
            lines.append(line[1:])
    return lines


def split_patch(diff: str, spec: LanguageSpec, extra_test_patterns: Iterable[str] = ()) -> SplitPatch:
    """Split `diff` by the spec's test-file patterns (plus per-repository extras).

    A file is classified by its path after the change (a deleted file by its old path).
    """
    extra = [re.compile(p) for p in extra_test_patterns]

    def is_test(path: str) -> bool:
        return bool(path) and (spec.is_test_file(path) or any(p.search(path) for p in extra))

    out = SplitPatch()
    for fd in file_diffs(diff):
        if fd.binary:
            out.binary_files.append(fd.path)
        if is_test(fd.path):
            out.test_patch += fd.text
            out.test_files.append(fd.path)
        else:
            out.patch += fd.text
            out.patch_files.append(fd.path)
    return out


def has_code_change(
    patch: str, spec: LanguageSpec, trivial_line: Callable[[str], bool] | None = None
) -> bool:
    """Whether `patch` changes a source file of `spec`'s language in a non-trivial line.

    Blank lines never count; `trivial_line` drops more (e.g. lines that only bump a version).
    """
    for fd in file_diffs(patch):
        if not any(fd.path.endswith(ext) for ext in spec.extensions):
            continue
        for line in changed_lines(fd.text):
            if line.strip() and not (trivial_line and trivial_line(line)):
                return True
    return False


def drop_files(patch: str, patterns: Iterable[str]) -> tuple[str, list[str]]:
    """`patch` without the files whose path matches any of `patterns`; and those paths."""
    compiled = [re.compile(p) for p in patterns]
    kept, dropped = [], []
    for fd in file_diffs(patch):
        if any(p.search(fd.path) for p in compiled):
            dropped.append(fd.path)
        else:
            kept.append(fd.text)
    return "".join(kept), dropped
