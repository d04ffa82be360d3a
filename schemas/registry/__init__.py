"""The schema registry: a Confluent-compatible REST server backed by a compacted Kafka topic, and its client."""
