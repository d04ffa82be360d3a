"""Watching a source database from the connector's side: a SQLite file replaced or removed under it, and reads
that wait (on a lock, a slow server) longer than a few seconds. Both used to pass without a word."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import sqlalchemy as sa


class SourceFileMissing(OSError):
    """The SQLite file of a source is gone; the connector waits for it rather than let SQLite create an empty one."""


class SqliteFile:
    """The identity (device, inode) of a SQLite source file, to notice a file replaced or removed.

    After `rm mediation.db` and a restore from backup, pooled connections kept reading the deleted file:
    later changes appeared only after a restart, and no line was logged.
    """

    def __init__(self, engine: sa.Engine):
        self.path = Path(engine.url.database)
        self.identity = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def check(self) -> str | None:
        """None if the file is the one first seen; "replaced" (and it is taken as the one from now on).

        Raises:
            SourceFileMissing: no file at the path (a connection now would create an empty database).
        """
        now = self._identity()
        if now is None:
            raise SourceFileMissing(f"the SQLite database file {self.path} is missing")
        if now != self.identity:
            self.identity = now
            return "replaced"
        return None

    @classmethod
    def of(cls, engine: sa.Engine) -> SqliteFile | None:
        """A watch for a file-based SQLite engine, else None."""
        if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
            return None
        if str(engine.url.database).startswith("file:"):
            return None  # a URI filename: not a plain path to stat
        return cls(engine)


async def watched(log, what: str, awaitable, first: float = 5.0, longest: float = 300.0):
    """Await `awaitable`, logging when it has waited `first` seconds and again after twice as long each time, and
    how long it took once it is done after such a line (a lock held on the source, a server that does not answer).
    """
    task = asyncio.ensure_future(awaitable)
    started, timeout, logged = time.monotonic(), first, False
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if done:
                break
            logged = True
            log.warning(f"still waiting for {what}", waited_seconds=round(time.monotonic() - started, 1))
            timeout = min(timeout * 2, longest)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if logged:
        log.warning(f"{what} answered after a long wait", waited_seconds=round(time.monotonic() - started, 1))
    return task.result()
