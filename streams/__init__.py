"""Streams: the worker that links agency events to one case and merges them into the full-chain case record."""
