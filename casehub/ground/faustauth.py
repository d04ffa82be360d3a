"""faust's broker credentials for the hub's Kafka security settings (its own module: only the worker imports faust)."""

from __future__ import annotations

import faust

from casehub.ground.kafka import ssl_context


def faust_credentials(settings):
    """faust's `broker_credentials` for CASEHUB_KAFKA_SECURITY_PROTOCOL and the rest (None: plaintext), the same
    connection every other client of the hub makes (casehub.ground.kafka.security_options)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    # faust picks SASL_SSL when given a context, SASL_PLAINTEXT without
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,
    )
