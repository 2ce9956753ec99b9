"""Split a commit's diff into the gold patch (code) and the test patch (tests).

Pure functions over diff text. Which paths are tests is the language spec's knowledge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envmine.languages import LanguageSpec

_FILE_HEADER = re.compile(r"^diff --git a/(?P<a>.+?) b/(?P<b>.+?)$", re.MULTILINE)


@dataclass(frozen=True)
class FileDiff:
    path: str
    text: str
    binary: bool


@dataclass
class SplitPatch:
    patch: str = ""
    test_patch: str = ""
    patch_files: list[str] = field(default_factory=list)
    test_files: list[str] = field(default_factory=list)
    binary_files: list[str] = field(default_factory=list)


def file_diffs(diff: str) -> list[FileDiff]:
    """Cut a `git diff` into one chunk per file, keeping each chunk byte for byte."""
    starts = [m.start() for m in _FILE_HEADER.finditer(diff)]
    chunks = [diff[s:e] for s, e in zip(starts, [*starts[1:], len(diff)])]
    result = []
    for chunk in chunks:
        header = _FILE_HEADER.match(chunk)
        assert header is not None
        path = header["b"]
        binary = "\nGIT binary patch\n" in chunk or re.search(r"^Binary files ", chunk, re.M) is not None
        result.append(FileDiff(path=path, text=chunk, binary=binary))
    return result


def split_patch(diff: str, spec: LanguageSpec, extra_test_patterns: list[str] = ()) -> SplitPatch:
    """Split `diff` by the spec's test-file patterns (plus per-repository extras)."""
    extra = [re.compile(p) for p in extra_test_patterns]
    out = SplitPatch()
    for fd in file_diffs(diff):
        if fd.binary:
            out.binary_files.append(fd.path)
        if spec.is_test_file(fd.path) or any(p.search(fd.path) for p in extra):
            out.test_patch += fd.text
            out.test_files.append(fd.path)
        else:
            out.patch += fd.text
            out.patch_files.append(fd.path)
    return out
