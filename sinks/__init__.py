"""Sinks: the SQL case view, its web page and JSON API, and (later) court delivery and downstream topics."""

import logging

# Alembic logs its plugin set-up (at import) and every migration step at info: noise in each component's log
logging.getLogger("alembic").setLevel(logging.WARNING)
