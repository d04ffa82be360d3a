"""A mapping-worker initializer that makes the first worker slow to start (tests of MappingPool.warm)."""

from __future__ import annotations

import os
import time


def slow_first_init(marker: str, delay: float, *initargs) -> None:
    """The first process to start sleeps `delay` seconds before loading, as a worker still importing would."""
    from casehub.connectors.parallel import _init

    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        time.sleep(delay)
    except FileExistsError:
        pass
    _init(*initargs)
