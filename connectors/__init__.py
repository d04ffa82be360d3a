"""Connectors: read agency databases (and pushed or uploaded files) and publish canonical events to Kafka."""
