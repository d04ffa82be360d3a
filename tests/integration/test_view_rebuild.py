"""`casehub rebuild-view` against the real broker: the case topic still holds every version of a case (it is
compacted only now and then), and the confirmation log holds what the relay did after the last of them. A rebuild
that replays the versions one by one would judge each agreement again on its way through history (eligible, at a
court, eligible again) and move requests the relay already settled; what it must give is the live view's content."""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa

from casehub.ground.kafka import clients_for, ensure_topics
from casehub.ground.publish import KafkaPublisher
from casehub.sinks.case_view import create_engine, upsert_cases, write_roster
from casehub.sinks.rebuild import content_of, rebuild_view
from casehub.sinks.view_tables import alerts, confirmation_requests
from tests.support.court import Court, again, at_court, cases, make_relay
from tests.support.view import ROSTER


def _reference_files(settings, court: Court):
    """The roster and court directory files the rebuild reads: the same as the live relay's `court.ref`."""
    folder = settings.home / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    org = ROSTER.organisations[0]
    (folder / "roster.toml").write_text(
        f'[[organisation]]\ncode = "{org.code}"\nname = "{org.name}"\nkind = "{org.kind}"\n'
        f'division_code = "{org.division_code}"\nlawfully_established = true\n',
        encoding="utf-8",
    )
    (folder / "courts.toml").write_text(
        f'[[court]]\ncode = "辽0102"\nname = "和平法院"\nlevel = "BASIC"\ndivisions = ["210102"]\n'
        f'delivery = "http"\nendpoint = "{court.url}"\n',
        encoding="utf-8",
    )
    return dataclasses.replace(
        settings, roster_file=folder / "roster.toml", court_directory_file=folder / "courts.toml"
    )


async def test_a_rebuild_that_reads_every_version_of_each_case_gives_the_live_view(hub_settings, codec, tmp_path):
    async with Court(fail_share=0) as court:
        settings = _reference_files(hub_settings, court)
        t = settings.topics
        await ensure_topics(clients_for(settings), t.specs(1))
        producer = clients_for(settings).producer()
        await producer.start()
        live = create_engine(f"sqlite:///{tmp_path / 'live.db'}")
        with live.begin() as conn:
            write_roster(conn, court.ref.roster)  # as the sink does at start
        relay = make_relay(live, codec, t, KafkaPublisher(producer), court.ref)

        async def publish(*records):
            """Each version on the case topic, and into the live view as the sink writes it: one batch each."""
            for record in records:
                value = codec.encode(t.cases, record)
                await producer.send_and_wait(t.cases, key=record["case_id"].encode(), value=value)
                with live.begin() as conn:
                    upsert_cases(conn, [codec.decode(value)], court.ref)

        withdrawn, delivered, reinstated = cases(3)
        expired = cases(4, effective=dt.date(2026, 10, 1))[3]
        try:
            # eligible, then the court's own 民特 record before the relay's pass: withdrawn, never sent
            await publish(withdrawn, at_court(withdrawn, 8))
            # eligible and delivered; the court's record of it comes later: stays delivered
            await publish(delivered)
            # late: flagged EXPIRED with a DEADLINE_MISSED alert; the court's record later: withdrawn, alert gone
            await publish(expired)
            # withdrawn, then split out again by an operator: reinstated and delivered once
            await publish(reinstated, at_court(reinstated, 8))
            assert await relay.run_once() == {"WITHDRAWN": 2, "DELIVERED": 1, "EXPIRED": 1}
            await publish(at_court(delivered, 8), at_court(expired, 8), again(reinstated, 9))
            assert await relay.run_once() == {"WITHDRAWN": 1, "DELIVERED": 1}
            assert await relay.run_once() == {}
        finally:
            await relay.close()
            await producer.stop()
        seen = await court.stats()
        assert seen["received"] == 2 and seen["agreements_received_twice"] == []
        with live.connect() as conn:
            states = dict(conn.execute(sa.select(confirmation_requests.c.case_id, confirmation_requests.c.state)).all())
            assert conn.execute(sa.select(alerts)).all() == []
        assert states == {"CH0000": "WITHDRAWN", "CH0001": "DELIVERED", "CH0002": "DELIVERED", "CH0003": "WITHDRAWN"}

        for batch in (1, 500):  # each version its own batch, or all of them in one
            url = f"sqlite:///{tmp_path / f'rebuilt-{batch}.db'}"
            await rebuild_view(settings, codec, url=url, show_progress=False, batch=batch)
            rebuilt = create_engine(url)
            assert content_of(rebuilt) == content_of(live), f"batch {batch}"
            rebuilt.dispose()
        live.dispose()
