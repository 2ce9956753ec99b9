"""When the disk watch asks again about a container: sooner the nearer the fastest rate it has
written at brings it to its limit, never sooner than DISK_POLL_MIN_S nor later than DISK_POLL_S."""

from __future__ import annotations

from envmine.builders.engine import DISK_POLL_MIN_S, DISK_POLL_S, _next_question

MIB = 1 << 20
LIMIT = 512 * MIB


def test_a_container_asked_about_once_or_not_writing_waits_the_full_interval():
    assert _next_question(None, 100 * MIB, 1.0, LIMIT) == (DISK_POLL_S, (100 * MIB, 1.0, 0.0))
    assert _next_question((100 * MIB, 1.0, 0.0), 100 * MIB, 1.25, LIMIT)[0] == DISK_POLL_S


def test_a_fast_writer_near_its_limit_is_asked_about_sooner():
    # 400 MiB/s, 112 MiB left: it gets there in 0.28 s, so the next question comes in 0.14 s.
    wait, known = _next_question((0, 1.0, 0.0), 100 * MIB, 1.25, 212 * MIB)
    assert (round(wait, 3), known) == (0.14, (100 * MIB, 1.25, 400 * MIB))
    # 4 GiB/s, 12 MiB left: as soon as the floor allows.
    assert _next_question((0, 1.0, 0.0), 500 * MIB, 1.125, LIMIT)[0] == DISK_POLL_MIN_S


def test_the_fastest_rate_seen_counts_after_the_writer_slows_down():
    # A burst of 2 GiB/s, then 40 MiB/s: the burst can come back, so the wait is sized by it.
    _, burst = _next_question((0, 1.0, 0.0), 500 * MIB, 1.25, 1024 * MIB)
    wait, slow = _next_question(burst, 510 * MIB, 1.5, 1024 * MIB)
    assert slow[2] == burst[2] == 2000 * MIB
    assert round(wait, 4) == 0.1285  # (1024 - 510) MiB at 2000 MiB/s, halved; at 40 MiB/s: 0.25
