"""The contract: the Avro schemas (avro/*.avsc, released/), the Confluent-framed codec, and the schema registry (client,
in-memory doubles, and the hub's own Confluent-compatible server)."""
