"""Progress events from long steps, for whoever shows them (the CLI's rich bars).

Stages call `advance(step, n, total=...)`; nothing is shown unless a listener is installed,
so library code and flows stay silent by default.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Listener = Callable[[str, int, int | None, str], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def advance(step: str, n: int = 1, total: int | None = None, note: str = "") -> None:
    """Report `n` more units of `step` done (and the step's total, when known)."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(step, n, total, note)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)
