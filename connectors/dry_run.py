"""`casehub connect --dry-run`: map the first rows of each source and show every event and every error; publish
nothing."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sys

import sqlalchemy as sa

from casehub.connectors.adapter import MappedAdapter
from casehub.connectors.reads import as_dicts
from casehub.connectors.rows import map_rows
from casehub.connectors.runner import resolve
from casehub.domain.identities import Protector
from casehub.ground.settings import Settings


def dry_run(settings: Settings, names: list[str] | None, limit: int) -> list[dict]:
    """Map the first `limit` rows of each source without publishing; one report line per row."""
    # a dry run publishes nothing: without CASEHUB_HMAC_SECRET its hashes use a throwaway key (shown, never kept)
    protector = Protector(settings.hmac_secret or secrets.token_urlsafe(32))
    report = []
    for source in resolve(settings, names):
        engine = sa.create_engine(source.url)
        adapter = MappedAdapter(source.mapping, protector).bind(engine)
        if adapter.index_advice():
            print(f"warning: {adapter.index_advice()}", file=sys.stderr)
        with engine.connect() as conn:
            rows = as_dicts(
                conn.execute(
                    sa.select(adapter.table)
                    .order_by(adapter.table.c[adapter.cursor], *adapter.key_order())
                    .limit(limit)
                )
            )
            adapter.attach_related(conn, rows)
        for row, outcome in zip(rows, map_rows(adapter, rows, dt.datetime.now(dt.UTC))):
            line = {"connector": source.mapping.name, "record_id": outcome.record_id, "version": outcome.version}
            if outcome.error:
                line.update(
                    ok=False,
                    field=outcome.error.field,
                    kind=outcome.error.kind,
                    reason=outcome.error.reason,
                    row=adapter.describe(row),
                )
            else:
                line.update(ok=True, event=outcome.mapped.event, identities=len(outcome.mapped.identities))
            report.append(line)
        engine.dispose()
    return report


def render_dry_run(report: list[dict]) -> str:
    lines = []
    for line in report:
        head = f"{line['connector']} record {line['record_id']} (version {line['version']})"
        if line["ok"]:
            event = line["event"]
            lines.append(
                f"OK    {head} -> {event['event_type']} refs={[r['number'] for r in event['refs']]} "
                f"parties={len(event['parties'])} "
                f"claims={len(event['claims'])} identities to restricted topic={line['identities']}"
            )
        else:
            lines.append(
                f"ERROR {head}: field {line['field']}: {line['reason']} [{line['kind']}]\n      row: {line['row']}"
            )
    bad = sum(1 for line in report if not line["ok"])
    lines.append(f"{len(report)} rows mapped: {len(report) - bad} ok, {bad} would go to the dead-letter topic")
    return "\n".join(lines)


def dry_run_json(report: list[dict]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2, default=str)
