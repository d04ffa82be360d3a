"""The mapping pool's warm-up waits for a slow worker up to a time limit, and says how many answered when one
never does (item 13 of issue 10: `--workers 2` failed with "only 1 of 2 mapping workers answered")."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from casehub.connectors.base import Destinations
from casehub.connectors.mapping import builtin_mappings
from casehub.connectors.parallel import MappingPool
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry


class SlowStartPool(MappingPool):
    """A pool whose first worker takes `delay` seconds to start."""

    def __init__(self, marker, delay: float):
        self.marker, self.delay = str(marker), delay
        codec = AvroCodec(MemoryRegistry())
        to = Destinations("casehub.mediation.events", "casehub.deadletter", "casehub.identities.restricted")
        super().__init__(2, str(builtin_mappings()["mediation"].path), "k", codec, to)

    def _start(self) -> ProcessPoolExecutor:
        from tests.support.slowstart import slow_first_init

        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=slow_first_init,
            initargs=(self.marker, self.delay, *self._initargs),
        )


def test_warm_waits_for_a_worker_slower_than_a_burst_of_checks(tmp_path):
    pool = SlowStartPool(tmp_path / "first", delay=2.0)
    try:
        pool.warm(timeout=60)
        assert len(pool.pids()) == 2
    finally:
        pool.close()


def test_warm_names_how_many_answered_when_one_never_does(tmp_path):
    pool = SlowStartPool(tmp_path / "first", delay=8.0)
    try:
        with pytest.raises(RuntimeError, match="only 1 of 2 mapping workers answered within 2 s"):
            pool.warm(timeout=2)
    finally:
        pool.close()
