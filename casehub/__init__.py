"""casehub: an event-driven integration hub for labour and personnel dispute handling.

One import namespace, in layers (each imports only the layers below it; docs/ARCHITECTURE.md):

    casehub.run                                      command line, supervision, benchmarks, local broker
    casehub.connectors | casehub.streams | casehub.sinks   the I/O shells (never import each other)
    casehub.domain                                   pure rules
    casehub.schemas                                  the Avro contract, codec and registry
    casehub.ground                                   settings, logging, topics, Kafka clients, dead letters

connectors/, streams/, sinks/ and schemas/ sit at the top of the repository (as the design card asks)
and are linked into this package, so they install as casehub.connectors and so on.
"""

__version__ = "0.1.0"
