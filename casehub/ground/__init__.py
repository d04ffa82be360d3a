"""The ground layer: settings, logging, topic names and specs, Kafka clients and admin, publishing, the dead-letter
envelope.

Every other layer may import it; it imports no other part of casehub.
"""
