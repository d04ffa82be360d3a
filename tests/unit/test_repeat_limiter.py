"""A failing dependency is logged once per back-off step with a count, not once per attempt (item 10 of issue 10:
intake.log grew by 10,000 lines a second through a broker outage)."""

from __future__ import annotations

import logging

from casehub.ground.logs import RepeatLimiter


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(msg: str = "Unable connect to node with id %s: %s", level=logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("aiokafka", level, "client.py", 435, msg, (1, "refused"), None)


def test_ten_thousand_attempts_a_second_become_a_line_per_step():
    clock = Clock()
    limiter = RepeatLimiter(clock=clock)
    passed = []
    for i in range(100_000):  # ten seconds at 10,000 attempts a second
        clock.now = i / 10_000
        r = record()
        if limiter.filter(r):
            passed.append(r)
    assert len(passed) <= 5  # at 0, 1, 3, 7 s: steps of 1, 2, 4 s
    assert passed[0].getMessage() == "Unable connect to node with id 1: refused"
    assert passed[1].repeated > 1000 and "more like it" in passed[1].getMessage()


def test_other_messages_and_info_lines_are_not_held_back():
    clock = Clock()
    limiter = RepeatLimiter(clock=clock)
    assert limiter.filter(record())
    assert limiter.filter(record("Unable to update metadata from %s: %s"))
    assert all(limiter.filter(record("Metadata updated %s %s", logging.INFO)) for _ in range(100))


def test_the_steps_start_again_after_a_quiet_minute():
    clock = Clock()
    limiter = RepeatLimiter(clock=clock)
    assert limiter.filter(record())
    assert not limiter.filter(record())
    clock.now = 120.0
    assert limiter.filter(record())
