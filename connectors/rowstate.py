"""What a connector has already published: row id -> row version, kept in a compacted Kafka topic.

It lets a connector re-read a window of rows without publishing them twice, notice rows that changed
or appeared behind its cursor (late commits), and notice rows that disappeared (deletes).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _quote  # the C function json.dumps uses with ensure_ascii=False

from casehub.ground.kafka import KafkaClients, clients, ensure_topics, read_to_end
from casehub.ground.publish import Publisher
from casehub.ground.topics import state_topic

SEP = "\x1f"


class RowState:
    """Published row versions of one connector, persisted per row in a compacted topic (tombstone on delete).

    An entry is JSON `{"v": version, "d": digest, "refs": [...], "published": bool, "dead": bool}`; `d`, the
    digest of the row's content, tells a change that kept the cursor value (second- or day-precision update
    times) from a re-read; entries written before digests lack it and get it when the row is next read. In memory the
    versions are kept apart from the entries, which stay serialised until a delete or a dead letter
    needs their refs: a connector with millions of rows holds one string and one bytes object per row,
    and worker processes can hand over entries they serialised themselves.
    """

    def __init__(self, kafka: KafkaClients | str, topic: str, connector: str, replication: int = 1):
        self.kafka, self.topic, self.connector, self.replication = clients(kafka), topic, connector, replication
        self.versions: dict[str, str] = {}  # record id -> last published (or dead-lettered) version
        self.digests: dict[str, str] = {}  # record id -> digest of that version's content (if recorded)
        self._entries: dict[str, bytes] = {}  # record id -> its entry as stored
        self._publisher: Publisher | None = None

    async def start(self, publisher: Publisher) -> None:
        """Load this connector's entries from the topic (replacing whatever was in memory)."""
        await ensure_topics(self.kafka, [state_topic(self.topic)], self.replication)
        self._publisher = publisher
        self.versions, self.digests, self._entries = {}, {}, {}
        mine = self.connector + SEP
        async for msg in read_to_end(self.kafka, self.topic, [0]):
            key = msg.key.decode()
            if not key.startswith(mine):
                continue
            record_id = key[len(mine) :]
            if msg.value is None:
                self.versions.pop(record_id, None)
                self.digests.pop(record_id, None)
                self._entries.pop(record_id, None)
            else:
                entry = json.loads(msg.value)
                self.versions[record_id] = entry["v"]
                if entry.get("d"):
                    self.digests[record_id] = entry["d"]
                else:
                    self.digests.pop(record_id, None)
                self._entries[record_id] = msg.value

    def is_new(self, record_id: str, version: str) -> bool:
        return self.versions.get(record_id) != version

    def entry(self, record_id: str) -> dict:
        """The stored entry of a row ({} if none)."""
        raw = self._entries.get(record_id)
        return json.loads(raw) if raw else {}

    async def record(self, entries: dict[str, tuple | None]) -> None:
        """Persist (version, serialised entry[, digest]) per record id (None: deleted) and wait until Kafka has them.

        Without a digest the one in memory is kept (an entry changed in another respect, e.g. `gone_at`).
        """
        assert self._publisher is not None, "row state not started"
        out, prefix = self._publisher.batch(), self.connector + SEP
        for record_id, entry in entries.items():
            key, value = (prefix + record_id).encode(), None if entry is None else entry[1]
            if not out.add_nowait(self.topic, key, value):
                await out.add(self.topic, key, value)
        await out.flush()
        for record_id, entry in entries.items():
            if entry is None:
                self.versions.pop(record_id, None)
                self.digests.pop(record_id, None)
                self._entries.pop(record_id, None)
            else:
                self.versions[record_id], self._entries[record_id] = entry[0], entry[1]
                if len(entry) > 2 and entry[2]:
                    self.digests[record_id] = entry[2]


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # json.dumps builds a new encoder per call for non-default options


def encode_entry(entry: dict) -> bytes:
    """A row-state entry as stored in the state topic."""
    return _ENCODER.encode(entry).encode()


def published_entry(version: str, refs: list[dict], digest: str | None = None) -> bytes:
    """`encode_entry({"v": version, "d": digest, "refs": refs, "published": True})` ("d" only with a digest), the
    same bytes at half the cost.

    Every published row gets one of these, so it is built directly; refs holding anything but text
    and nulls take the general encoder.
    """
    parts = []
    for ref in refs:
        items = []
        for key, value in ref.items():
            if type(value) is str and type(key) is str:
                items.append(f"{_quote(key)}: {_quote(value)}")
            elif value is None and type(key) is str:
                items.append(f"{_quote(key)}: null")
            else:
                return encode_entry(_published(version, refs, digest))
        parts.append("{" + ", ".join(items) + "}")
    if type(version) is not str:
        return encode_entry(_published(version, refs, digest))
    d = f', "d": {_quote(digest)}' if digest else ""
    return f'{{"v": {_quote(version)}{d}, "refs": [{", ".join(parts)}], "published": true}}'.encode()


def _published(version, refs: list[dict], digest: str | None) -> dict:
    entry = {"v": version, "d": digest} if digest else {"v": version}
    entry.update(refs=refs, published=True)
    return entry
