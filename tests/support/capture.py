"""The capture harness: connectors wired as `casehub connect` wires them (casehub.connectors.wiring), on the
session's broker and registry with a test's own topics, over SQLite, PostgreSQL or MariaDB."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from casehub.connectors.adapters.mediation import metadata, tj_ajxx
from casehub.connectors.mapping import builtin_mappings
from casehub.connectors.polling import PollingConnector
from casehub.connectors.sample import mediation_rows
from casehub.connectors.wiring import build_connector
from casehub.ground.kafka import clients
from casehub.ground.publish import KafkaPublisher
from tests.support.databases import needs_mariadb, needs_postgres
from tests.support.kafka import read_topic

T0 = dt.datetime(2026, 5, 1, 9, 0, 0)


def row(ajid: int, when: dt.datetime, **changes) -> dict:
    """A tj_ajxx row of the mediation sample layout, with the given key, update time and changes."""
    base = mediation_rows(1, seed=ajid)[0]
    # same keys in every row: executemany takes the first row's columns
    base.update(
        ajid=ajid, ajbh=f"沈和调〔2026〕{ajid:04d}号", zt="10", gxsj=when.strftime("%Y-%m-%d %H:%M:%S"), bz=None
    )
    base.update(changes)
    return base


def insert(engine, *rows):
    with engine.begin() as conn:
        conn.execute(tj_ajxx.insert(), list(rows))


class Harness:
    """Connectors for one test: each `connector()` is a fresh process's view (it reloads state from Kafka)."""

    def __init__(self, engine: sa.Engine, settings, lag_seconds: float = 300.0, batch_size: int = 1000):
        self.engine, self.settings = engine, settings
        self.bootstrap, self.prefix = settings.kafka_bootstrap, settings.topic_prefix
        from casehub.schemas.codec import codec_for

        self.codec = codec_for(settings)
        self.lag_seconds, self.batch_size = lag_seconds, batch_size
        self.topic = settings.topics.mediation
        self.cleanup: list = []
        self._producers: list = []
        self._connectors: list[PollingConnector] = []

    async def connector(
        self, mapping=None, *, workers: int = 0, workers_read: bool = True, url: str | None = None
    ) -> PollingConnector:
        """A started connector for `mapping` (default: the built-in mediation mapping)."""
        producer = clients(self.bootstrap).producer()
        await producer.start()
        self._producers.append(producer)
        settings = dataclasses.replace(
            self.settings, connector_batch_size=self.batch_size, connector_lag_seconds=self.lag_seconds
        )
        c = build_connector(
            settings,
            mapping or builtin_mappings()["mediation"],
            url or self.engine.url.render_as_string(hide_password=False),
            self.codec,
            KafkaPublisher(producer),
            engine=self.engine,
            workers=workers,
            workers_read=workers_read,
        )
        self._connectors.append(c)
        await c.start()
        return c

    async def close(self):
        """Stop what the harness started (safe to call twice)."""
        for c in self._connectors:
            c.close()
        for p in self._producers:
            await p.stop()
        self._connectors, self._producers = [], []
        for fn in self.cleanup:
            fn()
        self.cleanup = []

    async def events(self, topic: str | None = None) -> list[dict]:
        try:
            messages = await read_topic(self.bootstrap, topic or self.topic)
        except AssertionError:
            return []
        return [self.codec.decode(m.value) for m in messages]


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=needs_postgres), pytest.param("mariadb", marks=needs_mariadb)]
)
def source(request, tmp_path):
    """An empty mediation table (tj_ajxx) on SQLite, PostgreSQL and MariaDB in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'mediation.db'}"
    elif request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = request.getfixturevalue("mariadb_url")
    engine = sa.create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
async def harness(source, hub_settings):
    h = Harness(source, hub_settings)
    yield h
    await h.close()


@pytest.fixture
async def make_harness(hub_settings):
    """Harness(engine, lag_seconds=..., batch_size=...) on this test's settings; closed at the end of the test."""
    made = []

    def make(engine, **options) -> Harness:
        made.append(Harness(engine, hub_settings, **options))
        return made[-1]

    yield make
    for h in made:
        await h.close()
