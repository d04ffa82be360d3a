"""Schema migrations of the case view (Alembic, scripts in sinks/migrations/versions): `upgrade` brings any
database to the newest revision; a live database is never changed with `create_all`."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

SCRIPTS = Path(__file__).resolve().parent / "migrations"
LEGACY = {"cases", "case_events", "case_refs"}  # the view before migrations (create_all), rebuilt from the topics


class LegacyViewError(RuntimeError):
    """The database holds a case view created before migrations existed."""


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(config()).get_current_head()


def current(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the case view to `revision`.

    Raises:
        LegacyViewError: tables of the pre-migration view exist without a revision (drop them, or point
            CASEHUB_CASE_VIEW_URL at a new database, and run `casehub rebuild-view`).
    """
    with engine.begin() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        if current(conn) is None and tables & LEGACY:
            raise LegacyViewError(
                f"{engine.url.render_as_string(hide_password=True)} holds a case view from before migrations "
                f"(tables {', '.join(sorted(tables & LEGACY))}, no alembic_version): use a new database (or drop "
                "those tables) and run `casehub rebuild-view`"
            )
        cfg = config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
