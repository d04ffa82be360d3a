"""The domain layer: pure rules over plain data (identifiers, case references, the case record). No Kafka, SQL or
HTTP; time comes from an injected clock."""
