"""Structured logging (structlog): JSON lines on stderr, with the component, topic and event id where they apply."""

from __future__ import annotations

import logging
import sys

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
    structlog.contextvars.bind_contextvars(component=component)
    return structlog.get_logger(component)


_NOISE = ("GroupCoordinatorNotAvailable", "Marking the coordinator dead", "NotCoordinatorForGroup")


def _drop_startup_noise(record: logging.LogRecord) -> bool:
    if record.name.startswith("aiokafka"):
        message = record.getMessage()
        return not any(n in message for n in _NOISE)
    return True


def get_logger(name: str | None = None):
    return structlog.get_logger(name)
