"""Sinks: the SQL case view, its web page and JSON API, and (later) court delivery and downstream topics."""
