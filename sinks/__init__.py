"""Sinks: the SQL case view (store, migrations, rebuild), its web page and JSON API, the courts' callback, and the
judicial-confirmation relay."""

import logging

# Alembic logs its plugin set-up (at import) and every migration step at info: noise in each component's log
logging.getLogger("alembic").setLevel(logging.WARNING)
