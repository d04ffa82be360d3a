"""Streams: link agency events to one case and merge them into the full-chain case record (faust-streaming)."""
