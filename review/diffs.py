"""A unified diff as lines a page can colour: (kind, text), kind one of `file`, `hunk`, `add`,
`del`, `ctx`, `meta`. Pure; the template escapes the text."""

from __future__ import annotations


def diff_lines(diff: str, limit: int = 5000) -> list[tuple[str, str]]:
    """The first `limit` lines of `diff`, each with its kind."""
    out = []
    for line in diff.splitlines()[:limit]:
        if line.startswith("diff --git"):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith(("+++", "---", "index ", "new file", "deleted file", "similarity", "rename ")):
            kind = "meta"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        out.append((kind, line))
    return out
