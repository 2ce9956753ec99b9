"""Where the `github` source resumes in a repository, stored as `Repo.cursor`.

The listing is GitHub's issue listing sorted by update time, ascending, filtered with `since`.
The cursor is the update time of the last finished item plus the numbers already finished at
exactly that time (GitHub's `since` is inclusive), so a rerun neither refetches nor skips.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Cursor:
    since: str | None = None
    """`updated_at` (ISO 8601, UTC, `Z`) of the last finished item."""
    done: list[int] = field(default_factory=list)
    """Items finished whose `updated_at` equals `since`."""

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        """Parse a stored cursor; None or "" is the start of the history."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(since=data.get("since"), done=list(data.get("done", [])))

    def encode(self) -> str:
        return json.dumps({"since": self.since, "done": sorted(self.done)}, separators=(",", ":"))

    def seen(self, item: dict) -> bool:
        """Whether a listing item (REST issue or PR) was finished by an earlier run."""
        if self.since is None:
            return False
        updated = item["updated_at"]
        return updated < self.since or (updated == self.since and item["number"] in self.done)

    def advance(self, item: dict) -> None:
        """Mark `item` finished; items must come in listing order (ascending `updated_at`)."""
        updated = item["updated_at"]
        if updated != self.since:
            self.since, self.done = updated, []
        if item["number"] not in self.done:
            self.done.append(item["number"])
