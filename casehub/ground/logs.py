"""Structured logging (structlog): JSON lines on stderr, with the component, topic and event id where they apply."""

from __future__ import annotations

import logging
import sys
import time

import structlog


def configure_logging(component: str, level: str = "info", fmt: str = "json") -> structlog.stdlib.BoundLogger:
    """Configure structlog and the standard library once for this process and return its root logger.

    Libraries that log through `logging` (aiokafka, faust, aiohttp) end up in the same stream and format.
    """
    numeric = getattr(logging, level.upper(), logging.INFO)
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json" else structlog.dev.ConsoleRenderer()
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # aiokafka is chatty at INFO about coordinator changes that are normal during start-up, and logs
    # the coordinator not being ready yet (a fresh broker creating __consumer_offsets) as an error.
    logging.getLogger("aiokafka").setLevel(max(numeric, logging.WARNING))
    handler.addFilter(_drop_startup_noise)
    handler.addFilter(RepeatLimiter())
    structlog.contextvars.bind_contextvars(component=component)
    return structlog.get_logger(component)


_NOISE = ("GroupCoordinatorNotAvailable", "Marking the coordinator dead", "NotCoordinatorForGroup")


def _drop_startup_noise(record: logging.LogRecord) -> bool:
    if record.name.startswith("aiokafka"):
        message = record.getMessage()
        return not any(n in message for n in _NOISE)
    return True


class RepeatLimiter(logging.Filter):
    """Lets a repeated warning or error through once per back-off step (1, 2, 4, ... up to `longest` seconds)
    with how many were held back, instead of once per attempt.

    A failing dependency makes clients log every retry (aiokafka: each reconnect, each metadata request),
    thousands of lines a second through an outage. Records are the same when their logger and message
    template are; the steps start again after a quiet minute. INFO and DEBUG records, and the hub's own
    structlog lines, pass untouched.
    """

    def __init__(self, longest: float = 60.0, clock=time.monotonic):
        super().__init__()
        self.longest, self.clock = longest, clock
        self._seen: dict[tuple, list] = {}  # (logger, template) -> [next allowed, step, held back, last seen]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not isinstance(record.msg, str):
            return True  # structlog's own lines carry an event dict: the hub limits those where it logs them
        key, now = (record.name, record.msg), self.clock()
        seen = self._seen.get(key)
        if seen is None or now - seen[3] > self.longest:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = [now + 1.0, 1.0, 0, now]
            return True
        seen[3] = now
        if now < seen[0]:
            seen[2] += 1
            return False
        if seen[2]:
            record.repeated = seen[2]  # shown as a field of the JSON line (and in caplog's record)
            record.msg = f"{record.msg} (and {seen[2]} more like it in the last {seen[1]:.0f} s)"
        seen[1] = min(seen[1] * 2, self.longest)
        seen[0], seen[2] = now + seen[1], 0
        return True


def get_logger(name: str | None = None):
    return structlog.get_logger(name)
